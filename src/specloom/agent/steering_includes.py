"""``#[[file:...]]`` includes in steering text, expanded in place.

``#[[file:relative/path]]`` lines are includes: ``expand_includes`` puts the file's text in
their place (markdown inline, other files in a fenced block), paths relative to the
workspace root and confined to it, includes inside includes followed to ``MAX_INCLUDE_DEPTH``
with cycles cut, each include capped at ``MAX_INCLUDE_CHARS`` and all of them together at
``MAX_INCLUDED_TOTAL``. Directives in fenced code blocks and inline code are left alone.

``specloom.agent.steering`` re-exports the public names.

May import: the standard library, ``specloom.errors`` and ``specloom.agent.confine``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from specloom.agent.confine import Workspace
from specloom.errors import ModelFacingError

__all__ = [
    "MAX_INCLUDED_TOTAL",
    "MAX_INCLUDE_CHARS",
    "MAX_INCLUDE_DEPTH",
    "Expansion",
    "Included",
    "expand_includes",
]

MAX_INCLUDE_DEPTH = 5
"""Includes inside included files are followed this deep."""
MAX_INCLUDE_CHARS = 40_000
"""Characters of one included file kept (the rest is cut with a note)."""
MAX_INCLUDED_TOTAL = 100_000
"""Characters all includes of one text may add together."""


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


_INCLUDE = re.compile(r"#\[\[file:(?P<path>[^\]\n]+?)\]\]")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


@dataclass(frozen=True, slots=True)
class Included:
    """One file an include put into a text.

    Attributes:
        path: The file, relative to the workspace root.
        size: Characters of its text that went in.
    """

    path: str
    size: int


class Expansion(NamedTuple):
    """What ``expand_includes`` returns.

    Attributes:
        text: The text with every include replaced.
        included: The files put in, in order (a file included twice is listed twice).
        problems: What could not be included, and why.
    """

    text: str
    included: list[Included]
    problems: list[str]


def _fence_for(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    return "`" * (longest + 1)


def expand_includes(
    text: str,
    workspace: Workspace | Path,
    *,
    source: str = "",
    origin: Path | None = None,
    max_depth: int = MAX_INCLUDE_DEPTH,
    max_chars: int = MAX_INCLUDE_CHARS,
    max_total: int = MAX_INCLUDED_TOTAL,
) -> Expansion:
    """Replace each ``#[[file:path]]`` in ``text`` with that file's text.

    Args:
        text: Markdown (a steering file's body).
        workspace: The folders includes may read (a path is one root).
        source: How problems name the text (a steering file's path).
        origin: The file ``text`` was read from, so that including it again is a cycle.
        max_depth: How deep includes inside included files are followed.
        max_chars: Characters kept of one included file.
        max_total: Characters all includes together may add.

    Returns:
        The new text, the files included and the problems; a refused, missing, circular or
        over-budget include is replaced by a note saying so, in place.
    """
    if isinstance(workspace, Path):
        workspace = Workspace([workspace])
    state = _IncludeState(workspace, max_depth, max_chars, max_total)
    stack = (Path(os.path.realpath(origin)),) if origin is not None else ()
    expanded = state.expand(text, source or "text", stack)
    return Expansion(expanded, state.included, state.problems)


@dataclass(slots=True)
class _IncludeState:
    workspace: Workspace
    max_depth: int
    max_chars: int
    max_total: int
    used: int = 0
    included: list[Included] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def expand(self, text: str, source: str, stack: tuple[Path, ...]) -> str:
        out: list[str] = []
        fence: str | None = None
        for number, line in enumerate(text.split("\n"), start=1):
            opening = _FENCE.match(line)
            if fence is not None:
                if (
                    opening
                    and opening.group(1)[0] == fence[0]
                    and len(opening.group(1)) >= len(fence)
                ):
                    fence = None
                out.append(line)
                continue
            if opening:
                fence = opening.group(1)
                out.append(line)
                continue
            if "#[[" not in line:
                out.append(line)
                continue
            spans = [match.span() for match in _CODE_SPAN.finditer(line)]
            pieces: list[str] = []
            last = 0
            for match in _INCLUDE.finditer(line):
                if any(start <= match.start() < end for start, end in spans):
                    continue
                pieces.append(line[last : match.start()])
                where = f"{source}:{number}"
                pieces.append(self._one(match.group("path").strip(), where, stack))
                last = match.end()
            pieces.append(line[last:])
            out.append("".join(pieces))
        return "\n".join(out)

    def _note(self, where: str, message: str) -> str:
        self.problems.append(f"{where}: {message}")
        return f"[include skipped: {message}]"

    def _one(self, raw: str, where: str, stack: tuple[Path, ...]) -> str:
        path = _unquote(raw.strip())
        try:
            real = self.workspace.resolve(path, write=False)
        except ModelFacingError as error:
            return self._note(where, f"#[[file:{path}]] is refused: {error}")
        shown = self.workspace.display(real)
        if not real.is_file():
            return self._note(where, f"#[[file:{path}]]: no such file in the workspace")
        if real in stack:
            chain = " -> ".join([*(self.workspace.display(p) for p in stack), shown])
            return self._note(where, f"#[[file:{path}]] includes itself in a cycle ({chain})")
        if len(stack) >= self.max_depth:
            return self._note(
                where, f"#[[file:{path}]] is nested more than {self.max_depth} includes deep"
            )
        room = self.max_total - self.used
        if room <= 0:
            return self._note(
                where, f"#[[file:{path}]]: the includes reached {self.max_total} characters"
            )
        try:
            data = real.read_bytes()
        except OSError as error:
            return self._note(where, f"#[[file:{path}]] cannot be read ({error.strerror})")
        if b"\0" in data[:8192]:
            return self._note(where, f"#[[file:{path}]] is a binary file")
        content = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        content = content.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
        limit = min(self.max_chars, room)
        cut = len(content) > limit
        if cut:
            content = content[:limit].rsplit("\n", 1)[0] if "\n" in content[:limit] else ""
            self.problems.append(
                f"{where}: #[[file:{path}]] was cut to {len(content)} of "
                f"{len(data)} bytes (the include limit)."
            )
        self.used += len(content)
        self.included.append(Included(shown, len(content)))
        markdown = real.suffix.lower() in (".md", ".markdown", ".mdx", ".txt", "")
        if markdown:
            content = self.expand(content, shown, (*stack, real))
            body = content
        else:
            fence = _fence_for(content)
            language = real.suffix.lstrip(".").lower()
            body = f"{fence}{language}\n{content}\n{fence}"
        note = f"\n[... {shown} cut here: the include limit was reached]" if cut else ""
        return f"<!-- included: {shown} -->\n{body}{note}\n<!-- end of {shown} -->"
