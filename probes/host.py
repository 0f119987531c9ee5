"""Host hardening kept in the repository: firewall rules and SSH access.

Firewalls: nftables rulesets (``*.nft``, ``nftables.conf``), iptables-save files (``rules.v4``/``rules.v6``,
also what ufw keeps in ``user.rules``), firewalld zone XML, and ufw as provisioning sets it (``ufw`` commands
in scripts and cloud-init, Ansible ``ufw`` tasks). A host firewall passes with a default-deny inbound policy;
it fails when inbound is open by default or when an administrative or database port is accepted from
anywhere. SSH: ``sshd_config`` and its ``sshd_config.d`` drop-ins, judged with OpenSSH's defaults
(password authentication is on unless turned off), plus cloud-init's ``ssh_pwauth``.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from readiness.model import Artifact, Check, Observation, Status, Subject
from readiness.probe import ArtifactUnreadable, Claim, Probe, ProbeContext

FIREWALL_RULES = Check(
    "host.firewall_rules",
    "Host firewall rules (ufw, nftables, iptables) allow only the needed ports",
    "A host that accepts every inbound port exposes whatever a package happens to start.",
    "Default-deny inbound (nftables `policy drop`, `ufw default deny incoming`, `:INPUT DROP`), then allow the "
    "service ports, and administrative ports only from a management network.",
)
SSH_KEY_MANAGEMENT = Check(
    "host.ssh_key_management",
    "SSH access uses managed keys (no passwords, authorized keys managed and rotated)",
    "Passwords are guessed and phished; keys under management can be rotated and revoked.",
    "Set `PasswordAuthentication no`, `KbdInteractiveAuthentication no`, `PermitRootLogin prohibit-password` (or "
    "no), and manage keys centrally (AuthorizedKeysCommand, TrustedUserCAKeys, or a config-managed key list).",
)
CHECKS = (FIREWALL_RULES, SSH_KEY_MANAGEMENT)

SENSITIVE_PORTS = {22: "ssh", 3389: "rdp", 5432: "postgres", 3306: "mysql", 6379: "redis", 27017: "mongodb"}
SENSITIVE_PORTS |= {9200: "elasticsearch", 2375: "docker api", 2376: "docker api", 11211: "memcached"}
ANYWHERE = {"0.0.0.0/0", "::/0", "any", "anywhere", ""}

CLAIMS = (
    Claim(("*.nft", "nftables.conf", "**/nftables.d/*.conf")),
    Claim(("rules.v4", "rules.v6", "*.rules.v4", "iptables*.rules", "**/ufw/user.rules", "**/ufw/user6.rules")),
    Claim(("**/firewalld/zones/*.xml",)),
    Claim(("sshd_config", "**/sshd_config.d/*.conf")),
    Claim(("*.sh", "cloud-init*.yaml", "cloud-init*.yml", "user-data", "user-data.yaml", "*.cloud-config")),
    Claim(("*.yml", "*.yaml"), sniff=re.compile(rb"(?m)^\s*-?\s*(community\.general\.)?ufw:|authorized_key:")),
)


@dataclass
class Firewall:
    """What one ruleset says about inbound traffic."""

    subject: Subject
    kind: str
    default_deny: bool | None  # None: the file does not say
    open_ports: list[tuple[str, str, int]] = field(default_factory=list)  # (port, source, line)

    def exposed(self) -> list[tuple[str, str, int]]:
        out = []
        for port, source, line in self.open_ports:
            numbers = [int(p) for p in re.findall(r"\d+", port)]
            spans = "-" in port or ":" in port[1:]
            ranges = [range(numbers[0], numbers[-1] + 1)] if spans and numbers else [range(n, n + 1) for n in numbers]
            hit = [n for n in SENSITIVE_PORTS if any(n in r for r in ranges)]
            if hit and source.lower() in ANYWHERE:
                out.append((f"{port} ({', '.join(SENSITIVE_PORTS[n] for n in hit)})", source or "anywhere", line))
        return out


def nftables(path: str, text: str) -> Iterator[Firewall]:
    """Input chains of an nftables ruleset: their policy and the ports they accept (and from where)."""
    for m in re.finditer(r"(?ms)chain\s+(\w+)\s*\{(.*?)^\s*\}", text):
        body = m.group(2)
        if not re.search(r"hook\s+input\b", body):
            continue
        line0 = text[: m.start()].count("\n") + 1
        policy = re.search(r"policy\s+(accept|drop|reject)", body)
        fw = Firewall(Subject(path=path, line=line0, name=f"chain {m.group(1)}"), "nftables", None)
        fw.default_deny = policy.group(1) != "accept" if policy else False  # nftables' default policy is accept
        for rule in re.finditer(
            r"(?m)^[ \t]*([^\n#]*\b(?:tcp|udp)\s+dport\s+(\{[^}]*\}|\S+)[^\n]*\baccept\b[^\n]*)$", body
        ):
            source = re.search(r"ip6?\s+saddr\s+(\{[^}]*\}|\S+)", rule.group(1))
            line = line0 + body[: rule.start()].count("\n")
            fw.open_ports.append((rule.group(2).strip("{} "), source.group(1) if source else "", line))
        yield fw


def iptables(path: str, text: str) -> Iterator[Firewall]:
    chain = re.search(r"(?m)^:(?:INPUT|ufw-user-input|ufw6-user-input)\s+(\S+)", text)
    policy = re.search(r"(?m)^:INPUT\s+(\S+)", text)
    fw = Firewall(
        Subject(path=path, line=text[: chain.start()].count("\n") + 1 if chain else 1, name="INPUT"),
        "iptables",
        None if policy is None else policy.group(1) in ("DROP", "REJECT"),
    )
    if policy is None and re.search(r"(?m)^-A\s+INPUT\b.*-j\s+(DROP|REJECT)\s*$", text):
        fw.default_deny = True  # a final catch-all drop rule
    for no, line in enumerate(text.splitlines(), 1):
        if re.match(r"-A\s+(INPUT|ufw6?-user-input)\b", line) and re.search(r"-j\s+ACCEPT\b", line):
            port = re.search(r"--dports?\s+(\S+)", line)
            if port:
                source = re.search(r"(?:-s|--source)\s+(\S+)", line)
                fw.open_ports.append((port.group(1), source.group(1) if source else "", no))
    yield fw


def firewalld(path: str, text: str) -> Iterator[Firewall]:
    root = ET.fromstring(text)
    target = root.get("target", "default")
    fw = Firewall(Subject(path=path, line=1, name=f"zone {posixpath.basename(path)}"), "firewalld", target != "ACCEPT")
    open_to_all = not [s for s in root.iter("source")]
    for service in root.iter("service"):
        name = service.get("name", "")
        port = {"ssh": "22", "postgresql": "5432", "mysql": "3306", "redis": "6379", "rdp": "3389"}.get(name)
        if port:
            fw.open_ports.append((port, "" if open_to_all else "zone sources", _xml_line(text, f'name="{name}"')))
    for port in root.iter("port"):
        value = port.get("port", "")
        fw.open_ports.append((value, "" if open_to_all else "zone sources", _xml_line(text, f'port="{value}"')))
    yield fw


def _xml_line(text: str, needle: str) -> int:
    at = text.find(needle)
    return text[:at].count("\n") + 1 if at >= 0 else 1


UFW_ALLOW = re.compile(
    r"\bufw\s+(?:--force\s+)?allow\s+(?:(?:in\s+)?(?:proto\s+\w+\s+)?from\s+(\S+)\s+)?(?:to\s+any\s+)?(?:port\s+)?(\S+)"
)


def ufw_commands(path: str, text: str) -> Iterator[Firewall]:
    if not re.search(r"\bufw\s+(default|allow|enable|limit)\b", text):
        return
    deny = re.search(r"\bufw\s+default\s+(deny|reject)\s+(incoming|in)?", text)
    enabled = re.search(r"\bufw\s+(--force\s+)?enable\b", text)
    first = re.search(r"\bufw\s+", text)
    fw = Firewall(
        Subject(path=path, line=text[: first.start()].count("\n") + 1 if first else 1, name="ufw"),
        "ufw",
        bool(deny and enabled) or (None if not enabled else True),  # ufw's own default is deny incoming
    )
    for m in UFW_ALLOW.finditer(text):
        port = m.group(2).split("/")[0]
        port = {"ssh": "22", "OpenSSH": "22", "postgresql": "5432"}.get(port, port)
        fw.open_ports.append((port, m.group(1) or "", text[: m.start()].count("\n") + 1))
    yield fw


def ansible_ufw(path: str, docs: list[Any]) -> Iterator[Firewall]:
    tasks = [t for d in docs for t in _tasks(d)]
    ufw = [(t, t.get("community.general.ufw", t.get("ufw"))) for t in tasks]
    ufw = [(t, u) for t, u in ufw if isinstance(u, dict)]
    if not ufw:
        return
    fw = Firewall(Subject(path=path, line=getattr(ufw[0][0], "line", 1), name="ufw (Ansible)"), "ufw", None)
    for task, args in ufw:
        # community.general.ufw: `policy: deny` (or the older `default:`) with direction incoming or unset
        policy = args.get("policy", args.get("default"))
        if policy in ("deny", "reject") and args.get("direction") in ("incoming", None):
            fw.default_deny = True
        if args.get("rule") == "allow" and args.get("port"):
            source = str(args.get("from_ip", args.get("src", "")) or "")
            fw.open_ports.append((str(args["port"]), source, getattr(task, "line", 1)))
    yield fw


def _tasks(node: Any) -> Iterator[dict]:
    if isinstance(node, list):
        for n in node:
            yield from _tasks(n)
    elif isinstance(node, dict):
        yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            yield from _tasks(node.get(key))


@dataclass
class SshFinding:
    subject: Subject
    status: Status
    message: str
    facts: dict[str, Any]


def sshd(path: str, text: str) -> SshFinding:
    """Effective settings of one sshd_config (first value wins, as in sshd; Match blocks are not global)."""
    settings: dict[str, tuple[str, int]] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.lower().startswith("match "):
            break
        key, _, value = line.partition(" ")
        settings.setdefault(key.lower(), (value.strip().strip('"'), no))
    password = settings.get("passwordauthentication", ("yes", 0))
    kbd = settings.get("kbdinteractiveauthentication", settings.get("challengeresponseauthentication", ("yes", 0)))
    root = settings.get("permitrootlogin", ("prohibit-password", 0))
    managed = [k for k in ("authorizedkeyscommand", "trustedusercakeys", "authorizedkeysfile") if k in settings]
    facts = {
        "PasswordAuthentication": password[0],
        "KbdInteractiveAuthentication": kbd[0],
        "PermitRootLogin": root[0],
        "key_management": managed,
    }
    problems = []
    if password[0].lower() != "no":
        said = password[0] if password[1] else "is not set (OpenSSH's default is yes)"
        problems.append((f"PasswordAuthentication {said}", password[1]))
    if kbd[0].lower() != "no" and "usepam" in settings and settings["usepam"][0].lower() == "yes":
        problems.append((f"keyboard-interactive authentication with PAM is {kbd[0]}", kbd[1]))
    if root[0].lower() == "yes":
        problems.append(("PermitRootLogin yes", root[1]))
    if problems:
        message, line = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return SshFinding(Subject(path=path, line=line or 1), Status.FAIL, message + more, facts)
    how = "; keys from " + ", ".join(managed) if managed else ""
    return SshFinding(
        Subject(path=path, line=password[1] or 1),
        Status.PASS,
        f"password and keyboard-interactive logins off, root login {root[0]}{how}",
        facts,
    )


class HostProbe(Probe):
    name = "host"
    version = "0.1.0"
    kind = "static"
    description = "Host firewall rulesets (nftables, iptables, ufw, firewalld) and SSH daemon configuration."
    claims = CLAIMS
    checks = CHECKS

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        firewalls: list[Firewall] = []
        ssh: list[SshFinding] = []
        for art in ctx.artifacts:
            with ctx.guard(art):
                self._read(ctx, art, firewalls, ssh)
        yield from self._judge_firewalls(ctx, firewalls)
        for f in ssh:
            yield ctx.observe(SSH_KEY_MANAGEMENT.id, f.status, f.subject, f.message, facts=f.facts)
        if not ssh:
            message = "no sshd_config or cloud-init SSH settings in the repository (hosts may be managed elsewhere)"
            yield ctx.observe(SSH_KEY_MANAGEMENT.id, Status.UNKNOWN, Subject(), message)

    @staticmethod
    def _read(ctx: ProbeContext, art: Artifact, firewalls: list[Firewall], ssh: list[SshFinding]) -> None:
        path, name = art.path, posixpath.basename(art.path)
        text = ctx.read_text(art)
        if name.endswith(".nft") or name == "nftables.conf" or "nftables.d/" in path:
            firewalls.extend(nftables(path, text))
        elif (
            name in ("rules.v4", "rules.v6", "user.rules", "user6.rules")
            or name.endswith(".rules.v4")
            or (name.startswith("iptables") and name.endswith(".rules"))
        ):
            firewalls.extend(iptables(path, text))
        elif name.endswith(".xml"):
            try:
                firewalls.extend(firewalld(path, text))
            except ET.ParseError as exc:
                raise ArtifactUnreadable(f"XML does not parse: {exc}") from exc
        elif name == "sshd_config" or "sshd_config.d/" in path:
            ssh.append(sshd(path, text))
        elif name.endswith(".sh"):
            firewalls.extend(ufw_commands(path, text))
        else:
            docs = ctx.read_yaml(art)
            firewalls.extend(ansible_ufw(path, docs))
            for doc in docs:
                if isinstance(doc, dict) and "ssh_pwauth" in doc:
                    on = doc["ssh_pwauth"] in (True, "true", "yes", 1)
                    subject = Subject(path=path, line=doc.key_line("ssh_pwauth"))
                    status = Status.FAIL if on else Status.PASS
                    message = f"cloud-init ssh_pwauth {'on: password logins allowed' if on else 'off'}"
                    ssh.append(SshFinding(subject, status, message, {"ssh_pwauth": on}))
                if isinstance(doc, dict) and isinstance(doc.get("runcmd"), list):
                    commands = "\n".join(map(str, doc["runcmd"]))
                    firewalls.extend(ufw_commands(path, commands))

    @staticmethod
    def _judge_firewalls(ctx: ProbeContext, firewalls: list[Firewall]) -> Iterator[Observation]:
        for fw in firewalls:
            ports = sorted({p for p, _, _ in fw.open_ports})
            facts = {"kind": fw.kind, "default_deny": fw.default_deny, "accepted_ports": ports}
            exposed = fw.exposed()
            if exposed:
                port, source, line = exposed[0]
                message = f"{fw.kind} accepts {port} from {source}"
                subject = Subject(path=fw.subject.path, line=line, name=fw.subject.name)
                yield ctx.observe(FIREWALL_RULES.id, Status.FAIL, subject, message, facts=facts)
            elif fw.default_deny is False:
                message = f"{fw.kind}: inbound traffic is accepted by default"
                yield ctx.observe(FIREWALL_RULES.id, Status.FAIL, fw.subject, message, facts=facts)
            elif fw.default_deny is None:
                message = f"{fw.kind}: the default inbound policy is not set here"
                yield ctx.observe(FIREWALL_RULES.id, Status.UNKNOWN, fw.subject, message, facts=facts)
            else:
                allowed = ", ".join(ports) or "nothing"
                message = f"{fw.kind}: inbound denied by default; allows {allowed}"
                yield ctx.observe(FIREWALL_RULES.id, Status.PASS, fw.subject, message, facts=facts)
        if not firewalls:
            message = "no host firewall ruleset in the repository (nftables, iptables, ufw, firewalld)"
            yield ctx.observe(FIREWALL_RULES.id, Status.UNKNOWN, Subject(), message)
