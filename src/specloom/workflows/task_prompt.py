"""The focused prompt of one task: what the agent needs to do it, and nothing more.

Sending the whole spec with every task wastes tokens and drowns small models, so a task's
prompt holds:

- the task: its title, its detail bullets and the title of the task it belongs to;
- the acceptance criteria it cites (``_Requirements:_`` and ``Validates:`` lines), in full,
  under their requirements' titles; a task that cites nothing takes its sub-tasks' citations,
  else its parent's; the glossary entries those criteria and the task use;
- the correctness properties it references (``Property N``); a property-test task that names
  none takes the properties that validate the criteria it cites;
- the design sections it needs: each section of ``design.md`` (its own text, without its
  sub-sections) is scored by what it shares with the task, and the best ones are kept:
  at most ``MAX_SECTIONS``, ``DESIGN_CHARS`` characters, each scoring at least
  ``RELATIVE_SCORE`` of the best. A section that cites a requirement the task cites scores
  most; then the names the task writes as code (backticks, ``CamelCase``, ``snake_case``,
  paths) and the word pairs of its text ("payment without currency"), weighted by how rare
  they are in the design (inverse document frequency); then plain words of the task's title
  and details, and code names and words of the cited criteria. A section needs a code name,
  a phrase, a cited requirement or two of the task's words to be kept;
- how the task is verified (the test command) and, for property tasks, where the
  property-based tests are.

Steering, memory, ``#file`` references and the repository map are not in the prompt text:
``task_context`` gathers them with ``specloom.agent.context.build_context`` (the task's own
text is the request, so ``auto`` steering and ``#name`` references follow the task), and
they go into the agent's instructions. For a task in a worktree, ``.kiro/`` (steering,
memory) is read from the project root and files (``#file``, the map) from the worktree.

May import: the standard library, ``specloom.errors``, ``specloom.settings``, ``specloom.spec``
and ``specloom.agent.context``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from specloom.agent.context import DEFAULT_MAX_CHARS, Context, build_context, parse_references
from specloom.errors import SpecNotFoundError
from specloom.settings import Settings
from specloom.spec.design import DesignDocument, Property, parse_design
from specloom.spec.model import Spec
from specloom.spec.refs import parse_id_list
from specloom.spec.requirements import Criterion, GlossaryEntry, Requirement
from specloom.spec.tasks import Task

__all__ = [
    "DESIGN_CHARS",
    "DesignExcerpt",
    "TaskPrompt",
    "build_task_prompt",
    "feedback_prompt",
    "is_property_task",
    "paths_in",
    "task_context",
    "task_request",
    "touched_paths",
]

DESIGN_CHARS = 12_000
"""Characters of design sections in one task's prompt, at most."""
MIN_SECTION_SCORE = 3.0
"""A design section scoring less than this is left out."""
RELATIVE_SCORE = 0.3
"""A design section scoring less than this share of the best section's score is left out."""
MAX_SECTIONS = 6
"""Design sections in one task's prompt, at most."""

