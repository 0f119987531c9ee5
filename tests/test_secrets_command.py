"""`readiness secrets [FILES]` in-process: only the named files are scanned, waivers apply, values never shown."""

from __future__ import annotations

from conftest import git

from readiness.cli import main

TOKEN = "ghp_" + "R8x2Lq9Vt4Wm7Ky3Np6Zs1Hd5Jf0Bc2Ge8Ta"


def _repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "deploy.sh").write_text(f"export GITHUB_TOKEN={TOKEN}\n")
    (root / "app.py").write_text("DEBUG = False\n")
    return root


def test_only_the_named_files_are_scanned(tmp_path, capsys, monkeypatch):
    root = _repo(tmp_path)
    monkeypatch.chdir(root)
    assert main(["secrets", "app.py"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["secrets", "app.py", "deploy.sh"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("deploy.sh:1: github") and TOKEN not in out and TOKEN[:8] not in out


def test_whole_repository_by_default_and_from_another_folder(tmp_path, capsys):
    root = _repo(tmp_path)
    assert main(["secrets", "--root", str(root)]) == 1
    assert "deploy.sh:1:" in capsys.readouterr().out
    assert main(["secrets", "--root", str(root), str(root / "app.py")]) == 0


def test_a_reasoned_waiver_passes_and_a_bare_one_does_not(tmp_path, capsys):
    root = _repo(tmp_path)
    (root / "deploy.sh").write_text(f"export GITHUB_TOKEN={TOKEN}  # readiness:ignore\n")
    assert main(["secrets", "--root", str(root)]) == 1
    assert "without a reason" in capsys.readouterr().out
    (root / "deploy.sh").write_text(f"export GITHUB_TOKEN={TOKEN}  # readiness:ignore revoked token kept for a test\n")
    assert main(["secrets", "--root", str(root)]) == 0
