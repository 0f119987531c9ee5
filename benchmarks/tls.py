"""Benchmark: the TLS probe against sslyze (40 endpoints) and testssl.sh (one endpoint), on loopback nginx.

    .venv/bin/python benchmarks/tls.py [--endpoints 40] [--sslyze PYTHON] [--testssl PATH]

Starts Debian's nginx with the test configurations of tests/tls_servers.py
(strong, legacy TLS 1.0/1.1, expired, self-signed, mismatch, missing
intermediate, HSTS on some paths), repeated up to ``--endpoints`` targets, and
runs each tool once in its own process:

- ours, protocols and suites only (the like-for-like row with sslyze's cipher
  suite scan commands), and ours with full verdicts (certificate, HSTS,
  redirect, OCSP with its default three tries a second apart, grade, profile);
- sslyze's Python API from its own virtualenv (created under bench-out/ with
  pip on first use, or given with --sslyze), SSLv2 to TLS 1.3 suite scans;
- testssl.sh (Debian package ``testssl.sh``) on one endpoint, against one full
  verdict of ours.

It prints wall time, peak resident memory (ru_maxrss of the tool's process via
wait4) and the ratios, then compares the protocol and suite sets of every
distinct endpoint and exits 1 when ours and sslyze's differ.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-out"
sys.path.insert(0, str(REPO / "tests"))

OURS = """
import datetime as dt, json, sys
from pathlib import Path
from readiness.probes.tls.concurrency import scan_many
from readiness.probes.tls.endpoint import Settings
from readiness.probes.tls.scan import Target
from readiness.probes.tls import judge
spec = json.load(open(sys.argv[1]))
targets = [Target("127.0.0.1", t["port"], t["sni"], t.get("ca_bundle"), t.get("http_port")) for t in spec["targets"]]
settings = Settings(**spec.get("settings", {}))
if spec["mode"] == "suites":
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from readiness.probes.tls.scan import scan_protocols
    from readiness.probes.tls.wire import Deadline
    from readiness.probes.tls.ciphers import describe
    def one(t):
        scan = scan_protocols(t, Deadline(settings.endpoint_timeout), settings.connect_timeout)
        return {p: sorted(describe(c).name for c in v) for p, v in scan.accepted.items()}
    with ThreadPoolExecutor(16) as pool:
        found = list(pool.map(one, targets))
else:
    results = scan_many(targets, settings, Path(spec["root"]), dt.datetime.now(dt.UTC))
    found = [judge.grade_of(r)["grade"] if r.scan and r.cert else r.error for r in results]
json.dump(found, sys.stdout)
"""

SSLYZE = """
import json, sys
from sslyze import Scanner, ServerScanRequest, ServerNetworkLocation, ServerNetworkConfiguration, ScanCommand
spec = json.load(open(sys.argv[1]))
commands = {
    "SSLv2": ScanCommand.SSL_2_0_CIPHER_SUITES, "SSLv3": ScanCommand.SSL_3_0_CIPHER_SUITES,
    "TLSv1.0": ScanCommand.TLS_1_0_CIPHER_SUITES, "TLSv1.1": ScanCommand.TLS_1_1_CIPHER_SUITES,
    "TLSv1.2": ScanCommand.TLS_1_2_CIPHER_SUITES, "TLSv1.3": ScanCommand.TLS_1_3_CIPHER_SUITES,
}
attrs = {"SSLv2": "ssl_2_0_cipher_suites", "SSLv3": "ssl_3_0_cipher_suites", "TLSv1.0": "tls_1_0_cipher_suites",
         "TLSv1.1": "tls_1_1_cipher_suites", "TLSv1.2": "tls_1_2_cipher_suites", "TLSv1.3": "tls_1_3_cipher_suites"}
requests = [
    ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=t["sni"], port=t["port"], ip_address="127.0.0.1"),
        network_configuration=ServerNetworkConfiguration(tls_server_name_indication=t["sni"]),
        scan_commands=set(commands.values()),
    )
    for t in spec["targets"]
]
scanner = Scanner()
scanner.queue_scans(requests)
by_port = {}
for result in scanner.get_results():
    found = {}
    for proto, attr in attrs.items():
        attempt = getattr(result.scan_result, attr, None) if result.scan_result else None
        if attempt is not None and attempt.result is not None and attempt.result.accepted_cipher_suites:
            found[proto] = sorted(s.cipher_suite.name for s in attempt.result.accepted_cipher_suites)
    by_port[result.server_location.port] = found
