"""The names a feature request spells out: the functions it asks for, with their parameters
(``count_words(text)``), and the files (``wordcount.py``).

A small model asked for "a tool whose count_words(text) returns how many times each word
occurs" can write requirements about output files and several input files and never name
``count_words``; the tests written later from those requirements then call functions nobody
asked for. The prompts list the named functions as what the requirements must cover (and the
plan as its code tasks), and a named function no criterion names after the model's answer
gets a requirement of its own in the request's own words (``with_named_functions``: "WHEN
count_words(text) is called, THE count_words function SHALL return how many times each word
occurs").

May import: the standard library and ``specloom.workflows.authoring_schemas``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from specloom.workflows.authoring_schemas import RequirementDraft, RequirementsDraft

__all__ = [
    "NamedFunction",
    "must_cover",
    "named_files",
    "named_functions",
    "plan_note",
    "request_clause",
    "uncovered",
    "with_named_functions",
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


# What ends the words said of a function: the next clause or sentence.
_CLAUSE_END = re.compile(r"[.;:!?](?:\s|$)|,?\s+and\s+(?:whose|which|its|a|an|the)\b|\s+whose\b")
_IRREGULAR = {"has": "have", "does": "do", "goes": "go", "is": "be"}


def _base_form(verb: str) -> str | None:
    """The base form of a verb in the third person ("returns" -> "return", "matches" ->
    "match", "copies" -> "copy"), or ``None`` for a word that is not one."""
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if not (verb.isalpha() and verb.islower() and verb.endswith("s")) or verb.endswith("ss"):
        return None
    if verb.endswith(("ches", "shes", "sses", "xes", "zes")):
        return verb[:-2]
    if verb.endswith("ies") and len(verb) > 4:
        return verb[:-3] + "y"
    return verb[:-1]


def request_clause(request: str, function: NamedFunction) -> str | None:
    """What ``request`` says ``function`` does, as words that follow "SHALL": the clause
    after its signature, its verb put in the base form ("count_words(text) returns how
    many times each word occurs" gives "return how many times each word occurs"); ``None``
    when no verb in the third person follows the signature."""
    named = next((m for m in _CALL.finditer(request) if m.group(1) == function.name), None)
    if named is None:
        return None
    rest = request[named.end() :].strip()
    following = [m.start() for m in _CALL.finditer(rest)]
    if following:
        rest = rest[: following[0]]
    end = _CLAUSE_END.search(rest)
    words = (rest[: end.start()] if end else rest).strip().rstrip(",").split()
    verb = _base_form(words[0]) if len(words) >= 2 else None
    return " ".join([verb, *words[1:]]) if verb is not None else None


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


def with_named_functions(draft: RequirementsDraft, request: str) -> list[str]:
    """Give ``draft`` (in place) a requirement for each function ``request`` names that no
    criterion names, in the request's own words (``request_clause``); a function the request
    says nothing about in a form a criterion can take is left alone. Returns the signatures
    of the functions given one."""
    criteria = [text for requirement in draft.requirements for text in requirement.criteria]
    added: list[str] = []
    for function in uncovered(request, criteria):
        clause = request_clause(request, function)
        if clause is None:
            continue
        draft.requirements.append(
            RequirementDraft.model_construct(
                title=function.signature,
                user_story=(
                    f"As a user, I want {function.signature} to {clause}, so that the tool "
                    "does what I asked for."
                ),
                criteria=[
                    f"WHEN {function.signature} is called, THE {function.short} function "
                    f"SHALL {clause}"
                ],
            )
        )
        added.append(function.signature)
    return added
