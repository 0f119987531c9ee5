"""The safe loader: hostile YAML and JSON are refused with a line and a kind of problem, never a value."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from readiness import cli, safe_load, yaml_lines
from readiness.safe_load import UnsafeJSON, UnsafeYAML


def laughs(levels: int, width: int = 9) -> str:
    """The classic alias bomb: each level refers ``width`` times to the one before."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_ordinary_yaml_loads_as_before_with_lines_anchors_and_merge_keys():
    text = "base: &b {image: x, user: app}\nsvc:\n  <<: *b\n  user: root\nlist: [1, *b]\n"
    data = yaml_lines.load(text)
    assert data == yaml.safe_load(text)
    assert data["svc"] == {"image": "x", "user": "root"}
    assert data.key_line("svc") == 2 and data["svc"].key_line("user") == 4


def test_alias_bomb_is_refused_before_it_is_expanded():
    with pytest.raises(UnsafeYAML, match=r"aliases expand to more than 1000000 nodes"):
        yaml_lines.load(laughs(9))
    # the same shape under the limit is fine: anchors are a feature, not a fault
    assert len(yaml_lines.load(laughs(4))["l3"]) == 9


def test_alias_use_count_is_bounded():
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 10_001) + "]\n"
    with pytest.raises(UnsafeYAML, match="more than 10000 alias uses"):
        yaml_lines.load(text)


def test_recursive_alias_is_refused():
    with pytest.raises(UnsafeYAML, match="recursive alias"):
        yaml_lines.load("a: &a [1, *a]\n")


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # flow: libyaml's composer would recurse in C
        "- " * 100_000 + "x\n",  # block sequences on one line
        "".join(" " * i + f"k{i}:\n" for i in range(150)) + " " * 150 + "v\n",
    ],
    ids=["flow", "block-dashes", "block-indent"],
)
def test_deep_nesting_is_an_error_not_a_crash(text):
    with pytest.raises(yaml.YAMLError):
        yaml_lines.load_all(text)


def test_duplicate_key_names_the_key_and_both_lines():
    with pytest.raises(UnsafeYAML) as err:
        yaml_lines.load("spec:\n  runAsNonRoot: false\n  image: x\n  runAsNonRoot: true\n")
    assert str(err.value) == "duplicate key 'runAsNonRoot' (first at line 2): the file is ambiguous (line 4)"
    assert yaml_lines.error_line(err.value) == 4
    with pytest.raises(UnsafeYAML, match="duplicate key 'a'"):
        yaml_lines.load("{a: 1, a: 2}")
    # the same key in sibling mappings, and keys merged in with <<, are not duplicates
    assert yaml_lines.load("x: {a: 1}\ny: {a: 2}\nz:\n  <<: {a: 1}\n  a: 3\n")["z"]["a"] == 3


def test_error_messages_never_quote_the_value():
    secret = "s3cr3t-" + os.urandom(8).hex()
    bad = [f"password: {secret}\npassword: {secret}\n", f"password: '{secret}\n", f"key: {secret}\n\tbad: 1\n"]
    for text in bad:
        with pytest.raises(yaml.YAMLError) as err:
            safe_load.load_yaml(text)
        assert secret not in safe_load.describe_error(err.value)


def test_tighter_limits_for_configuration_files():
    with pytest.raises(UnsafeYAML, match="nested deeper than 32"):
        safe_load.load_yaml("a: " + "[" * 40 + "]" * 40, safe_load.CONFIG_LIMITS)
    with pytest.raises(UnsafeYAML, match="aliases expand"):
        safe_load.load_yaml(laughs(5), safe_load.CONFIG_LIMITS)