_BACKTICKS = re.compile(r"`([^`\n]{1,120})`")
_CODE_TOKEN = re.compile(r"[A-Za-z_@$-][\w.@$/-]*")
_CAMEL = re.compile(r"\b(?:[A-Z][a-z0-9]+){2,}[A-Za-z0-9]*\b|\b[a-z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b")
_SNAKE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")
_PATH = re.compile(
    r"(?<![\w/])(?:[\w.-]+/)+[\w.-]+\.[A-Za-z]{1,6}\b"
    r"|\b[\w-]+\.(?:py|pyi|ts|tsx|js|jsx|mjs|go|rs|java|kt|rb|php|cs|swift|c|h|cpp|hpp|sql|"
    r"prisma|toml|ya?ml|json|sh|css|scss|html|vue|svelte)\b"
)
_WORD = re.compile(r"[A-Za-z][a-z]{3,}")
_PAIR_TOKEN = re.compile(r"[A-Za-z][A-Za-z]+")
_ARTICLES = frozenset({"a", "an", "the"})
_REQUIREMENT_REF = re.compile(
    r"\b(?:Requirements?|Reqs?|Criteria|Criterion|AC)\b\s*(?:\*\*|__|_)?\s*[:：#]?\s*(?:\*\*|__|_)?"
    r"\s*(?P<refs>\d+(?:\.\d+)*(?:\s*(?:,|and|&|-|–|to)\s*\d+(?:\.\d+)*)*)",
    re.IGNORECASE,
)
_PROPERTY_TITLE = re.compile(r"\bproperty[- ]based\b|\bproperty tests?\b|\bpbt\b", re.IGNORECASE)
_CORRECTNESS = re.compile(r"^correctness propert", re.IGNORECASE)
_STOPWORDS = frozenset(
    """
    about above after again against also among another appropriate based been before being
    below between both called cannot could create created creates creating does doing done
    down during each ensure ensures every from further have having here into itself just
    make makes making more most must need needs only other over same should shall some such
    than that their them then there these they this those through under until update
    updated updates using very what when where which while will with within without would
    your implement implements implemented implementing implementation write writes writing
    written task tasks test tests add adds added adding work works used uses use well like
    new file files code function functions method methods class classes module modules
    system support supports provide provides handle handles proper properly correct
    correctly feature features requirement requirements criteria design spec
    """.split()
)

_W_REQUIREMENT = 6.0
_W_TASK_CODE = 3.0
_W_CRITERIA_CODE = 1.5
_W_TASK_PHRASE = 2.0
_W_TASK_WORD = 1.0
_W_CRITERIA_WORD = 0.25


@dataclass(frozen=True, slots=True)
class DesignExcerpt:
    """A design section chosen for a task.

    Attributes:
        title: The section's heading path (``Components and Interfaces > Parser``).
        text: Its own text (sub-sections not included), heading left out.
        line: 1-based line of its heading in ``design.md``.
        score: How well it matched.
        matched: What it matched: requirement ids and terms.
    """

    title: str
    text: str
    line: int
    score: float
    matched: tuple[str, ...] = ()


