"""The host probe on fixture rulesets and SSH configurations."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO
from readiness.probes.host import HostProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status
from readiness.probe import Files

FIXTURES = REPO / "fixtures"


def observe(root: Path) -> list[Observation]:
    found = discover(root, Config())
    return runner.run_probe(HostProbe, found, Files(found.root), Inventory(), Config())[0]


def of(obs: list[Observation], check: str) -> list[tuple[Status, str | None, int | None, str]]:
    return sorted((o.status, o.subject.path, o.subject.line, o.message) for o in obs if o.check == check)


def test_default_deny_nftables_and_key_only_ssh_pass():
    obs = observe(FIXTURES / "host-hardened")
    ((status, path, line, message),) = of(obs, "host.firewall_rules")
    assert (status, path, line) == (Status.PASS, "etc/nftables.conf", 5)
    assert "allows 22, 80, 443" in message  # ssh only from the management network, so not an exposure
    ((status, path, _line, message),) = of(obs, "host.ssh_key_management")
    assert (status, path) == (Status.PASS, "etc/ssh/sshd_config") and "TrustedUserCAKeys".lower() in message


def test_accept_by_default_and_a_database_port_open_to_all_fail():
    obs = observe(FIXTURES / "host-open")
    ((status, path, line, message),) = of(obs, "host.firewall_rules")
    assert (status, path, line) == (Status.FAIL, "etc/iptables/rules.v4", 7) and "5432 (postgres)" in message
    ((status, _path, line, message),) = of(obs, "host.ssh_key_management")
    assert (
        status is Status.FAIL and "OpenSSH's default is yes" in message and "2 more" in message
    )  # keyboard-interactive via PAM, root login


def test_ufw_in_provisioning_scripts_and_ansible(tmp_path):
    (tmp_path / "provision.sh").write_text(
        "#!/bin/sh\nset -e\nufw default deny incoming\nufw allow 443/tcp\n"
        "ufw allow from 10.0.0.0/8 to any port 22\nufw --force enable\n"
    )
    (tmp_path / "roles" / "fw" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "fw" / "tasks" / "main.yml").write_text(
        "- name: deny incoming\n  community.general.ufw:\n    state: enabled\n    policy: deny\n"
        "- name: ssh from anywhere\n  community.general.ufw:\n    rule: allow\n    port: '22'\n"
    )
    got = of(observe(tmp_path), "host.firewall_rules")
    assert got[0][:3] == (Status.FAIL, "roles/fw/tasks/main.yml", 5) and "22 (ssh) from anywhere" in got[0][3]
    assert got[1][:2] == (Status.PASS, "provision.sh")


def test_an_nftables_input_chain_without_policy_accepts_everything(tmp_path):
    (tmp_path / "rules.nft").write_text(
        "table inet f {\n  chain input {\n    type filter hook input priority 0;\n  }\n}\n"
    )
    ((status, _path, _line, message),) = of(observe(tmp_path), "host.firewall_rules")
    assert status is Status.FAIL and "accepted by default" in message


def test_cloud_init_password_login_and_firewalld_zone(tmp_path):
    (tmp_path / "cloud-init.yaml").write_text("#cloud-config\nssh_pwauth: true\n")
    (tmp_path / "firewalld" / "zones").mkdir(parents=True)
    (tmp_path / "firewalld" / "zones" / "public.xml").write_text(
        '<?xml version="1.0"?>\n<zone target="DROP">\n  <service name="https"/>\n  <service name="ssh"/>\n</zone>\n'
    )
    obs = observe(tmp_path)
    assert of(obs, "host.ssh_key_management")[0][:3] == (Status.FAIL, "cloud-init.yaml", 2)
    ((status, _path, line, message),) = of(obs, "host.firewall_rules")
    assert (status, line) == (Status.FAIL, 4) and "22 (ssh)" in message


def test_nothing_in_the_repository_is_unknown(tmp_path):
    (tmp_path / "README.md").write_text("x\n")
    assert {o.status for o in observe(tmp_path)} == {Status.UNKNOWN}


def test_malformed_inputs_are_errors(tmp_path):
    (tmp_path / "firewalld" / "zones").mkdir(parents=True)
    (tmp_path / "firewalld" / "zones" / "bad.xml").write_text("<zone><service></zone>\n")
    (tmp_path / "sshd_config").write_bytes(b"PasswordAuthentication no\x00\xff")
    obs = observe(tmp_path)
    assert {o.subject.path for o in obs if o.status is Status.ERROR} == {"firewalld/zones/bad.xml", "sshd_config"}
