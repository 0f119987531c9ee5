"""Files that hold secrets: owner-only permissions, and never tracked by git.

A secret file is a ``.env`` (not an example or template), a private key or
keystore (``*.pem`` with a private key block, ``*.key``, ``*.p12``, ...), a
file under ``secrets/``, or a file a compose service takes as a secret. Git
keeps no 0600 modes, so the mode rule is judged on the copies on disk that git
does not track; a tracked one fails "not tracked" whatever its mode.
"""

from __future__ import annotations

import re
import stat

from readiness.model import Artifact, Check, Status, Strength, Subject, VcsState
from readiness.probe import Claim, Probe, ProbeContext

SECRET_GLOBS = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "secrets/**",
    # Examples and templates document the shape, not the values.
    "!*.example",
    "!*.sample",
    "!*.template",
    "!*.dist",
    "!.env.example*",
    "!.env.sample*",
    "!.env.template*",
    "!secrets/**/README*",
    "!secrets/**/.gitkeep",
    "!secrets/**/.gitignore",
)
CERTIFICATE_SUFFIXES = (".pem", ".crt")
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")

OWNER_ONLY = Check(
    id="secret_files.owner_only",
    title="Secret files on disk are readable by their owner only (mode 0600 or stricter)",
    rationale="A secret file readable by the group or by everyone leaks to every local user "
    "and process on the host, including compromised ones.",
    remediation="chmod 600 the file (and keep its directory 0700); make the script that "
    "generates secrets create them with umask 077.",
)
NOT_TRACKED = Check(
    id="secret_files.not_tracked",
    title="No secret file is tracked by git, and .gitignore keeps them out",
    rationale="A committed secret is exposed to everyone with read access to the repository "
    "and stays in its history after deletion.",
    remediation="git rm --cached the file, add it to .gitignore, rotate the secret it held "
    "(it is in history), and ship an example file with placeholders instead.",
)


def _mode(artifact: Artifact) -> str:
    return f"{artifact.mode:04o}"


class SecretFilesProbe(Probe):
    name = "secret_files"
    version = "0.1.0"
    description = "Permissions and git status of files that hold secrets."
    claims = (Claim(SECRET_GLOBS, include_ignored=True),)
    checks = (OWNER_ONLY, NOT_TRACKED)

    def run(self, ctx: ProbeContext):
        candidates = {a.path: a for a in ctx.artifacts}
        declared_missing: dict[str, Subject] = {}
        for mount in ctx.inventory.mounts:
            if mount.kind != "secret":
                continue
            art = ctx.artifact(mount.source)
            if art is None:
                declared_missing.setdefault(mount.source, mount.declared_in)
            elif art.skipped is None:
                candidates.setdefault(art.path, art)

        for path in sorted(candidates):
            art = candidates[path]
            with ctx.guard(art):
                yield from self._judge(ctx, art)

        for path, declared in sorted(declared_missing.items()):
            subject = Subject(path=path, name=declared.name)
            msg = f"declared as a compose secret at {declared.describe()} but not present in this checkout"
            yield ctx.observe(OWNER_ONLY.id, Status.UNKNOWN, subject, msg + "; its mode cannot be judged")
            yield ctx.observe(NOT_TRACKED.id, Status.PASS, subject, msg + "; so it is not tracked")

    def _judge(self, ctx: ProbeContext, art: Artifact):
        subject = Subject(path=art.path)
        deployed = ctx.inventory.deployed_by(art.path)
        strength = Strength.DEPLOYED if deployed else Strength.DECLARED
        facts = {"mode": _mode(art), "vcs": art.vcs.value}
        if deployed:
            facts["mounted_by"] = sorted({m.service for m in deployed})

        if art.path.endswith(CERTIFICATE_SUFFIXES) and not PRIVATE_KEY.search(ctx.read_bytes(art)):
            msg = "holds no private key block (a public certificate): not a secret file"
            yield ctx.observe(OWNER_ONLY.id, Status.NOT_APPLICABLE, subject, msg, facts=facts)
            yield ctx.observe(NOT_TRACKED.id, Status.NOT_APPLICABLE, subject, msg, facts=facts)
            return

        if art.vcs is VcsState.TRACKED:
            yield ctx.observe(
                NOT_TRACKED.id,
                Status.FAIL,
                subject,
                "tracked by git: the secret is in the repository and its history",
                strength=strength,
                facts=facts,
            )
            yield ctx.observe(
                OWNER_ONLY.id,
                Status.NOT_APPLICABLE,
                subject,
                "tracked by git, so its mode comes from each checkout; see secret_files.not_tracked",
                strength=strength,
                facts=facts,
            )
            return

        if art.vcs is VcsState.IGNORED:
            yield ctx.observe(
                NOT_TRACKED.id, Status.PASS, subject, "not tracked, and ignored by git", strength=strength, facts=facts
            )
        elif art.vcs is VcsState.UNTRACKED:
            yield ctx.observe(
                NOT_TRACKED.id,
                Status.FAIL,
                subject,
                "untracked but not in .gitignore: one `git add .` away from being committed",
                strength=strength,
                facts=facts,
            )
        else:
            yield ctx.observe(
                NOT_TRACKED.id,
                Status.UNKNOWN,
                subject,
                "not in a git repository: cannot tell whether it is committed",
                facts=facts,
            )

        if art.mode & (stat.S_IRWXG | stat.S_IRWXO):
            who = " and ".join(w for w, bits in (("group", stat.S_IRWXG), ("others", stat.S_IRWXO)) if art.mode & bits)
            yield ctx.observe(
                OWNER_ONLY.id,
                Status.FAIL,
                subject,
                f"mode {_mode(art)}: {who} can access it (want 0600 or stricter)",
                strength=strength,
                facts=facts,
            )
        else:
            yield ctx.observe(
                OWNER_ONLY.id, Status.PASS, subject, f"mode {_mode(art)}: owner only", strength=strength, facts=facts
            )