@dataclass(slots=True)
class TaskPrompt:
    """A task's prompt and what went into it.

    Attributes:
        spec: The spec's name.
        task: The task.
        parent: The task it belongs to, if any.
        criteria: The criteria it cites, with their requirements, in document order.
        missing: Cited ids the requirements do not have.
        glossary: Glossary entries the task and its criteria use.
        properties: The correctness properties it needs.
        sections: The design sections chosen, in document order.
        test_command: How the task is verified, as shown.
        property_file: Where its property-based tests are (relative path), if any.
        whole_files: The agent answers with whole files instead of using tools (its tests
            are run for it; it cannot read more of the spec).
        text: The prompt, ready to send.
    """

    spec: str
    task: Task
    parent: Task | None
    criteria: list[tuple[Requirement, Criterion]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    glossary: list[GlossaryEntry] = field(default_factory=list)
    properties: list[Property] = field(default_factory=list)
    sections: list[DesignExcerpt] = field(default_factory=list)
    test_command: str | None = None
    property_file: str | None = None
    property_file_generated: bool = False
    whole_files: bool = False
    text: str = ""


def is_property_task(task: Task) -> bool:
    """Whether ``task`` is about property-based tests: it references a ``Property N`` or its
    title says so."""
    return bool(task.properties) or bool(_PROPERTY_TITLE.search(task.title))


def task_request(task: Task) -> str:
    """The task's own words (title and details): the request that selects steering."""
    return "\n".join([task.title, *task.details])


def touched_paths(task: Task) -> list[str]:
    """Paths the task names (in backticks or as ``folder/file.ext``), for ``fileMatch``
    steering."""
    return paths_in(task.title, *task.details)


def paths_in(*texts: str) -> list[str]:
    """Relative file paths the texts name (in backticks or as ``folder/file.ext``), in order."""
    found: list[str] = []
    for text in texts:
        candidates = [m.group(1) for m in _BACKTICKS.finditer(text)]
        candidates += [m.group(0) for m in _PATH.finditer(text)]
        for candidate in candidates:
            cleaned = candidate.strip().removeprefix("./").rstrip(".,;:")
            if (
                _PATH.fullmatch(cleaned)
                and " " not in cleaned
                and not cleaned.startswith("/")
                and cleaned not in found
            ):
                found.append(cleaned)
    return found


# -- what the task cites ---------------------------------------------------------------------


def _citations(spec: Spec, task: Task) -> tuple[list[str], bool]:
    """The ids ``task`` cites (its own, else its sub-tasks', else its parent's), and whether
    it cites every requirement."""
    tasks = spec.tasks
    own = task.cited()
    if own or task.cites_all:
        return own, task.cites_all
    if tasks is not None and task.children:
        ids: list[str] = []
        cites_all = False
        for child_id in task.children:
            child = tasks.get(child_id)
            if child is None:
                continue
            cites_all = cites_all or child.cites_all
            ids += [item for item in child.cited() if item not in ids]
        if ids or cites_all:
            return ids, cites_all
    parent = tasks.get(task.parent) if tasks is not None and task.parent else None
    if parent is not None:
        return parent.cited(), parent.cites_all
    return [], False


def _cited_criteria(
    spec: Spec, ids: Sequence[str], cites_all: bool
) -> tuple[list[tuple[Requirement, Criterion]], list[str]]:
    requirements = spec.requirement_list()
    wanted = set(ids)
    chosen: list[tuple[Requirement, Criterion]] = []
    found: set[str] = set()
    for requirement in requirements:
        whole = cites_all or requirement.id in wanted
        if requirement.id in wanted:
            found.add(requirement.id)
        for criterion in requirement.criteria:
            if whole or criterion.id in wanted:
                chosen.append((requirement, criterion))
                found.add(criterion.id)
    missing = [item for item in ids if item not in found]
    return chosen, missing


def _glossary(spec: Spec, texts: Iterable[str]) -> list[GlossaryEntry]:
    if spec.requirements is None:
        return []
    joined = "\n".join(texts).casefold()
    chosen: list[GlossaryEntry] = []
    for entry in spec.requirements.glossary:
        term = entry.term.strip().casefold()
        variants = {term, term.replace("_", " "), term.replace(" ", "_")}
        if term and any(re.search(rf"(?<!\w){re.escape(v)}(?!\w)", joined) for v in variants):
            chosen.append(entry)
    return chosen


def _needed_properties(
    design: DesignDocument | None, task: Task, cited: Sequence[str]
) -> list[Property]:
    if design is None:
        return []
    if task.properties:
        wanted = set(task.properties)
        return [prop for prop in design.properties if prop.id in wanted]
    if not is_property_task(task):
        return []
    cited_set = set(cited)
    requirements = {item.split(".", 1)[0] for item in cited if "." not in item}

    def validates_cited(prop: Property) -> bool:
        return any(
            item in cited_set or item.split(".", 1)[0] in requirements for item in prop.validates
        )

    return [prop for prop in design.properties if validates_cited(prop)]


# -- design sections -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Unit:
    title: str
    path: str
    line: int
    text: str
    words: frozenset[str]
    pairs: frozenset[str]
    lower: str
    cites: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Term:
    text: str
    weight: float
    kind: Literal["code", "word", "phrase"]
    pattern: re.Pattern[str] | None = None  # code names match as written


@functools.lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    word = word.casefold()
    if word.endswith(("ss", "us", "is")):
        return word
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text) if w.casefold() not in _STOPWORDS}


