"""The dependency check reads real installed metadata: distributions are written as .dist-info folders on sys.path."""

from __future__ import annotations

import sys

from readiness import environment
from readiness.cli import main


def _install_fake(site, name: str, files: list[str], top_level: bool) -> None:
    info = site / f"{name.replace('-', '_')}-0.4.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.4.3\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    if top_level:
        (info / "top_level.txt").write_text("hcl2\n")


def test_this_environment_is_sound():
    assert environment.problems() == []


def test_a_second_owner_of_hcl2_is_named_with_the_fix(tmp_path, monkeypatch, capsys):
    _install_fake(tmp_path, "bc-python-hcl2", ["hcl2/__init__.py", "hcl2/parser.py"], top_level=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert environment.owners()["hcl2"].count("bc-python-hcl2") == 1
    (problem,) = environment.problems()
    assert "bc-python-hcl2" in problem and "python-hcl2 >=8.1,<9" in problem

    repo = tmp_path / "repo"
    repo.mkdir()
    assert main(["audit", str(repo)]) == 2
    err = capsys.readouterr().err
    assert "bc-python-hcl2" in err and "pipx install readiness" in err


def test_an_hcl2_without_the_modules_readiness_imports_is_refused(tmp_path, monkeypatch):
    # an old python-hcl2 (7.x) layout found first on sys.path: no hcl2/rules/
    (tmp_path / "hcl2").mkdir()
    (tmp_path / "hcl2" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "hcl2", raising=False)
    (problem,) = environment.problems()
    assert f"at {tmp_path / 'hcl2'} is not python-hcl2" in problem
