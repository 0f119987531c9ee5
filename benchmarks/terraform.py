"""Benchmark: the Terraform probe against Checkov on a TerraGoat checkout (or any Terraform tree).

    .venv/bin/python benchmarks/terraform.py PATH/TO/terragoat [--subdir terraform/aws] [--checkov EXE]

Clones nothing: give it a checkout of https://github.com/bridgecrewio/terragoat.
Checkov runs from its own virtualenv (created under bench-out/ with pip on first
use, pinned to CHECKOV_VERSION, or given with --checkov). Each tool runs once in
its own process; the script prints, for each mapped pair in MAPPING (our check
<-> Checkov check IDs), the resources both flag, only Checkov flags and only we
flag, the agreement on resources both judged, then wall time and peak memory of
each tool and the ratio. docs/terraform-vs-checkov.md explains the pairs and
every expected disagreement.

Peak memory is the largest resident set of the tool's process tree as the
kernel reports it through wait4 (ru_maxrss), not a sum over processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-out"
CHECKOV_VERSION = "3.3.30"

# Our check <-> the Checkov checks that judge the same fact (from issue 6). Data, not code: edit freely.
MAPPING: dict[str, tuple[str, ...]] = {
    "terraform.encryption_at_rest": (
        "CKV_AWS_19",  # S3 SSE
        "CKV_AWS_145",  # S3 KMS
        "CKV_AWS_16",  # RDS storage encrypted
        "CKV_AWS_96",  # Aurora storage encrypted
        "CKV_AWS_327",  # RDS cluster CMK
        "CKV_AWS_3",  # EBS volume encrypted
        "CKV_AWS_8",  # launch configuration EBS encrypted
        "CKV_AWS_106",  # EBS default encryption
        "CKV_AWS_42",  # EFS encrypted
        "CKV_AWS_29",  # ElastiCache at rest
        "CKV_AWS_5",  # Elasticsearch/OpenSearch at rest
        "CKV_AWS_7",  # KMS key rotation
        "CKV_AWS_58",  # EKS secrets encryption
    ),
    "terraform.encryption_in_transit": (
        "CKV2_AWS_69",  # RDS TLS
        "CKV_AWS_30",  # ElastiCache TLS
        "CKV_AWS_31",  # ElastiCache TLS + auth token
        "CKV_AWS_103",  # LB TLS 1.2
        "CKV_AWS_174",  # CloudFront TLS 1.2
        "CKV_AWS_6",  # Elasticsearch node-to-node
        "CKV_AWS_83",  # Elasticsearch enforce HTTPS
        "CKV_AZURE_44",  # storage account minimum TLS
        "CKV_AZURE_52",  # MSSQL minimum TLS
        "CKV_AZURE_15",  # App Service minimum TLS
        "CKV_AZURE_28",  # MySQL single server SSL enforced
        "CKV_AZURE_29",  # PostgreSQL single server SSL enforced
        "CKV_AZURE_54",  # MySQL single server minimum TLS
        "CKV_AZURE_147",  # PostgreSQL single server minimum TLS
        "CKV_GCP_6",  # Cloud SQL requires SSL
    ),
    "terraform.https_enforced": ("CKV_AWS_2", "CKV2_AWS_20", "CKV_AWS_34", "CKV_AZURE_14"),
    "terraform.db_backups": ("CKV_AWS_133", "CKV2_AWS_8", "CKV_AWS_28"),
    "terraform.db_replication": ("CKV_AWS_157",),
    "terraform.cross_region_backups": ("CKV_AWS_144",),
    "terraform.sg_no_open_admin_ports": ("CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_277", "CKV2_AWS_12"),
    "terraform.network_segmented": ("CKV2_AWS_11",),
    "terraform.waf": ("CKV2_AWS_28", "CKV_AWS_68", "CKV2_AWS_29"),
    "terraform.audit_logging": ("CKV_AWS_251", "CKV_AWS_67", "CKV_AWS_36", "CKV_AWS_35"),
    "terraform.log_retention": ("CKV_AWS_66",),
    "terraform.secret_rotation": ("CKV2_AWS_57",),
    "terraform.iam_least_privilege": ("CKV_AWS_1", "CKV_AWS_62", "CKV_AWS_49", "CKV_AWS_63", "CKV_AWS_355"),
    "terraform.compute_provisioned": ("CKV_AWS_79",),
    "terraform.deletion_protection": ("CKV_AWS_293", "CKV_AWS_139", "CKV_AZURE_110"),
    "terraform.image_scan_on_push": ("CKV_AWS_163",),
}
# Checkov IDs the issue lists that no check of ours judges (the facts are outside the checklist items we decide).
UNMAPPED = {
    "CKV_AWS_21": "S3 versioning: not a checklist item we decide",
    "CKV2_AWS_6": "S3 public access block: no checklist item maps to it yet",
    "CKV_AWS_53": "S3 public access block (ACLs)",
    "CKV_AWS_54": "S3 public access block (policy)",
    "CKV_AWS_55": "S3 public access block (ignore ACLs)",
    "CKV_AWS_56": "S3 public access block (restrict)",
    "CKV_AWS_51": "ECR immutable tags: reported as a fact of image_scan_on_push, not judged",
    "CKV_AWS_39": "EKS public endpoint: not judged yet",
}


def probe_run(root: Path) -> None:
    """Run only the Terraform probe over ``root`` and print its observations as JSON (the timed child)."""
    from readiness.probes.terraform import TerraformProbe

    from readiness.config import Config
    from readiness.discovery import discover
    from readiness.inventory import Inventory
    from readiness.probe import Files
    from readiness.runner import run_probe

    found = discover(root, Config())
    observations, gaps, _run = run_probe(TerraformProbe, found, Files(found.root), Inventory(), Config())
    rows = [
        {"check": o.check, "status": o.status.value, "name": o.subject.name, "path": o.subject.path}
        for o in observations
    ]
    json.dump({"observations": rows, "gaps": [g.to_json() for g in gaps]}, sys.stdout)


CPU: dict[str, list[float]] = {}  # CPU seconds (user + system, with waited-for children) per tool


def measure(args: list[str], output: Path, env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """Run ``args`` with stdout to ``output``; wall seconds, peak RSS in KiB, exit code (CPU into ``CPU``)."""
    start = time.perf_counter()
    with output.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    CPU.setdefault(args[0], []).append(usage.ru_utime + usage.ru_stime)
    return elapsed, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def median_of(runs: list[tuple[float, int, int]]) -> tuple[float, int, int]:
    return sorted(runs)[len(runs) // 2]


def checkov_binary(given: str | None) -> Path:
    if given:
        return Path(given)
    env = OUT / "checkov-venv"
    exe = env / "bin" / "checkov"
    if not exe.exists():
        print(f"installing checkov {CHECKOV_VERSION} into {env} (first run only)", file=sys.stderr)
        venv.create(env, with_pip=True)
        subprocess.run([env / "bin" / "pip", "install", "--quiet", f"checkov=={CHECKOV_VERSION}"], check=True)
    return exe


def _address(name: str | None) -> str:
    """Checkov and we both name resources ``type.name``; count/for_each indexes are dropped."""
    return (name or "").split("[", 1)[0]


def checkov_results(path: Path) -> dict[str, dict[str, set[str]]]:
    """{check id: {"failed": addresses, "passed": addresses}} from Checkov's JSON output."""
    data = json.loads(path.read_text() or "{}")
    reports = data if isinstance(data, list) else [data]
    out: dict[str, dict[str, set[str]]] = {}
    for report in reports:
        results = report.get("results", {})
        for kind in ("failed", "passed"):
            for row in results.get(f"{kind}_checks", []):
                entry = out.setdefault(row["check_id"], {"failed": set(), "passed": set()})
                entry[kind].add(_address(row.get("resource")))
    return out