def _pairs(text: str) -> set[str]:
    """Adjacent word pairs (articles skipped, words stemmed) with at least one content word:
    a phrase the task shares with a section ("payment without currency") says more than
    its words do apart."""
    tokens = [t.casefold() for t in _PAIR_TOKEN.findall(text)]
    tokens = [t for t in tokens if t not in _ARTICLES]
    pairs: set[str] = set()
    for first, second in zip(tokens, tokens[1:], strict=False):
        if first in _STOPWORDS and second in _STOPWORDS:
            continue
        if max(len(first), len(second)) < 4:
            continue
        pairs.add(f"{_stem(first)} {_stem(second)}")
    return pairs


def _code_names(text: str) -> list[str]:
    """Names the text writes as code: in backticks (kept whatever they are), paths,
    ``CamelCase`` and ``snake_case`` words; for a path, its file name and stem too."""
    names: list[str] = []
    quoted = [(m.group(1), True) for m in _BACKTICKS.finditer(text)]
    bare = [(m.group(0), False) for pattern in (_PATH, _CAMEL, _SNAKE)
            for m in pattern.finditer(text)]  # fmt: skip
    for piece, backticked in quoted + bare:
        for token in _CODE_TOKEN.findall(piece):
            token = token.rstrip(".-/").lstrip("./")
            candidates = [token]
            if "/" in token:
                base = token.rsplit("/", 1)[1]
                candidates += [base, base.split(".", 1)[0]]
            elif re.search(r"\.[A-Za-z]{1,6}$", token):
                candidates.append(token.split(".", 1)[0])
            for name in candidates:
                if len(name.strip("-@$")) < 3 or not re.search(r"[A-Za-z]", name):
                    continue
                if (backticked or name.casefold() not in _STOPWORDS) and name not in names:
                    names.append(name)
    return names


def _code_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE)


def _units(design: DesignDocument) -> tuple[_Unit, ...]:
    """Each section's own text (up to the next heading), with its heading path; worked out
    once per design text (every task of a spec shares them)."""
    if design.document is None:
        return ()
    return _units_of(design.render(), design.path)


@functools.lru_cache(maxsize=16)
def _units_of(text: str, path: str) -> tuple[_Unit, ...]:
    design = parse_design(text, path)
    assert design.document is not None
    lines = design.document.lines
    sections = sorted(design.sections, key=lambda s: s.line)
    property_lines = {prop.line for prop in design.properties}
    units: list[_Unit] = []
    trail: list[tuple[int, str]] = []
    skip_below: int | None = None
    for position, section in enumerate(sections):
        while trail and trail[-1][0] >= section.level:
            trail.pop()
        trail.append((section.level, section.title))
        if skip_below is not None and section.level > skip_below:
            continue
        skip_below = None
        if _CORRECTNESS.match(section.title):
            skip_below = section.level  # properties go in by reference, not by score
            continue
        end = sections[position + 1].line - 1 if position + 1 < len(sections) else len(lines)
        end = min(end, section.end_line)
        if any(section.line <= number <= end for number in property_lines):
            continue
        body = "".join(line.raw for line in lines[section.line : end]).strip("\n")
        if not body.strip():
            continue
        path = " > ".join(title for level, title in trail if level > 1 or len(trail) == 1)
        whole = f"{section.title}\n{body}"
        cites = tuple(
            dict.fromkeys(
                item
                for match in _REQUIREMENT_REF.finditer(body)
                for item in parse_id_list(match.group("refs"))
            )
        )
        units.append(_Unit(section.title, path or section.title, section.line, body,
                           frozenset(_words(whole)), frozenset(_pairs(whole)),
                           whole.casefold(), cites))  # fmt: skip
    return tuple(units)


def _cites_requirement(unit: _Unit, criteria: set[str], requirements: set[str]) -> list[str]:
    """The ids of cited criteria (or of their requirements) that ``unit`` refers to."""
    return [
        item for item in unit.cites if (item in criteria if "." in item else item in requirements)
    ]


