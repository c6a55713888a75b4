"""The names a feature request spells out: the functions it asks for, with their parameters
(``count_words(text)``), and the files (``wordcount.py``).

A small model asked for "a tool whose count_words(text) returns how many times each word
occurs" can write requirements about output files and several input files and never name
``count_words``; the tests written later from those requirements then call functions nobody
asked for. The prompts list the named functions as what the requirements must cover (and the
plan as its code tasks), and the requirements check asks for a criterion naming each one that
none names.

May import: the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "NamedFunction",
    "must_cover",
    "named_files",
    "named_functions",
    "plan_note",
    "uncovered",
]

# A name, dotted or not, right before a parenthesised parameter list: "count_words(text)",
# "Counter.most_common(n)", "main()". A space before "(" makes it prose ("a tool (for
# example)"), and the parameters must read as a parameter list (names, defaults, types),
# not as a parenthetical remark.
_CALL = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\(([^()\n]*)\)")
_PARAMETER = re.compile(
    r"\s*(?:[*/]|\*{0,2}[A-Za-z_][A-Za-z0-9_]*\s*(?::\s*[\w.\[\], |]+?)?\s*(?:=\s*[^,]+)?)\s*"
)
# A file name with a source or data suffix; "e.g." and version numbers have no such suffix.
_FILE = re.compile(
    r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.(?:py|pyi|js|jsx|ts|tsx|go|rs|java|kt|rb|php|c|h|cc|"
    r"cpp|hpp|cs|swift|sh|sql|toml|ya?ml|json|md|txt|csv|html|css))(?![\w/])"
)


@dataclass(frozen=True)
class NamedFunction:
    """A function the request asks for.

    Attributes:
        name: Its name as written, dotted where it is (``count_words``, ``Counter.add``).
        signature: The name with its parameters as written (``count_words(text)``).
    """

    name: str
    signature: str

    @property
    def short(self) -> str:
        """The last part of a dotted name (what a criterion would call it)."""
        return self.name.rsplit(".", 1)[-1]


def named_functions(request: str) -> list[NamedFunction]:
    """The functions ``request`` names with a parameter list, in order, each once."""
    found: dict[str, NamedFunction] = {}
    for match in _CALL.finditer(request):
        name, parameters = match.group(1), _split(match.group(2))
        if parameters and not all(_PARAMETER.fullmatch(part) for part in parameters):
            continue
        signature = f"{name}({', '.join(part.strip() for part in parameters)})"
        found.setdefault(name, NamedFunction(name, signature))
    return list(found.values())


def _split(parameters: str) -> list[str]:
    """``parameters`` split at the commas outside brackets (``x: dict[str, int], y``)."""
    if not parameters.strip():
        return []
    parts, depth, start = [], 0, 0
    for at, char in enumerate(parameters):
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            parts.append(parameters[start:at])
            start = at + 1
    return [*parts, parameters[start:]]


def named_files(request: str) -> list[str]:
    """The file names ``request`` spells out (``wordcount.py``), in order, each once."""
    return list(dict.fromkeys(match.group(1) for match in _FILE.finditer(request)))


def must_cover(request: str) -> str | None:
    """The prompt part that lists what the request names, or ``None`` when it names none."""
    functions = named_functions(request)
    files = named_files(request)
    if not functions and not files:
        return None
    names = [function.signature for function in functions] + files
    return (
        f"The request names {', '.join(names)}. Write criteria that name each of them and say "
        "what it does, and add no input, output, file or option the request does not ask for."
    )


def plan_note(request: str) -> str | None:
    """The prompt part that asks the plan for a task per named function, or ``None`` when
    the request names none."""
    functions = named_functions(request)
    if not functions:
        return None
    files = named_files(request)
    where = f" in {files[0]}" if len(files) == 1 else ""
    names = ", ".join(function.signature for function in functions)
    return (
        f"The request names {names}{where}: plan one code task for each, in that order, "
        "each citing the criteria about it."
    )


def uncovered(request: str, texts: Iterable[str]) -> list[NamedFunction]:
    """The functions ``request`` names that none of ``texts`` (the criteria) mentions."""
    joined = "\n".join(texts)
    return [
        function
        for function in named_functions(request)
        if not re.search(rf"(?<![\w]){re.escape(function.short)}(?![\w])", joined, re.IGNORECASE)
    ]
