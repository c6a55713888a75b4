"""Which steering files apply by path or by request: glob patterns and ``auto`` matching.

Patterns are globs over ``/``-separated paths relative to the project root: ``*`` and ``?``
stay within one folder, ``**`` spans folders, ``[abc]`` is a class, ``{a,b}`` alternatives
(nested braces too). A pattern without ``/`` matches the file name at any depth (``*.py``),
as in ``.gitignore``; a pattern ending in ``/`` matches everything below that folder.

``auto`` selection is lexical and deterministic: the content words of the request and of the
file's description and name (lower case, stop words dropped, light suffix stripping:
``tests``, ``testing`` and ``tested`` are all ``test``) are compared. The file is chosen when
at least ``AUTO_MIN_COVERAGE`` (25 %) of its description's words occur in the request and at
least ``AUTO_MIN_SHARED`` (2) words are shared in all (words of its name count too); a
description of one or two words must occur whole.

``specloom.agent.steering`` re-exports the public names; a steering file is matched through
the ``AutoCandidate`` protocol, which its ``SteeringFile`` satisfies, so this module does not
depend on it.

May import: the standard library.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol

__all__ = [
    "AUTO_MIN_COVERAGE",
    "AUTO_MIN_SHARED",
    "MAX_BRACE_EXPANSIONS",
    "AutoCandidate",
    "auto_score",
    "expand_braces",
    "glob_match",
]

AUTO_MIN_SHARED = 2
"""Content words an ``auto`` file's description must share with the request."""
AUTO_MIN_COVERAGE = 0.25
"""Share of the description's content words that must occur in the request."""


class AutoCandidate(Protocol):
    """What ``auto`` matching reads of a steering file (``SteeringFile`` has all of it)."""

    @property
    def name(self) -> str: ...

    @property
    def declared_name(self) -> str | None: ...

    @property
    def description(self) -> str: ...


def _split_top_level(text: str) -> list[str]:
    """``text`` split at commas outside braces and brackets."""
    parts: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char in "{[":
            depth += 1
        elif char in "}]" and depth:
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


# --- globs --------------------------------------------------------------------------------

MAX_BRACE_EXPANSIONS = 256


def expand_braces(pattern: str) -> list[str]:
    """The patterns a brace glob stands for: ``src/{a,b{c,d}}.ts`` gives ``src/a.ts``,
    ``src/bc.ts``, ``src/bd.ts``. Unbalanced braces are literal; at most
    ``MAX_BRACE_EXPANSIONS`` results."""
    results = [pattern]
    done: list[str] = []
    while results and len(done) < MAX_BRACE_EXPANSIONS:
        current = results.pop(0)
        span = _first_brace(current)
        if span is None:
            done.append(current)
            continue
        start, end = span
        for option in _split_top_level(current[start + 1 : end]):
            results.append(current[:start] + option + current[end + 1 :])
    return done[:MAX_BRACE_EXPANSIONS]


def _first_brace(pattern: str) -> tuple[int, int] | None:
    """The first ``{...}`` holding a top-level comma, as (open index, close index)."""
    for start, char in enumerate(pattern):
        if char != "{":
            continue
        depth = 0
        for end in range(start, len(pattern)):
            if pattern[end] == "{":
                depth += 1
            elif pattern[end] == "}":
                depth -= 1
                if depth == 0:
                    if len(_split_top_level(pattern[start + 1 : end])) > 1:
                        return start, end
                    break
    return None


@lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            at_start = index == 0 or pattern[index - 1] == "/"
            after = index + 2
            if at_start and pattern.startswith("/", after):
                out.append("(?:.*/)?")
                index = after + 1
                continue
            if at_start and after == len(pattern):
                out.append(".*")
                index = after
                continue
            out.append("[^/]*")  # `a**b` is two stars within one name
            index = after
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            close = pattern.find("]", index + 2)
            if close == -1:
                out.append(re.escape(char))
            else:
                inner = pattern[index + 1 : close]
                if inner.startswith("!"):
                    inner = "^" + inner[1:]
                out.append("[" + inner.replace("\\", "\\\\") + "]")
                index = close
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out))


def _normal_path(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def glob_match(pattern: str, path: str) -> bool:
    """Whether ``path`` (relative to the project root) matches the glob ``pattern``.

    See the module docstring for the syntax.
    """
    path = _normal_path(path)
    for option in expand_braces(pattern.strip()):
        option = _normal_path(option)
        if not option:
            continue
        if option.endswith("/"):
            option += "**"
        if "/" not in option:
            if _glob_regex(option).fullmatch(path.rsplit("/", 1)[-1]):
                return True
            continue
        if _glob_regex(option).fullmatch(path):
            return True
    return False


# --- auto matching -----------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing done down during each etc every few for
    from further get gets had has have having he her here hers him his how i if in into is it
    its itself just let me more most my no nor not now of off on once only or other our ours
    out over own please same she should so some such than that the their them then there these
    they this those through to too under until up use used uses using very via want was we
    were what when where which while who whom why will with within without would you your
    yours need needs make makes new file files step""".split()
)


def _stem(word: str) -> str:
    """A light suffix-stripper: enough to meet ``test``, ``tests``, ``testing``, ``tested``."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 6 and word.endswith(("ation", "ition")):
        word = word[:-3]
    elif len(word) > 5 and word.endswith("ion"):
        word = word[:-3]
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]  # running -> runn -> run
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def _terms(text: str) -> set[str]:
    words = _WORD.findall(text.casefold())
    return {_stem(word) for word in words if word not in _STOP_WORDS and len(word) > 1}


def _auto_terms(steering: AutoCandidate) -> tuple[set[str], set[str]]:
    """The description's content words (the name's when there is no description), and the
    name's words, which count as shared when the request has them but are not required."""
    names = _terms(steering.name.replace("/", " "))
    if steering.declared_name:
        names |= _terms(steering.declared_name)
    return (_terms(steering.description) or names), names


def auto_score(steering: AutoCandidate, request: str) -> tuple[float, tuple[str, ...]]:
    """How well ``request`` matches an ``auto`` file: the share of the description's content
    words found in the request, and the words shared (description and name, stemmed,
    sorted)."""
    description, names = _auto_terms(steering)
    if not description:
        return 0.0, ()
    asked = _terms(request)
    score = len(description & asked) / len(description)
    return score, tuple(sorted((description | names) & asked))


def _auto_matches(steering: AutoCandidate, request: str) -> tuple[bool, str]:
    score, shared = auto_score(steering, request)
    small = len(_auto_terms(steering)[0]) <= AUTO_MIN_SHARED
    enough = len(shared) >= AUTO_MIN_SHARED or (small and score == 1.0)
    if enough and score >= AUTO_MIN_COVERAGE:
        words = ", ".join(shared)
        return True, f"auto: the request matches its description ({score:.0%}: {words})"
    return False, ""