def _choose_sections(
    design: DesignDocument | None,
    task: Task,
    parent: Task | None,
    criteria: Sequence[tuple[Requirement, Criterion]],
    budget: int,
) -> list[DesignExcerpt]:
    if design is None or budget <= 0:
        return []
    units = _units(design)
    if not units:
        return []
    own_text = "\n".join([task.title, *task.details])
    task_text = own_text + (f"\n{parent.title}" if parent else "")
    criteria_text = "\n".join(criterion.text for _, criterion in criteria)
    terms: list[_Term] = []
    seen: set[str] = set()
    for source, weight in ((task_text, _W_TASK_CODE), (criteria_text, _W_CRITERIA_CODE)):
        for name in _code_names(source):
            if name.casefold() not in seen:
                seen.add(name.casefold())
                terms.append(_Term(name, weight, "code", _code_pattern(name)))
    plain = re.sub(r"`[^`]*`", " ", own_text)
    terms += [_Term(pair, _W_TASK_PHRASE, "phrase") for pair in sorted(_pairs(plain))]
    task_words = _words(re.sub(r"`[^`]*`", " ", task_text))
    terms += [_Term(word, _W_TASK_WORD, "word") for word in sorted(task_words)]
    terms += [
        _Term(word, _W_CRITERIA_WORD, "word") for word in sorted(_words(criteria_text) - task_words)
    ]
    count = len(units)

    def present(term: _Term, unit: _Unit) -> bool:
        if term.pattern is not None:
            return term.text.casefold() in unit.lower and bool(term.pattern.search(unit.lower))
        if term.kind == "phrase":
            return term.text in unit.pairs
        return term.text in unit.words

    frequency = {term.text: sum(1 for unit in units if present(term, unit)) for term in terms}
    criteria_ids = {criterion.id for _, criterion in criteria}
    requirement_ids = {requirement.id for requirement, _ in criteria}
    scored: list[DesignExcerpt] = []
    for unit in units:
        score = 0.0
        matched: list[str] = []
        strong_hits = 0
        task_word_hits = 0
        references = _cites_requirement(unit, criteria_ids, requirement_ids)
        if references:
            score += _W_REQUIREMENT * len(references)
            matched += [f"Requirement {item}" for item in references]
        for term in terms:
            if not present(term, unit):
                continue
            rarity = math.log((count + 1) / (frequency[term.text] + 0.5))
            if rarity <= 0:
                continue
            score += term.weight * rarity
            matched.append(term.text)
            if term.kind != "word":
                strong_hits += 1
            elif term.weight == _W_TASK_WORD:
                task_word_hits += 1
        strong = references or strong_hits or task_word_hits >= 2
        if strong and score >= MIN_SECTION_SCORE:
            scored.append(DesignExcerpt(unit.path, unit.text, unit.line, round(score, 2),
                                        tuple(matched)))  # fmt: skip
    chosen: list[DesignExcerpt] = []
    used = 0
    best = max((excerpt.score for excerpt in scored), default=0.0)
    for excerpt in sorted(scored, key=lambda e: (-e.score, e.line)):
        size = len(excerpt.text) + len(excerpt.title) + 8
        if excerpt.score < best * RELATIVE_SCORE or len(chosen) == MAX_SECTIONS:
            break
        if used + size > budget:
            continue
        chosen.append(excerpt)
        used += size
    return sorted(chosen, key=lambda e: e.line)


# -- the prompt ------------------------------------------------------------------------------


