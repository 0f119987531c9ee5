"""The compose checks, and the values they judge against (capabilities, restart policies, log drivers)."""

from __future__ import annotations

import ipaddress

from readiness.model import Check

ALL_INTERFACES = frozenset({"", "0.0.0.0", "::", "[::]"})
# RFC 1918, carrier-grade NAT and IPv6 unique-local: reachable only inside a private network.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
DANGEROUS_CAPS = frozenset(
    {
        "ALL",
        "SYS_ADMIN",
        "NET_ADMIN",
        "SYS_PTRACE",
        "SYS_MODULE",
        "SYS_RAWIO",
        "DAC_READ_SEARCH",
        "SYS_BOOT",
        "SYS_TIME",
        "MAC_ADMIN",
        "MAC_OVERRIDE",
        "BPF",
        "PERFMON",
        "SYSLOG",
    }
)
GOOD_RESTARTS = ("always", "unless-stopped", "on-failure")
REMOTE_LOG_DRIVERS = frozenset(
    {"syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries"}
)


def _check(id: str, title: str, rationale: str, remediation: str) -> Check:
    return Check(id=id, title=title, rationale=rationale, remediation=remediation)


NON_ROOT = _check(
    "compose.non_root",
    "Every service runs as a non-root user",
    "Root in a container is root on the host after an escape, and can rewrite the whole container filesystem.",
    'Set `user: "1000:1000"` (not 0, root, 0:0) on the service, or a non-root USER in its Dockerfile.',
)
READ_ONLY = _check(
    "compose.read_only_rootfs",
    "Every service has a read-only root filesystem",
    "A writable root filesystem lets an attacker persist tools and modify binaries inside the container.",
    "Set `read_only: true` and mount `tmpfs:` or volumes for the paths the application writes.",
)
NO_NEW_PRIVILEGES = _check(
    "compose.no_new_privileges",
    "Every service sets no-new-privileges",
    "Without it, setuid binaries in the image can raise a process's privileges.",
    'Add `security_opt: ["no-new-privileges:true"]`.',
)
CAP_DROP_ALL = _check(
    "compose.cap_drop_all",
    "Every service drops all capabilities and adds back only harmless ones",
    "Docker's default capability set (and any cap_add like SYS_ADMIN) gives a compromised process kernel "
    "powers it does not need.",
    "Set `cap_drop: [ALL]` and add back only what the process needs (e.g. NET_BIND_SERVICE).",
)
NOT_PRIVILEGED = _check(
    "compose.not_privileged",
    "No service runs privileged",
    "A privileged container has every capability and all host devices: it is root on the host.",
    "Remove `privileged: true`; grant the one capability or device the service needs instead.",
)
NO_HOST_NAMESPACES = _check(
    "compose.no_host_namespaces",
    "No service shares the host's PID, IPC, network, UTS, user or cgroup namespace",
    "A shared host namespace lets the container see and signal host processes, sniff host traffic or reach "
    "host-only services.",
    "Remove `pid: host`, `ipc: host`, `network_mode: host` (and uts/userns_mode/cgroup: host).",
)
NO_DOCKER_SOCKET = _check(
    "compose.no_docker_socket",
    "No service mounts the Docker socket",
    "Access to the Docker socket is root on the host: any container can start a privileged one.",
    "Remove the /var/run/docker.sock mount; use a socket proxy with a minimal API allow-list if unavoidable.",
)
RESOURCE_LIMITS = _check(
    "compose.resource_limits",
    "Every service has memory and CPU limits",
    "Without limits one runaway service starves every other service on the host.",
    "Set `deploy.resources.limits.memory` and `.cpus` (or the legacy `mem_limit` and `cpus`).",
)
RESOURCE_RESERVATIONS = _check(
    "compose.resource_reservations",
    "Every service reserves memory and CPU",
    "Reservations keep a service schedulable and running under contention instead of being squeezed out.",
    "Set `deploy.resources.reservations.memory` and `.cpus` (or the legacy `mem_reservation` and `cpu_shares`).",
)
HEALTHCHECK = _check(
    "compose.healthcheck",
    "Every service has a healthcheck (in compose or its image), not disabled",
    "Without a healthcheck the engine restarts only dead processes, not hung ones, and dependants start "
    "before the service is ready.",
    "Add a `healthcheck:` with a `test:` to the service, or a HEALTHCHECK to its Dockerfile.",
)
RESTART_POLICY = _check(
    "compose.restart_policy",
    "Every service restarts automatically (always, unless-stopped or on-failure)",
    "Without a restart policy a crashed service, or every service after a host reboot, stays down.",
    "Set `restart: unless-stopped` (or `deploy.restart_policy.condition: any|on-failure`).",
)
GRACEFUL_SHUTDOWN = _check(
    "compose.graceful_shutdown",
    "Every service declares how it stops gracefully (stop_grace_period, stop_signal or init)",
    "On a deploy, containers get SIGTERM and 10 s before SIGKILL; an application that needs longer, or a PID 1 "
    "that ignores SIGTERM, loses in-flight work.",
    "Set `stop_grace_period:` to the drain time the service needs, `init: true` for a signal-forwarding PID 1, "
    "or `stop_signal:` to the signal the application handles.",
)
INTERNAL_NETWORKS = _check(
    "compose.internal_networks",
    "Services that publish no ports sit only on internal networks",
    "A backend service on a non-internal network can reach the internet (exfiltration, command and control) "
    "and shares a network with the public-facing services.",
    "Put backends on a network with `internal: true`; only the public-facing service joins both networks.",
)
PUBLIC_PORTS = _check(
    "compose.public_ports_minimal",
    "Only the allowed ports are published on all interfaces",
    "A port published without a host IP listens on every interface (IPv4 and IPv6), bypassing a host "
    "firewall managed with ufw/firewalld; databases and admin ports end up on the internet.",
    "Bind internal ports to 127.0.0.1 (`127.0.0.1:5432:5432`) or do not publish them; list the public ones "
    "in `probes.compose.allowed_public_ports` (default 80 and 443).",
)
IMAGE_PINNED = _check(
    "compose.image_pinned",
    "Every registry image is pinned to a tag other than latest, or to a digest",
    "An unpinned image changes on every pull: deploys are not reproducible and roll back to nothing known.",
    "Pin `image:` to a version tag, best with its digest (`postgres:16.4@sha256:...`).",
)
LOG_ROTATION = _check(
    "compose.log_rotation",
    "Every service's logs are rotated (json-file with max-size, local, or shipped off the host)",
    "Docker's default json-file driver never rotates: container logs grow until the disk is full.",
    'Set `logging: {driver: json-file, options: {max-size: 10m, max-file: "3"}}` or `driver: local`.',
)
NO_LITERAL_SECRETS = _check(
    "compose.no_literal_secrets",
    "No secret value is written literally in a service's environment or build args",
    "A secret in the compose file is in the repository, its history and `docker inspect` output.",
    "Use `secrets:` with a `*_FILE` variable, or `${VAR}` from an untracked .env; rotate the exposed secret.",
)
CHECKS = (
    NON_ROOT,
    READ_ONLY,
    NO_NEW_PRIVILEGES,
    CAP_DROP_ALL,
    NOT_PRIVILEGED,
    NO_HOST_NAMESPACES,
    NO_DOCKER_SOCKET,
    RESOURCE_LIMITS,
    RESOURCE_RESERVATIONS,
    HEALTHCHECK,
    RESTART_POLICY,
    GRACEFUL_SHUTDOWN,
    INTERNAL_NETWORKS,
    PUBLIC_PORTS,
    IMAGE_PINNED,
    LOG_ROTATION,
    NO_LITERAL_SECRETS,
)
