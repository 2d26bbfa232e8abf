"""Read a Dockerfile and a .dockerignore the way the Docker builder does.

There is no Docker engine in the test environment, so the tests check the image's
contract from these files: the final stage's CMD, ENV, HEALTHCHECK and COPYs, and
which files the build context holds.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_WILDCARDS = ("*", "?", "[")


@dataclass(frozen=True)
class Instruction:
    """One instruction, continuation lines joined and comment lines dropped."""

    keyword: str
    value: str
    line: int


@dataclass(frozen=True)
class Stage:
    """A build stage: its FROM line and what follows up to the next FROM."""

    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        """Every instruction with this keyword, in order."""
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        """The one that takes effect (Docker keeps the last CMD, USER, ...)."""
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """The ENV values this stage sets, later ones winning; values are not expanded."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            values.update(parse_env(instruction.value))
        return values


@dataclass(frozen=True)
class Healthcheck:
    """A HEALTHCHECK: its options (durations in seconds) and command line."""

    interval: float
    timeout: float
    start_period: float
    retries: int
    command: list[str]


@dataclass(frozen=True)
class Copy:
    """A COPY/ADD: its flags, context sources and destination."""

    flags: dict[str, str]
    sources: list[str]
    dest: str


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines with backslash continuations joined; comment and blank lines dropped."""
    if re.match(r"(?i)^#\s*escape\s*=", text):
        raise ValueError("a custom escape directive is not supported by this parser")
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and buffer):
            continue  # Docker removes comment lines, also inside a continuation
        if not stripped:
            continue
        if not buffer:
            start = number
        if raw.rstrip().endswith("\\"):
            buffer.append(raw.rstrip()[:-1])
            continue
        buffer.append(raw)
        yield start, " ".join(part.strip() for part in buffer)
        buffer = []
    if buffer:
        raise ValueError(f"line {start}: a continuation runs past the end of the file")


def parse_dockerfile(path: Path) -> list[Stage]:
    """The file's build stages, in order (instructions before the first FROM are dropped)."""
    stages: list[Stage] = []
    base, name, body = "", None, []
    for line, text in _logical_lines(path.read_text()):
        keyword, _, value = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            if base:
                stages.append(Stage(base, name, tuple(body)))
            words = [w for w in value.split() if not w.startswith("--")]
            base = words[0]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            body = []
        elif base:
            body.append(Instruction(keyword, value.strip(), line))
    if base:
        stages.append(Stage(base, name, tuple(body)))
    return stages


def global_args(path: Path) -> dict[str, str]:
    """ARG defaults declared before the first FROM."""
    args: dict[str, str] = {}
    for _, text in _logical_lines(path.read_text()):
        keyword, _, value = text.partition(" ")
        if keyword.upper() == "FROM":
            break
        if keyword.upper() == "ARG":
            key, _, default = value.strip().partition("=")
            args[key] = default
    return args


def parse_env(value: str) -> dict[str, str]:
    """``ENV a=1 b="two words"`` or the legacy ``ENV a 1``."""
    tokens = shlex.split(value)
    if tokens and "=" not in tokens[0]:
        key, _, rest = value.strip().partition(" ")
        return {key: rest.strip()}
    pairs = (token.partition("=") for token in tokens)
    return {key: val for key, _, val in pairs}


def exec_form(value: str) -> list[str]:
    """A JSON-array (exec form) command; shell form raises ValueError."""
    try:
        argv = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not exec form (a JSON array): {value!r}") from exc
    if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
        raise ValueError(f"not a non-empty JSON array of strings: {value!r}")
    return argv