def build_task_prompt(
    spec: Spec,
    task_id: str,
    *,
    test_command: str | None = None,
    property_file: str | None = None,
    property_file_generated: bool = False,
    design_chars: int = DESIGN_CHARS,
    whole_files: bool = False,
) -> TaskPrompt:
    """The focused prompt of task ``task_id`` of ``spec`` (see the module docstring).

    Args:
        spec: The parsed spec.
        task_id: The task's id.
        test_command: The command that verifies the task, as shown to the model.
        property_file: Where the task's property-based tests are (or go), relative to the
            work folder.
        property_file_generated: Whether that file was written for this task already (the
            agent makes it pass) or the agent writes it.
        design_chars: The most characters of design sections.
        whole_files: Word it for the whole-file edit format (no tools).

    Raises:
        SpecNotFoundError: The spec has no tasks, or no task ``task_id``.
    """
    if spec.tasks is None:
        raise SpecNotFoundError(
            "this spec has no tasks.md yet.",
            file=spec.file("tasks.md"),
            hint="Approve the design to generate tasks, or write tasks.md.",
        )
    task = spec.tasks.task(task_id)
    parent = spec.tasks.get(task.parent) if task.parent else None
    cited, cites_all = _citations(spec, task)
    criteria, missing = _cited_criteria(spec, cited, cites_all)
    properties = _needed_properties(spec.design, task, cited)
    sections = _choose_sections(spec.design, task, parent, criteria, design_chars)
    glossary = _glossary(spec, [task_request(task), *(criterion.text for _, criterion in criteria)])
    prompt = TaskPrompt(
        spec.name,
        task,
        parent,
        criteria,
        missing,
        glossary,
        properties,
        sections,
        test_command,
        property_file,
        property_file_generated,
        whole_files,
    )
    prompt.text = _render(spec, prompt)
    return prompt


def _render(spec: Spec, prompt: TaskPrompt) -> str:
    task = prompt.task
    out = [f"# Task {task.id} of spec {spec.name}", "", task.title]
    if prompt.parent is not None:
        out.append(f"(part of task {prompt.parent.id}: {prompt.parent.title})")
    out += [f"- {detail}" for detail in task.details]
    if prompt.criteria or prompt.missing:
        out += ["", f"## Acceptance criteria it must meet ({spec.requirements_path()})"]
        current: str | None = None
        for requirement, criterion in prompt.criteria:
            if requirement.id != current:
                current = requirement.id
                title = f": {requirement.title}" if requirement.title else ""
                out.append(f"Requirement {requirement.id}{title}")
            out.append(f"- {criterion.id}: {criterion.text}")
        if prompt.missing:
            out.append(f"(cited, but not in {spec.requirements_path()}: "
                       f"{', '.join(prompt.missing)})")  # fmt: skip
    if prompt.glossary:
        out += ["", "## Glossary"]
        out += [f"- {entry.term}: {entry.definition}" for entry in prompt.glossary]
    if prompt.properties:
        out += ["", f"## Correctness properties ({spec.file('design.md')})"]
        for prop in prompt.properties:
            out.append(f"Property {prop.id}: {prop.title}".rstrip(": "))
            if prop.statement:
                out.append(prop.statement)
            if prop.validates:
                out.append(f"Validates: Requirements {', '.join(prop.validates)}")
    for excerpt in prompt.sections:
        out += ["", f"## Design: {excerpt.title}", excerpt.text.rstrip()]
    out += ["", "## Done when"]
    if prompt.test_command:
        out.append(f"`{prompt.test_command}` passes in the project: it is run after you answer, "
                   "and only a pass completes the task.")  # fmt: skip
    if prompt.criteria:
        out.append(
            "Add or update tests for the criteria above; tag each test with "
            "`Validates: Requirements X.Y` in its docstring."
        )
    out.append(
        "Do only this task."
        if prompt.whole_files
        else "Do only this task, and run the tests before you answer."
    )
    if prompt.property_file and prompt.properties:
        ids = ", ".join(prop.id for prop in prompt.properties)
        if prompt.property_file_generated:
            out.append(
                f"Property-based tests for properties {ids} are in `{prompt.property_file}`: "
                "make them pass. Change a test only where it misstates its property."
            )
        else:
            out.append(
                f"Write a Hypothesis test (`@given`) for each of properties {ids} in "
                f"`{prompt.property_file}`, each with `Feature: {spec.name}, Property N` in a "
                "comment and `Validates: Requirements X.Y` in its docstring."
            )
    if not prompt.whole_files:
        out.append(f'More of the spec: read_spec("{spec.name}", "<part>").')
    return "\n".join(out) + "\n"


