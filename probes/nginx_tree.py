"""nginx configuration as the probe reads it: parsed directives, includes resolved, server and location scopes."""

from __future__ import annotations

import fnmatch
import ipaddress
import posixpath
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from readiness.model import Status, Subject

PRIVATE_LISTEN = ("127.", "localhost", "[::1]", "unix:")


@dataclass
class Directive:
    name: str
    args: list[str]
    path: str
    line: int
    block: list[Directive] | None = None

    def where(self) -> Subject:
        return Subject(path=self.path, line=self.line)


@dataclass
class Tree:
    """A parsed file with its includes expanded (as far as the repository holds them)."""

    path: str
    directives: list[Directive]
    unresolved: list[Directive] = field(default_factory=list)  # include directives that matched no repo file


class ParseError(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def parse_text(text: str, path: str) -> list[Directive]:
    """One file's directives, as crossplane reads them (no includes followed); raises ParseError."""
    import crossplane

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "nginx.conf"
        file.write_text(text)
        payload = crossplane.parse(str(file), single=True, check_ctx=False, check_args=False, comments=False)
    if payload["errors"]:
        first = payload["errors"][0]
        message = str(first.get("error") or "crossplane could not parse it").replace(str(file), path)
        raise ParseError(message, first.get("line"))
    return [_directive(d, path) for d in payload["config"][0]["parsed"]]


def _directive(raw: dict, path: str) -> Directive:
    block = raw.get("block")
    return Directive(
        raw["directive"],
        list(raw.get("args", [])),
        path,
        int(raw.get("line", 0)),
        None if block is None else [_directive(d, path) for d in block],
    )


# Files nginx ships beside nginx.conf that set only MIME types, charsets or *_param lines: an include of
# one the repository does not hold hides nothing these checks look at.
SHIPPED_HARMLESS = frozenset(
    {"mime.types", "fastcgi_params", "fastcgi.conf", "uwsgi_params", "scgi_params", "koi-utf", "koi-win", "win-utf"}
)


class Repository:
    """nginx files parsed once, on demand; includes resolved against every file of the repository."""

    def __init__(self, paths: list[str], load: Callable[[str], list[Directive] | None]):
        self.paths = sorted(paths)
        self.load = load
        self.parsed: dict[str, list[Directive] | None] = {}
        self.included: set[str] = set()

    def directives(self, path: str) -> list[Directive] | None:
        if path not in self.parsed:
            self.parsed[path] = self.load(path)
        return self.parsed[path]

    def resolve(self, include: Directive) -> list[str]:
        """Repository files an ``include`` names: relative to the including file's folder or any parent
        of it (nginx resolves against its prefix), or an absolute path matched by its longest tail."""
        pattern = include.args[0] if include.args else ""
        if not pattern:
            return []
        if pattern.startswith("/"):
            # /etc/nginx/conf.d/*.conf -> the repository's conf.d/*.conf: the longest tail (two parts at least,
            # a bare *.conf would match every .conf file) that names files, nearest to the including file
            parts = pattern.strip("/").split("/")
            for i in range(1, len(parts) - 1):
                tail = "/".join(parts[i:])
                hits = [p for p in self.paths if fnmatch.fnmatch(p, tail) or fnmatch.fnmatch(p, "*/" + tail)]
                if hits:
                    return _nearest(hits, include.path)
            return []
        folder = posixpath.dirname(include.path)
        while True:
            candidate = posixpath.normpath(posixpath.join(folder, pattern)) if folder else pattern
            hits = [p for p in self.paths if fnmatch.fnmatch(p, candidate)]
            if hits:
                return hits
            if not folder:
                return []
            folder = posixpath.dirname(folder)

    def expand(self, path: str, seen: tuple[str, ...] = ()) -> Tree:
        tree = Tree(path, [])
        tree.directives = self._expand(self.directives(path) or [], tree, (*seen, path))
        return tree

    def _expand(self, directives: list[Directive], tree: Tree, seen: tuple[str, ...]) -> list[Directive]:
        out: list[Directive] = []
        for d in directives:
            if d.name == "include":
                targets = [t for t in self.resolve(d) if t not in seen]
                shipped = d.args and posixpath.basename(d.args[0]) in SHIPPED_HARMLESS
                if not targets and not shipped:
                    tree.unresolved.append(d)
                for target in targets:
                    self.included.add(target)
                    sub = self.expand(target, seen)
                    tree.unresolved.extend(sub.unresolved)
                    out.extend(sub.directives)
                continue
            if d.block is not None:
                d = Directive(d.name, d.args, d.path, d.line, self._expand(d.block, tree, seen))
            out.append(d)
        return out


def _nearest(hits: list[str], origin: str) -> list[str]:
    """The hits under the closest ancestor folder of ``origin`` that holds any: one repository may keep
    several nginx configurations, and an include means the one beside it."""
    folder = posixpath.dirname(origin)
    while True:
        near = [h for h in hits if not folder or h.startswith(folder + "/")]
        if near or not folder:
            return sorted(near)
        folder = posixpath.dirname(folder)


@dataclass
class Scope:
    """A server or location, with the levels above it (http first) for inheritance."""

    block: Directive
    chain: list[list[Directive]]  # directive lists, outermost first, this block's own last
    unresolved: list[Directive]

    def own(self, name: str) -> list[Directive]:
        return [d for d in self.chain[-1] if d.name == name]

    def effective(self, name: str) -> list[Directive]:
        """The directives named ``name`` that apply here: the innermost level that has any."""
        for level in reversed(self.chain):
            found = [d for d in level if d.name == name]
            if found:
                return found
        return []

    def headers(self) -> list[Directive]:
        """add_header lines in force here: nginx inherits them only into levels with none of their own."""
        return self.effective("add_header")

    def header(self, name: str) -> Directive | None:
        for d in self.headers():
            if d.args and d.args[0].lower() == name.lower():
                return d
        return None

    @property
    def label(self) -> str:
        return " ".join(self.block.args) if self.block.name == "location" else _server_label(self.block)


def _server_label(server: Directive) -> str:
    names = next((d.args for d in server.block or [] if d.name == "server_name"), [])
    listens = [d.args[0] for d in server.block or [] if d.name == "listen" and d.args]
    return f"server {' '.join(names) or '_'} (listen {', '.join(listens) or '80'})"


def _servers(tree: Tree) -> Iterator[Scope]:
    """Every server block, with its http context (a file of bare server blocks is read as an http fragment)."""
    https = [d for d in tree.directives if d.name == "http"]
    contexts = [(h.block or []) for h in https] or [tree.directives]
    for http in contexts:
        for d in http:
            if d.name == "server" and d.block is not None:
                yield Scope(d, [http, d.block], tree.unresolved)


def _locations(server: Scope) -> Iterator[Scope]:
    def walk(block: list[Directive], chain: list[list[Directive]]) -> Iterator[Scope]:
        for d in block:
            if d.name == "location" and d.block is not None:
                scope = Scope(d, [*chain, d.block], server.unresolved)
                yield scope
                yield from walk(d.block, scope.chain)

    yield from walk(server.chain[-1], server.chain)


def is_https(server: Scope) -> bool:
    for d in server.own("listen"):
        if "ssl" in d.args[1:] or "quic" in d.args[1:] or d.args[:1] and d.args[0].rsplit(":", 1)[-1] == "443":
            return True
    return any(d.args[:1] == ["on"] for d in server.own("ssl"))


def is_public(server: Scope) -> bool:
    """Whether a server listens beyond loopback (no listen directive: *:80)."""
    listens = server.own("listen")
    if not listens:
        return True
    for d in listens:
        address = d.args[0] if d.args else ""
        if address.startswith(PRIVATE_LISTEN):
            continue
        host = address.rsplit(":", 1)[0].strip("[]") if ":" in address else ""
        try:
            if host and ipaddress.ip_address(host).is_loopback:
                continue
        except ValueError:
            pass
        return True
    return False


def _not_set(scope: Scope, what: str) -> tuple[Status, str]:
    """`what` is not set: fail, unless an include we could not read might set it."""
    if scope.unresolved:
        names = ", ".join(" ".join(d.args) for d in scope.unresolved[:3])
        return Status.UNKNOWN, f"{what} is not set here, but include {names} could not be read from the repository"
    return Status.FAIL, f"{what} is not set"