def seconds(duration: str) -> float:
    """A Docker duration such as ``10s``, ``1m30s`` or ``500ms`` in seconds."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a duration: {duration!r}")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def parse_healthcheck(value: str) -> Healthcheck:
    """``HEALTHCHECK [--option=value ...] CMD ...`` with Docker's defaults filled in."""
    match = re.match(r"^((?:--[a-z-]+=\S+\s+)*)CMD\s+(.+)$", value, re.DOTALL)
    if match is None:
        raise ValueError(f"HEALTHCHECK without CMD: {value!r}")
    options = dict(opt[2:].split("=", 1) for opt in match.group(1).split())
    unknown = set(options) - {"interval", "timeout", "start-period", "retries"}
    if unknown:
        raise ValueError(f"HEALTHCHECK options this parser does not know: {sorted(unknown)}")
    command = match.group(2).strip()
    return Healthcheck(
        interval=seconds(options.get("interval", "30s")),
        timeout=seconds(options.get("timeout", "30s")),
        start_period=seconds(options.get("start-period", "0s")),
        retries=int(options.get("retries", "3")),
        command=exec_form(command) if command.startswith("[") else ["/bin/sh", "-c", command],
    )


def parse_copy(value: str) -> Copy:
    """``COPY [--flag=value ...] src... dest`` (or its JSON form)."""
    rest, flags = value.strip(), {}
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        key, _, val = flag[2:].partition("=")
        flags[key] = val
        rest = rest.lstrip()
    words = exec_form(rest) if rest.startswith("[") else rest.split()
    if len(words) < 2:
        raise ValueError(f"COPY needs a source and a destination: {value!r}")
    *sources, dest = words
    if len(sources) > 1 and not dest.endswith("/"):
        raise ValueError(f"COPY with several sources needs a destination ending in '/': {value!r}")
    return Copy(flags, sources, dest)


@dataclass(frozen=True)
class _Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


def _compile(pattern: str) -> re.Pattern[str]:
    """moby/patternmatcher's translation of a cleaned pattern into a regex."""
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch in ".$":
            out += "\\" + ch
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += ch
        i += 1
    return re.compile(out + "$")


class DockerIgnore:
    """The build-context filter a .dockerignore defines (the last matching pattern
    wins; a pattern also matches every path below a directory it matches)."""

    def __init__(self, text: str) -> None:
        self.patterns: list[_Pattern] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
            cleaned = posixpath.normpath(line)
            if len(cleaned) > 1 and cleaned.startswith("/"):
                cleaned = cleaned[1:]
            self.patterns.append(_Pattern(cleaned, exclusion, _compile(cleaned)))

    def excluded(self, path: str) -> bool:
        """Whether the builder leaves this context-relative path out."""
        path = posixpath.normpath(path)
        parents = posixpath.dirname(path).split("/") if "/" in path else []
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = bool(pattern.regex.match(path)) or any(
                pattern.regex.match("/".join(parents[: i + 1])) for i in range(len(parents))
            )
            if hit:
                matched = not pattern.exclusion
        return matched

    def _may_reinclude_below(self, directory: str) -> bool:
        return any(
            p.exclusion and (p.text.startswith(directory + "/") or p.text.startswith(_WILDCARDS))
            for p in self.patterns
        )

    def context_files(self, root: Path) -> set[str]:
        """Every file of ``root`` the build context would hold, as relative posix paths."""
        found: set[str] = set()

        def walk(directory: Path) -> None:
            for entry in sorted(directory.iterdir()):
                rel = entry.relative_to(root).as_posix()
                if entry.is_dir() and not entry.is_symlink():
                    if self.excluded(rel) and not self._may_reinclude_below(rel):
                        continue
                    walk(entry)
                elif not self.excluded(rel):
                    found.add(rel)

        walk(root)
        return found


def copy_into(copy: Copy, context: Path, files: set[str], root: Path) -> list[Path]:
    """Do what the builder's COPY does, into ``root`` standing for the image's ``/``.

    Only files present in the build context (``files``) are copied; returns the
    files written.
    """
    written: list[Path] = []
    dest = root / copy.dest.lstrip("/")
    for source in copy.sources:
        if any(ch in source for ch in _WILDCARDS):
            raise ValueError(f"wildcard COPY sources are not supported here: {source}")
        rel = posixpath.normpath(source)
        if rel in files:
            target = dest / posixpath.basename(rel) if copy.dest.endswith("/") else dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(context / rel, target)
            written.append(target)
            continue
        below = sorted(f for f in files if f.startswith(rel + "/"))
        for name in below:
            target = dest / name[len(rel) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(context / name, target)
            written.append(target)
    return written