_PYTEST_NO_TESTS = 5
"""pytest's exit status when it collected no test."""


def feedback_prompt(
    attempt: int,
    attempts: int,
    command: str,
    exit_code: int,
    tail: str,
    *,
    timed_out: bool,
    whole_files: bool = False,
    about_tests: bool = False,
) -> str:
    """The next attempt's request: how verification failed, with the end of its output
    (worded for the whole-file edit format with ``whole_files``; with ``about_tests``, for
    tests that failed their own assertions and are written again against the code kept:
    ``tail`` is then the failing tests, ``verify.failing_tests``)."""
    how = "timed out" if timed_out else f"exited with status {exit_code}"
    if exit_code == _PYTEST_NO_TESTS and "pytest" in command and not timed_out:
        how += (
            " because it found no tests: the task's tests are part of the task (for pytest, "
            "in files named `test_*.py`)"
        )
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`{3,}", tail)), default=0) + 1)
    shown = "The tests that failed" if about_tests else "The end of its output"
    failed = (
        f"Verification failed (attempt {attempt} of {attempts}): `{command}` {how}. "
        f"{shown}:\n{fence}text\n{tail.rstrip()}\n{fence}\n"
    )
    if about_tests:
        return (
            failed + "The code ran: under each failed assertion, the E lines compare the "
            "value the code returned with the value the test expected."
        )
    return (
        failed + "Find the cause and fix it (fix the code, not the tests, unless a test is "
        "wrong about the criteria). "
        + (
            "Answer with every file the task needs, each written in full."
            if whole_files
            else "Run the tests again before you answer."
        )
    )


# -- steering, memory, references ------------------------------------------------------------

_LAYOUT = {"steering": 0, "memory": 1, "repomap": 2, "spec": 3, "file": 4, "include": 4}


def task_context(
    root: Path,
    workdir: Path,
    *,
    request: str,
    touched: Sequence[str] = (),
    settings: Settings | None = None,
    max_chars: int | None = None,
    include_repo_map: bool = True,
    include_memory: bool = True,
) -> Context:
    """Steering, memory, ``#file``/``#spec`` references and the repository map for a task.

    Args:
        root: The project root: steering, memory and specs are read from its ``.kiro/``.
        workdir: Where the task works (``root`` or a worktree): ``#file`` references and
            the repository map are read there.
        request: The task's own text (``task_request``).
        touched: Paths the task names, for ``fileMatch`` steering.
        settings: The merged settings.
        max_chars: The cap on the whole context (default: the settings').
        include_repo_map: Add the repository map.
        include_memory: Add the rules learned from reviews.
    """
    same = root.resolve() == workdir.resolve()
    first = build_context(
        root,
        request=request,
        touched_paths=touched,
        settings=settings,
        include_repo_map=include_repo_map and same,
        include_memory=include_memory,
        max_chars=max_chars,
    )
    if same:
        return first
    references = parse_references(request)
    parts = [part for part in first.parts if part.kind != "file"]
    problems = [p for p in first.problems if not p.startswith("#file:")]
    used = sum(len(part.text) for part in parts)
    room = (max_chars if max_chars is not None else _cap(settings)) - used
    if references.files or include_repo_map:
        from_workdir = build_context(
            workdir,
            request=" ".join(f'#file:"{path}"' for path in references.files),
            settings=settings,
            include_repo_map=include_repo_map,
            include_memory=False,
            max_chars=max(room, 0),
        )
        parts += [part for part in from_workdir.parts if part.kind in ("file", "repomap")]
        problems += [p for p in from_workdir.problems if p.startswith(("#file:", "file "))]
    parts.sort(key=lambda part: _LAYOUT[part.kind])
    return Context(parts, problems)


def _cap(settings: Settings | None) -> int:
    value = settings.get("context", "max_chars") if settings is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else DEFAULT_MAX_CHARS