json.dump([by_port.get(t["port"], {}) for t in spec["targets"]], sys.stdout)
"""


def run(argv: list[str], cwd: Path | None = None, check: bool = True) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in KiB and stdout of one process, measured through wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if check and proc.returncode:
            raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err.read().decode(errors='replace')[-1500:]}")
        return wall, usage.ru_maxrss, out.read().decode()


def arbitrate(target: dict, protocol: str, iana_name: str) -> str:
    """Settle a disagreement with a real handshake offering only that suite through the local OpenSSL."""
    from readiness.probes.tls.ciphers import ALL_SUITES

    code = next((c for c, n in ALL_SUITES.items() if n == iana_name), None)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    openssl_names = {c["id"] & 0xFFFF: c["name"] for c in ctx.get_ciphers()}
    versions = {"TLSv1.0": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1, "TLSv1.2": ssl.TLSVersion.TLSv1_2}
    if code not in openssl_names or protocol not in versions:
        return "untestable (the local OpenSSL lacks the suite or protocol)"
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(openssl_names[code] + ":@SECLEVEL=0")
    ctx.minimum_version = ctx.maximum_version = versions[protocol]
    try:
        with (
            socket.create_connection(("127.0.0.1", target["port"]), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname=target["sni"]) as tls,
        ):
            return "accepted" if tls.cipher()[0] == openssl_names[code] else "refused"
    except (ssl.SSLError, OSError):
        return "refused"


def sslyze_python(given: str | None) -> str | None:
    if given:
        return given
    env = OUT / "sslyze-venv"
    python = env / "bin" / "python"
    if not python.exists():
        venv.create(env, with_pip=True)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", "sslyze"], capture_output=True, text=True)
        if done.returncode:
            print(f"sslyze could not be installed: {done.stderr[-300:]}", file=sys.stderr)
            return None
    return str(python)


def row(name: str, wall: float, rss: int, endpoints: int) -> str:
    return f"{name:<34} {wall:8.2f} s {wall / endpoints * 1000:9.1f} ms/endpoint {rss / 1024:8.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=40)
    parser.add_argument("--sslyze", help="a python with sslyze installed (default: bench-out/sslyze-venv)")
    parser.add_argument("--testssl", default=shutil.which("testssl") or shutil.which("testssl.sh"))
    args = parser.parse_args(argv)

    from tls_servers import Nginx, Pki, standard_sites

    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tls-bench-", dir=OUT))
    pki = Pki.create()
    (work / "root.crt").write_bytes(pki.root.pem())
    nginx = Nginx(work / "nginx", standard_sites(pki))
    (work / "nginx").mkdir()
    nginx.start()
    try:
        sites = list(nginx.sites.values())
        targets = [
            {"port": s.port, "sni": s.name, "ca_bundle": "root.crt", "http_port": s.http_port}
            for s in (sites[i % len(sites)] for i in range(args.endpoints))
        ]
        distinct = targets[: len(sites)]
        results: dict[str, tuple[float, int, str]] = {}

        def spec(name: str, **extra) -> str:
            path = work / f"{name}.json"
            path.write_text(json.dumps({"targets": targets, "root": str(work), **extra}))
            return str(path)

        py = str(REPO / ".venv" / "bin" / "python")
        ours = work / "ours.py"
        ours.write_text(OURS)
        results["ours: protocols + suites"] = run([py, str(ours), spec("suites", mode="suites")])
        results["ours: full verdicts"] = run([py, str(ours), spec("full", mode="full")])
        # every target is on 127.0.0.1, so the default budget of 2 connections per host serialises them
        wide = spec("wide", mode="full", settings={"per_host_connections": 16})
        results["ours: full verdicts, budget 16"] = run([py, str(ours), wide])
        sslyze = sslyze_python(args.sslyze)
        if sslyze:
            script = work / "sslyze_scan.py"
            script.write_text(SSLYZE)
            results["sslyze: protocols + suites"] = run([sslyze, str(script), spec("sslyze")])
        print(f"{args.endpoints} endpoints on 127.0.0.1 ({len(sites)} nginx configurations, repeated)")
        for name, (wall, rss, _) in results.items():
            print(row(name, wall, rss, args.endpoints))
        mismatches = unexplained = 0
        if sslyze:
            ours_wall = results["ours: protocols + suites"][0]
            their_wall = results["sslyze: protocols + suites"][0]
            print(f"ratio sslyze/ours (protocols + suites): {their_wall / ours_wall:.1f}x faster")
            full_ratio = their_wall / results["ours: full verdicts"][0]
            print(f"ratio sslyze suites / ours full verdicts: {full_ratio:.1f}x")
            mine = json.loads(results["ours: protocols + suites"][2])
            theirs = json.loads(results["sslyze: protocols + suites"][2])
            for target, a, b in zip(distinct, mine, theirs, strict=False):
                if a != b:
                    mismatches += 1
                    for proto in sorted(set(a) | set(b)):
                        only_ours = sorted(set(a.get(proto, [])) - set(b.get(proto, [])))
                        only_theirs = sorted(set(b.get(proto, [])) - set(a.get(proto, [])))
                        if only_ours or only_theirs:
                            print(
                                f"DIFFERENT {target['sni']} {proto}: only ours {only_ours}, only sslyze {only_theirs}"
                            )
                            for name in only_ours + only_theirs:
                                verdict = arbitrate(target, proto, name)
                                print(f"    {name}: a real OpenSSL handshake says {verdict}")
                                # a difference only counts against us when OpenSSL sides with sslyze
                                if verdict != ("accepted" if name in only_ours else "refused"):
                                    unexplained += 1
                else:
                    print(f"same      {target['sni']}: {sum(len(v) for v in a.values())} suites over {sorted(a)}")
        if args.testssl:
            one = nginx.sites["strong.test"]
            argv = [args.testssl, "--quiet", "--color", "0", "--warnings", "off", "--ip", "127.0.0.1",
                    "-p", "-E", "-S", "-h", f"strong.test:{one.port}"]  # fmt: skip
            wall, rss, _ = run(argv, check=False)  # testssl.sh exits non-zero on findings
            single = json.dumps({"targets": [targets[0]], "root": str(work), "mode": "full"})
            (work / "one.json").write_text(single)
            mine_wall, mine_rss, _ = run([py, str(ours), str(work / "one.json")])
            print(row("testssl.sh: one endpoint", wall, rss, 1))
            print(row("ours: one endpoint, full verdict", mine_wall, mine_rss, 1))
            print(f"ratio testssl.sh/ours (one endpoint): {wall / mine_wall:.1f}x")
        if mismatches:
            print(f"{mismatches} endpoints differ; {unexplained} differences not settled in our favour by OpenSSL")
        return 1 if unexplained else 0
    finally:
        nginx.stop()
        shutil.rmtree(work, ignore_errors=True)  # holds the test keys; nothing to keep


if __name__ == "__main__":
    sys.exit(main())