def test_json_duplicates_and_depth():
    with pytest.raises(UnsafeJSON) as err:
        safe_load.load_json('{\n  "user": "app",\n  "user": "root"\n}')
    assert err.value.msg == "duplicate key 'user': the file is ambiguous" and err.value.lineno == 3
    with pytest.raises(UnsafeJSON, match="nested deeper than 100"):
        safe_load.load_json("[" * 101 + "]" * 101)
    with pytest.raises(UnsafeJSON, match="nested deeper"):
        safe_load.load_json("[" * 100_000 + "]" * 100_000)
    assert safe_load.load_json('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}


def test_read_bounded_refuses_fifos_and_oversized_files_before_reading(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        safe_load.read_bounded(fifo, 100)  # returns at once: a FIFO is never opened
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(OSError, match=r"too large \(101 bytes > 100\)"):
        safe_load.read_bounded(big, 100)
    assert safe_load.read_bounded(big, 101) == b"x" * 101


# ------------------------------------------------------------------ the CLI: exit 2, one line, no value


def audit_with_config(tmp_path, capsys, config_text: str | bytes, *extra: str) -> tuple[int, str]:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    cfg = repo / ".readiness.yaml"
    cfg.write_bytes(config_text if isinstance(config_text, bytes) else config_text.encode())
    code = cli.main(["audit", str(repo), *extra])
    err = capsys.readouterr().err
    return code, err


def test_config_pointing_at_a_dotenv_file_does_not_dump_it(tmp_path, capsys):
    secret = os.urandom(12).hex()
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL=postgres://app:{secret}@db/app\nAPI_KEY={secret}\n")
    (tmp_path / "repo").mkdir()
    code = cli.main(["audit", str(tmp_path / "repo"), "--config", str(env)])
    err = capsys.readouterr().err
    assert code == 2 and secret not in err and len(err.strip().splitlines()) == 1
    assert "(top level): expected object, found a string" in err


def test_mistyped_postgres_dsn_is_rejected_without_its_password(tmp_path, capsys):
    secret = os.urandom(12).hex()
    code, err = audit_with_config(tmp_path, capsys, f"live:\n  postgres: [postgresql://app:{secret}@db/app]\n")
    assert code == 2 and secret not in err and "live.postgres" in err
    code, err = audit_with_config(tmp_path, capsys, "x", "--postgres", f"postgresql://u:{secret}@h/d", "--postgres")
    assert code == 2 and secret not in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exclude: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than 32"),
        ("exclude:\n  " + "- " * 50_000 + "x\n", "nested deeper than 32"),
        (laughs(9) + "exclude: *l8\n", "aliases expand to more than 10000 nodes"),
        ("exclude: [a]\nexclude: [b]\n", "duplicate key 'exclude' (first at line 1)"),
        (b"\xff\xfe\x00binary", "not UTF-8 text"),
    ],
    ids=["flow-depth", "block-depth", "bomb", "duplicate", "binary"],
)
def test_hostile_config_is_exit_2_with_one_line(tmp_path, capsys, text, message):
    code, err = audit_with_config(tmp_path, capsys, text)
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1


def test_attestations_bomb_and_depth_are_exit_2(tmp_path, capsys):
    repo = tmp_path / "repo"
    (repo / ".readiness").mkdir(parents=True)
    for text, message in [(laughs(9), "alias"), ("attestations: " + "[" * 500 + "]" * 500, "nested deeper")]:
        (repo / ".readiness/attestations.yaml").write_text(text)
        code = cli.main(["audit", str(repo), "--policy", "devops-deployment"])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_binary_or_hostile_policy_file_is_exit_2(tmp_path, capsys):
    repo = tmp_path / "repo"
    repo.mkdir()
    for name, content in [("binary.yaml", b"\xff\xfe\x00\x01" * 64), ("bomb.yaml", laughs(9).encode())]:
        (tmp_path / name).write_bytes(content)
        code = cli.main(["audit", str(repo), "--policy", str(tmp_path / name)])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


# ------------------------------------------------------------------ property-based: the loader against PyYAML

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=40,
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(DATA, st.sampled_from([True, False]))
def test_any_document_loads_as_pyyaml_loads_it(data, flow):
    text = yaml.safe_dump(data, default_flow_style=flow)
    assert yaml_lines.load(text) == yaml.safe_load(text)
    assert safe_load.load_json(json.dumps(data)) == data


@settings(derandomize=True, max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:- &*[]{},'\"\n#!|>?%@`\t0\\")), max_size=80))
def test_any_text_loads_or_raises_a_yaml_error(text):
    try:
        # libyaml's own composer, which ours replaces (the pure-Python parser differs on a few edge cases)
        expected = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError:
        expected = None
    except RecursionError:
        return
    try:
        got = yaml_lines.load_all(text)
    except yaml.YAMLError:
        # refused by PyYAML too, or a duplicate key / recursive alias it would have accepted silently
        return
    assert expected is not None and got == expected
