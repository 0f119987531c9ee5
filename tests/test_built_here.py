"""Images the repository builds itself are judged from their Dockerfiles, wherever the registry name points."""

from __future__ import annotations

from conftest import audit_json


def observations(report, check):
    return [o for o in report["observations"] if o["check"] == check and o["production"]]


def test_images_built_here_are_judged_from_their_dockerfiles(tmp_path):
    files = {
        "docker/images/docker-compose.yaml": "services:\n  frontend:\n    image: acmeapp/frontend:2.16\n"
        "    restart: unless-stopped\n",
        "docker/images/Dockerfile.frontend": "FROM nginx:1.27.3\nUSER nginx\n",
        "base/Dockerfile": "FROM debian:12.8\nUSER app\n",
        "web/Dockerfile": "FROM ghcr.io/acme/base:latest\nUSER app\n",
        "tool/Dockerfile": "FROM ghcr.io/other/thing:latest\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    _, report = audit_json(tmp_path, "--fail-on", "none")
    user = observations(report, "compose.non_root")
    assert [o["status"] for o in user] == ["pass"] and "Dockerfile.frontend" in user[0]["subject"]["path"]
    bases = {o["subject"]["path"]: (o["status"], o["message"]) for o in observations(report, "dockerfile.base_pinned")}
    assert (
        bases["web/Dockerfile"][0] == "pass"
        and "built by this repository (base/Dockerfile)" in bases["web/Dockerfile"][1]
    )
    assert bases["tool/Dockerfile"][0] == "fail"  # a third party's moving tag