def our_results(path: Path) -> tuple[dict[str, dict[str, set[str]]], int]:
    data = json.loads(path.read_text())
    out: dict[str, dict[str, set[str]]] = {}
    for row in data["observations"]:
        entry = out.setdefault(row["check"], {"failed": set(), "passed": set(), "unknown": set()})
        kind = {"fail": "failed", "pass": "passed", "unknown": "unknown"}.get(row["status"])
        if kind and row["name"] and not row["name"].startswith("estate"):
            entry[kind].add(_address(row["name"]))
    return out, len(data["gaps"])


def compare(ours: dict, theirs: dict) -> tuple[int, int]:
    """Print one line per mapped pair; return (agreeing, judged by both) over all pairs."""
    agree_total = judged_total = 0
    print(f"{'our check':36} {'checkov':40} {'both':>5} {'only ckv':>8} {'only us':>7} {'agree':>7}")
    for check, ids in MAPPING.items():
        mine = ours.get(check, {"failed": set(), "passed": set(), "unknown": set()})
        c_failed = set().union(*(theirs.get(i, {}).get("failed", set()) for i in ids))
        c_passed = set().union(*(theirs.get(i, {}).get("passed", set()) for i in ids)) - c_failed
        judged_c, judged_o = c_failed | c_passed, mine["failed"] | mine["passed"]
        common = judged_c & judged_o
        agree = sum(1 for r in common if (r in c_failed) == (r in mine["failed"]))
        agree_total += agree
        judged_total += len(common)
        both = c_failed & mine["failed"]
        only_c = (c_failed & judged_o) - mine["failed"]
        only_o = (mine["failed"] & judged_c) - c_failed
        share = f"{100 * agree / len(common):.0f}%" if common else "-"
        print(f"{check:36} {','.join(ids)[:40]:40} {len(both):5} {len(only_c):8} {len(only_o):7} {share:>7}")
        for label, rows in (("only checkov", only_c), ("only us", only_o)):
            for r in sorted(rows):
                print(f"    {label}: {r}")
        unseen = sorted(c_failed - judged_o)
        if unseen:
            print(f"    checkov flags, we do not judge under this check: {', '.join(unseen[:8])}")
    return agree_total, judged_total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a TerraGoat checkout (or any directory of Terraform)")
    parser.add_argument("--subdir", default="terraform/aws", help="folder inside the checkout (default %(default)s)")
    parser.add_argument("--checkov", help="path of a checkov executable (default: its own venv in bench-out/)")
    parser.add_argument("--repeat", type=int, default=1, help="run each tool N times; print the medians")
    parser.add_argument("--probe-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe_only:
        probe_run(args.checkout)
        return 0
    tree = (args.checkout / args.subdir) if (args.checkout / args.subdir).is_dir() else args.checkout
    if not any(tree.rglob("*.tf")):
        print(f"no .tf files under {tree}", file=sys.stderr)
        return 2
    OUT.mkdir(exist_ok=True)
    exe = checkov_binary(args.checkov)
    ours_json, theirs_json = OUT / "terraform-ours.json", OUT / "terraform-checkov.json"
    ours_runs, theirs_runs = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="readiness-tf-cache-") as cache:  # an empty parse cache each run
            env = {**os.environ, "XDG_CACHE_HOME": cache}
            ours_runs.append(measure([sys.executable, __file__, "--probe-only", str(tree)], ours_json, env))
        theirs_runs.append(
            measure(
                [str(exe), "-d", str(tree), "--framework", "terraform", "-o", "json", "--skip-download"],
                theirs_json,
            )
        )
    (our_time, our_rss, our_rc), (ckv_time, ckv_rss, ckv_rc) = median_of(ours_runs), median_of(theirs_runs)
    our_cpu, ckv_cpu = (sorted(c)[len(c) // 2] for c in (CPU[sys.executable], CPU[str(exe)]))
    if our_rc != 0:
        print(f"our probe exited {our_rc}", file=sys.stderr)
        return 1
    ours, gaps = our_results(ours_json)
    agree, judged = compare(ours, checkov_results(theirs_json))
    print()
    print(
        f"agreement on resources both tools judged: {agree}/{judged}"
        + (f" = {100 * agree / judged:.1f}%" if judged else "")
    )
    print(f"coverage gaps we recorded: {gaps} (Checkov records none in its JSON)")
    load = os.getloadavg()[0]
    print(f"median of {args.repeat}; load average {load:.1f}; readiness with an empty parse cache each run")
    print(f"readiness terraform probe: {our_time:6.2f} s  {our_cpu:6.2f} s CPU  {our_rss / 1024:7.1f} MiB")
    print(f"checkov (exit {ckv_rc}):          {ckv_time:6.2f} s  {ckv_cpu:6.2f} s CPU  {ckv_rss / 1024:7.1f} MiB")
    print(
        f"ratio (checkov / ours):     {ckv_time / our_time:6.1f}x time  {ckv_cpu / our_cpu:5.1f}x CPU  "
        f"{ckv_rss / max(our_rss, 1):5.1f}x memory"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
