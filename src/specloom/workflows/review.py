"""Model review of a spec (``specloom analyze --llm``) and applying its rewrites (``--fix``).

``review_spec`` runs the rule-based checks (``specloom.spec.analysis``, the criteria lint
among them), then shows the model the spec's documents with line numbers and asks for
inconsistencies, ambiguities, gaps and conflicts as a small structured list
(``ReviewAnswer``: file, line, kind, message, rewrite). Each item must point at a real
line of the spec; the first answers that do not are sent back to be fixed
(``structured.generate``'s ``check``), and what is still wrong after that is dropped, never
reported at a made-up place (a finding on a blank line moves to the nearest line with text,
without its rewrite). A rewrite of a criterion must be an EARS criterion and one of a task
must keep its checkbox and number; a rewrite that still is not after the repairs is left
out, the finding kept. A model finding that repeats a rule finding on the same line
is merged into it (its rewrite kept as the fix for that line). Model findings are warnings:
only rule findings of severity error make ``analyze`` exit 1.

``apply_rewrites`` replaces exactly the reviewed line's text with the rewrite the user
accepted, in the order of the file, after checking that the line is still what was
reviewed; the spec is parsed again with each change and a rewrite that would break it (a
syntax error, a dependency cycle, a requirement, criterion, task or property that would
disappear) is refused. Each changed file is written once, atomically.

May import: the standard library, pydantic, ``specloom.errors``, ``specloom.spec``,
``specloom.workspace``, ``specloom.agent.runtime`` (for the context window's size) and
``specloom.llm.structured`` (which brings pydantic-ai: load this module only where a model
is used).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, field_validator

from specloom.errors import SpecSyntaxError
from specloom.spec.analysis import analyze_spec
from specloom.spec.ears import Pattern, classify
from specloom.spec.findings import Finding, Severity, sort_findings
from specloom.spec.markdown import split_lines
from specloom.spec.model import Spec, load_spec
from specloom.spec.requirements import Criterion
from specloom.spec.tasks import Task
from specloom.workspace import Workspace, atomic_write, read_text

if TYPE_CHECKING:
    from pydantic_ai.models import Model

__all__ = [
    "DOCUMENT_CHARS",
    "LLM_RULES",
    "REVIEWED_FILES",
    "Decision",
    "FixReport",
    "Review",
    "ReviewAnswer",
    "ReviewItem",
    "Rewrite",
    "SpecDocument",
    "apply_rewrites",
    "merge_findings",
    "read_documents",
    "review_spec",
]

REVIEWED_FILES = ("requirements.md", "bugfix.md", "design.md", "tasks.md")
"""The spec files the model reads, in the order it sees them."""

DOCUMENT_CHARS = 40_000
"""Characters of numbered documents shown to a model with a large context window."""

Kind = Literal["inconsistency", "ambiguity", "gap", "conflict"]
KINDS: tuple[Kind, ...] = ("inconsistency", "ambiguity", "gap", "conflict")

LLM_RULES: dict[str, tuple[Severity, str]] = {
    "LLM-INCONSISTENCY": (Severity.WARNING, "documents or statements that disagree"),
    "LLM-AMBIGUITY": (Severity.WARNING, "wording that cannot be tested as written"),
    "LLM-GAP": (Severity.WARNING, "something the spec needs but does not say"),
    "LLM-CONFLICT": (Severity.WARNING, "statements that cannot both hold"),
}
"""Rule ids of model findings (advice: warnings, never errors)."""

# Which kind of problem each rule family reports, to recognise a model finding that
# repeats a rule finding on the same line.
_RULE_KINDS: dict[str, Kind] = {
    "EARS": "ambiguity",
    "AMB": "ambiguity",
    "DUP": "inconsistency",
    "ANA001": "gap",
    "ANA005": "gap",
    "ANA006": "gap",
    "ANA008": "gap",
    "ANA007": "conflict",
}

_INSTRUCTIONS = """\
You review a software spec: requirements, design and tasks. Report only real problems:
- inconsistency: documents or statements that disagree (names, numbers, references);
- ambiguity: wording that cannot be tested as written (vague words, missing units);
- gap: something needed but missing (an error case, a requirement no task implements);
- conflict: two statements that cannot both hold.
For each problem give: file (the name as shown), line (the number shown before `|`), kind,
message (one sentence), and rewrite: the whole new text of that line, keeping its list
number, checkbox or heading marks, or "" when no one-line rewrite fixes it.
Report at most {limit} problems; report none when the spec is fine."""

_NEAR = 3
"""Lines a finding on a blank line may move to reach text."""
_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")
_COMMON = frozenset("a an the is are be by of to in on for and or not no any it this that".split())
_NUMBER_PREFIX = re.compile(r"^\s*\d+\s*\|\s?")
_MARKER = re.compile(
    r"^(?P<indent>\s*)(?P<marker>(?:#{1,6}\s+)|(?:(?:\d+[.)]|[-*+])\s+(?:\[[ xX~-]\]\*?\s+)?))"
)


class ReviewItem(BaseModel):
    """One problem the model found."""

    file: str = Field(description="The file's name as shown, e.g. requirements.md.")
    line: int = Field(description="The line number shown before `|`.")
    kind: Kind = Field(description="inconsistency, ambiguity, gap or conflict.")
    message: str = Field(description="What is wrong, in one sentence.")
    rewrite: str = Field(default="", description='The whole new text of that line, or "" if none.')

    @field_validator("kind", mode="before")
    @classmethod
    def _normal_kind(cls, value: object) -> object:
        if isinstance(value, str):
            word = value.strip().lower().rstrip("s")
            return {"inconsistencie": "inconsistency", "ambiguitie": "ambiguity"}.get(word, word)
        return value


class ReviewAnswer(BaseModel):
    """The model's review: the problems it found (none when the spec is fine)."""

    findings: list[ReviewItem] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SpecDocument:
    """One file of the spec as the model sees it.

    Attributes:
        name: The file's name (``requirements.md``).
        display: Its path as findings show it (``.kiro/specs/<spec>/requirements.md``).
        lines: Its lines without line endings (line 1 first).
    """

    name: str
    display: str
    lines: tuple[str, ...]

    def line(self, number: int) -> str | None:
        """The text of line ``number`` (1-based), or ``None`` past the end."""
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else None


@dataclass(frozen=True, slots=True)
class Rewrite:
    """A replacement for one line, offered as the fix of a finding.

    Attributes:
        finding: The finding it fixes.
        file_name: The spec file (``requirements.md``).
        display: The file's path as shown.
        line: The 1-based line it replaces.
        old: The line's text when reviewed.
        new: Its replacement (may hold several lines, e.g. a criterion added for a gap).
    """

    finding: Finding
    file_name: str
    display: str
    line: int
    old: str
    new: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {"file": self.display, "line": self.line, "rule": self.finding.rule,
                "old": self.old, "new": self.new}  # fmt: skip


@dataclass(slots=True)
class Review:
    """What ``review_spec`` found.

    Attributes:
        spec: The spec's name.
        findings: Rule and model findings merged, in file and line order.
        rule_findings: The rule-based findings.
        model_findings: The model's findings that were kept (not repeats, real lines).
        rewrites: The line rewrites offered, in file and line order.
        repeats: Model findings merged into a rule finding on the same line.
        dropped: Model findings dropped because they pointed at no real line.
        moved: Model findings on a blank line, moved to the nearest line with text (small
            models are often a line off).
        bad_rewrites: Rewrites left out because they would not do as the line (advice
            instead of a criterion, a task line without its number).
        repairs: Times the model was asked to fix its answer.
        input_tokens: Input tokens of the review.
        output_tokens: Output tokens of the review.
        requests: Model requests made.
    """

    spec: str
    findings: list[Finding]
    rule_findings: list[Finding]
    model_findings: list[Finding]
    rewrites: list[Rewrite]
    repeats: int = 0
    dropped: int = 0
    moved: int = 0
    bad_rewrites: int = 0
    repairs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0

    def source_of(self, finding: Finding) -> str:
        """``"model"`` or ``"rules"``: where a finding of ``findings`` came from."""
        return "model" if finding.rule in LLM_RULES else "rules"


Decision = Literal["yes", "no", "all", "quit"]
"""An answer to "apply this rewrite?": this one, not this one, this and every later one,
or none from here on."""


@dataclass(slots=True)
class FixReport:
    """What ``apply_rewrites`` did.

    Attributes:
        applied: Rewrites written to their files.
        declined: Rewrites the user did not accept.
        refused: Rewrites accepted but not applied, each with the reason.
        files: The files written, as shown.
    """

    applied: list[Rewrite] = field(default_factory=list)
    declined: list[Rewrite] = field(default_factory=list)
    refused: list[tuple[Rewrite, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {
            "applied": [rewrite.to_dict() for rewrite in self.applied],
            "declined": [rewrite.to_dict() for rewrite in self.declined],
            "refused": [rewrite.to_dict() | {"reason": why} for rewrite, why in self.refused],
            "files": list(self.files),
        }


def read_documents(workspace: Workspace, name: str) -> list[SpecDocument]:
    """The spec's reviewed files (``REVIEWED_FILES`` that exist), read from disk.

    Raises:
        SpecNotFoundError: There is no such spec.
        SpecSyntaxError: A file is not UTF-8.
    """
    folder = workspace.spec_folder(name)
    documents: list[SpecDocument] = []
    for file_name in REVIEWED_FILES:
        path = folder / file_name
        if path.is_file():
            display = workspace.display(path)
            lines = tuple(_strip_eol(raw) for raw in split_lines(read_text(path, display)))
            documents.append(SpecDocument(file_name, display, lines))
    return documents


def _strip_eol(raw: str) -> str:
    return raw.rstrip("\r\n")


def _numbered(documents: Sequence[SpecDocument], max_chars: int) -> str:
    """The documents with line numbers, at most ``max_chars`` characters in all.

    When they do not fit, the room is shared: a document shorter than its share is shown
    whole and leaves the rest to the others; a longer one is cut at a line, with a note.
    """
    rendered: list[list[str]] = []
    for document in documents:
        width = len(str(len(document.lines)))
        rendered.append([f"{n:>{width}}| {text}" for n, text in enumerate(document.lines, 1)])
    sizes = [sum(len(line) + 1 for line in lines) for lines in rendered]
    shares = [0] * len(documents)
    left = max_chars
    for position, index in enumerate(sorted(range(len(documents)), key=sizes.__getitem__)):
        shares[index] = min(sizes[index], left // (len(documents) - position))
        left -= shares[index]
    parts: list[str] = []
    for document, lines, share in zip(documents, rendered, shares, strict=True):
        parts.append(f"=== {document.name} ===")
        used = 0
        for number, line in enumerate(lines, start=1):
            if used + len(line) + 1 > share:
                parts.append(f"[lines {number}-{len(lines)} not shown: too long]")
                break
            parts.append(line)
            used += len(line) + 1
    return "\n".join(parts)


def _document_for(documents: Sequence[SpecDocument], file: str) -> SpecDocument | None:
    wanted = file.strip().strip("`'\"").replace("\\", "/")
    for document in documents:
        if wanted in (document.name, document.display) or wanted.endswith("/" + document.name):
            return document
    return None


def _nearest_text_line(document: SpecDocument, line: int) -> int | None:
    """``line`` if it has text, else the nearest line with text within ``_NEAR`` lines
    (above first), else ``None`` (also for a line that does not exist)."""
    if document.line(line) is None:
        return None
    for distance in range(_NEAR + 1):
        for candidate in (line - distance, line + distance):
            text = document.line(candidate)
            if text is not None and text.strip():
                return candidate
    return None


@dataclass(frozen=True, slots=True)
class _LineRoles:
    """What some lines of the spec are: the first lines of criteria and of numbered tasks,
    by ``(file name, line)``, so that their rewrites can be checked for what they must keep."""

    criteria: dict[tuple[str, int], Criterion]
    tasks: dict[tuple[str, int], Task]

    @classmethod
    def of(cls, spec: Spec) -> _LineRoles:
        requirements = spec.requirements_path().rsplit("/", 1)[-1]
        criteria = {(requirements, c.line): c for c in spec.criteria() if c.kind != "current"}
        tasks = {("tasks.md", t.line): t for t in (spec.tasks.tasks if spec.tasks else [])}
        return cls(criteria, {key: task for key, task in tasks.items() if task.explicit_id})

    def rewrite_problem(self, file_name: str, line: int, new: str) -> str | None:
        """Why ``new`` cannot replace that line, or ``None``."""
        if (file_name, line) in self.criteria:
            first = new.split("\n", 1)[0]
            marker = _MARKER.match(first)
            text = first[marker.end() :] if marker else first
            if classify(text.strip()).pattern is Pattern.NOT_EARS:
                return (
                    "is not an EARS criterion (`WHEN <trigger>, THE <system> SHALL "
                    "<response>`); give the new text of the line itself, not advice"
                )
        task = self.tasks.get((file_name, line))
        if task is not None and not re.match(
            rf"\s*[-*+]\s+\[[^\]]\]\*?\s+{re.escape(task.id)}\.?\s", new
        ):
            return f"must keep the checkbox and the task number {task.id}"
        return None


def _problems(
    item: ReviewItem, index: int, documents: Sequence[SpecDocument], roles: _LineRoles
) -> list[str]:
    names = ", ".join(document.name for document in documents)
    document = _document_for(documents, item.file)
    if document is None:
        return [f"finding {index}: file {item.file!r} is not one of the spec's files ({names})."]
    text = document.line(item.line)
    if text is None:
        return [
            f"finding {index}: {document.name} has lines 1-{len(document.lines)}; line "
            f"{item.line} does not exist. Give the number shown before `|` on the line."
        ]
    if item.rewrite.strip() and text.strip():
        problem = roles.rewrite_problem(
            document.name, item.line, _clean_rewrite(text, item.rewrite)
        )
        if problem is not None:
            return [f"finding {index}: the rewrite of {document.name}:{item.line} {problem}."]
    return []


def _clean_rewrite(old: str, rewrite: str) -> str:
    """The rewrite as a replacement for ``old``: line-number prefixes the model copied
    removed, and ``old``'s indentation and list, checkbox or heading marker put back when
    the model left them out."""
    lines = [_NUMBER_PREFIX.sub("", line, count=1) for line in rewrite.strip("\n").split("\n")]
    new = "\n".join(line.rstrip() for line in lines)
    marker = _MARKER.match(old)
    if marker is None or not new.strip():
        return new
    own = _MARKER.match(new)
    if own is None:
        return marker.group("indent") + marker.group("marker") + new.lstrip()
    if own.group("indent") != marker.group("indent"):
        return marker.group("indent") + new.lstrip()
    return new


def _same_kind(rule: str, kind: Kind) -> bool:
    if rule in _RULE_KINDS:
        return _RULE_KINDS[rule] == kind
    family = rule.rstrip("0123456789")
    return _RULE_KINDS.get(family, "inconsistency") == kind


def _words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in _COMMON}


def _repeats(rule: Finding, finding: Finding, kind: Kind) -> bool:
    """Whether a model finding says what a rule finding on the same line says: the same kind
    of problem, or nearly the same words."""
    if rule.file != finding.file or rule.line != finding.line:
        return False
    if _same_kind(rule.rule, kind):
        return True
    ours, theirs = _words(finding.message), _words(rule.message)
    return bool(ours and theirs) and len(ours & theirs) / len(ours | theirs) >= 0.5


def merge_findings(
    rule_findings: Sequence[Finding], model: Sequence[tuple[Finding, Kind]]
) -> tuple[list[Finding], list[Finding], dict[int, Finding]]:
    """Rule findings and model findings as one list, without repeats.

    A model finding repeats a rule finding when both are on the same line of the same file
    and report the same kind of problem (an ``AMB``/``EARS`` rule and an ambiguity, ``ANA007``
    and a conflict...) or say nearly the same words; a model finding also repeats an earlier
    model finding of the same kind on the same line. A repeat is left out; its rewrite
    becomes the suggestion of the rule finding it repeats when that has none.

    Args:
        rule_findings: The rule-based findings.
        model: Each model finding with its kind.

    Returns:
        The merged findings (sorted), the model findings kept, and for each model finding
        (by its index in ``model``) the finding of the merged list that carries it.
    """
    merged = list(rule_findings)
    kept: list[Finding] = []
    carrier: dict[int, Finding] = {}
    seen: dict[tuple[str, int, Kind], int] = {}
    for index, (finding, kind) in enumerate(model):
        key = (finding.file, finding.line, kind)
        if key in seen:
            carrier[index] = merged[seen[key]]
            continue
        position = next(
            (
                number
                for number, rule in enumerate(merged)
                if rule.rule not in LLM_RULES and _repeats(rule, finding, kind)
            ),
            None,
        )
        if position is None:
            merged.append(finding)
            kept.append(finding)
            position = len(merged) - 1
        elif merged[position].suggestion is None and finding.suggestion:
            merged[position] = dataclasses.replace(merged[position], suggestion=finding.suggestion)
        seen[key] = position
        carrier[index] = merged[position]
    return sort_findings(merged), kept, carrier


async def review_spec(
    workspace: Workspace,
    name: str,
    *,
    model: Model,
    max_findings: int = 20,
    max_chars: int | None = None,
    repairs: int = 2,
) -> Review:
    """Review spec ``name``: the rule-based findings, then the model's, merged.

    Args:
        workspace: The project.
        name: The spec's name.
        model: The model (``ModelSession.model``).
        max_findings: The most findings to ask the model for.
        max_chars: The most characters of numbered documents shown to the model (default:
            what fits the model's context window beside the answer, at most
            ``DOCUMENT_CHARS``).
        repairs: Times an answer pointing at lines that do not exist is sent back.

    Raises:
        SpecNotFoundError: There is no such spec.
        SpecSyntaxError: A spec file cannot be parsed.
        ModelRequestError: The model gave no valid answer.
    """
    from specloom.agent.runtime import context_chars
    from specloom.llm.structured import generate

    if max_chars is None:
        # The context block's cap is a quarter of the window; the documents may take half
        # again as much, leaving room for the instructions and the answer.
        room = context_chars(model)
        max_chars = DOCUMENT_CHARS if room is None else min(DOCUMENT_CHARS, room + room // 2)
    spec = workspace.load(name)
    rule_findings = analyze_spec(spec)
    documents = read_documents(workspace, name)
    roles = _LineRoles.of(spec)
    checks = 0

    def check(answer: ReviewAnswer) -> list[str]:
        nonlocal checks
        checks += 1
        if checks > repairs:  # the last answer: keep its valid items, drop the rest
            return []
        problems: list[str] = []
        for index, item in enumerate(answer.findings, start=1):
            problems.extend(_problems(item, index, documents, roles))
        return problems

    known = "\n".join(
        f"- {finding.file.rsplit('/', 1)[-1]}:{finding.line} {finding.message}"
        for finding in rule_findings[:20]
    )
    prompt = (
        f"Spec {spec.name!r}:\n\n{_numbered(documents, max_chars)}\n\n"
        + (f"Already reported (do not repeat these):\n{known}\n\n" if known else "")
        + "List the problems you find."
    )
    generated = await generate(
        ReviewAnswer,
        prompt,
        model=model,
        instructions=_INSTRUCTIONS.format(limit=max_findings),
        check=check,
        repairs=repairs,
        max_tokens=2048,
    )
    items = generated.value.findings[:max_findings]
    model_findings: list[tuple[Finding, Kind]] = []
    offered: list[tuple[int, SpecDocument, str]] = []
    dropped = bad_rewrites = moved = 0
    for item in items:
        document = _document_for(documents, item.file)
        line = _nearest_text_line(document, item.line) if document is not None else None
        if document is None or line is None:
            dropped += 1
            continue
        old = document.lines[line - 1]
        if line != item.line:  # a blank line: the finding moves to its text, without a rewrite
            item = item.model_copy(update={"line": line, "rewrite": ""})
            moved += 1
        rewrite = _clean_rewrite(old, item.rewrite) if item.rewrite.strip() else ""
        if rewrite == old:
            rewrite = ""
        if rewrite and roles.rewrite_problem(document.name, item.line, rewrite) is not None:
            rewrite = ""  # still unusable after the repairs: the finding stays, without it
            bad_rewrites += 1
        column = len(old) - len(old.lstrip()) + 1
        finding = Finding(
            document.display,
            item.line,
            column,
            f"LLM-{item.kind.upper()}",
            LLM_RULES[f"LLM-{item.kind.upper()}"][0],
            " ".join(item.message.split()) or f"{item.kind} (no details given)",
            rewrite or None,
        )
        if rewrite:
            offered.append((len(model_findings), document, rewrite))
        model_findings.append((finding, item.kind))
    merged, kept, carrier = merge_findings(rule_findings, model_findings)
    rewrites: dict[tuple[str, int], Rewrite] = {}
    for index, document, new in offered:
        finding = model_findings[index][0]
        old = document.line(finding.line) or ""
        key = (document.display, finding.line)
        if key not in rewrites:  # one rewrite per line: the first offered
            rewrites[key] = Rewrite(
                carrier[index], document.name, document.display, finding.line, old, new
            )
    return Review(
        spec=spec.name,
        findings=merged,
        rule_findings=rule_findings,
        model_findings=sort_findings(kept),
        rewrites=[rewrites[key] for key in sorted(rewrites)],
        repeats=len(model_findings) - len(kept),
        dropped=dropped,
        moved=moved,
        bad_rewrites=bad_rewrites,
        repairs=generated.repairs,
        input_tokens=generated.input_tokens,
        output_tokens=generated.output_tokens,
        requests=generated.requests,
    )


def _ids(spec: Spec) -> set[str]:
    ids = {f"requirement {r.id}" for r in spec.requirement_list()}
    ids |= {f"criterion {c.id}" for c in spec.criteria()}
    if spec.tasks is not None:
        ids |= {f"task {t.id}" for t in spec.tasks.tasks}
    if spec.design is not None:
        ids |= {f"property {p.id}" for p in spec.design.properties}
    return ids


def _parse_problem(name: str, folder: str, texts: dict[str, str], before: set[str]) -> str | None:
    """Why ``texts`` would not do as the spec's files, or ``None`` when they parse and keep
    every id ``before`` had."""
    try:
        spec = load_spec(name, texts, folder)
        graph = spec.graph()
        if graph is not None:
            graph.check()
    except SpecSyntaxError as error:
        return f"it would break the spec: {error.render()}"
    lost = sorted(before - _ids(spec))
    if lost:
        return f"it would remove {', '.join(lost[:3])}{' ...' if len(lost) > 3 else ''}"
    return None


def apply_rewrites(
    workspace: Workspace,
    name: str,
    rewrites: Sequence[Rewrite],
    decide: Callable[[Rewrite], Decision],
) -> FixReport:
    """Ask about each rewrite and apply the accepted ones.

    Each accepted rewrite replaces exactly its line's text (line ending kept) when that
    line is still what was reviewed, and only if the spec still parses and keeps all its
    requirements, criteria, tasks and properties with it; otherwise it is refused with the
    reason. Files are written once each, atomically, after all the answers.

    Args:
        workspace: The project.
        name: The spec's name.
        rewrites: The rewrites offered (``Review.rewrites``).
        decide: Asked for each rewrite in order until it answers ``all`` (the rest are
            accepted) or ``quit`` (the rest are declined).

    Raises:
        SpecNotFoundError: There is no such spec.
        SpecSyntaxError: A spec file is not UTF-8.
    """
    folder = workspace.spec_folder(name)
    display_folder = workspace.display(folder)
    spec_name = folder.name
    raw: dict[str, str] = {}
    for file_name in (*REVIEWED_FILES, ".config.kiro", ".tasks-meta.json"):
        path = folder / file_name
        if path.is_file():
            raw[file_name] = read_text(path, workspace.display(path))
    lines = {key: split_lines(text) for key, text in raw.items() if key in REVIEWED_FILES}
    shift: dict[str, list[tuple[int, int]]] = {key: [] for key in lines}
    before = _ids(load_spec(spec_name, raw, display_folder))
    report = FixReport()
    mode: Decision = "yes"
    changed: set[str] = set()
    for rewrite in sorted(rewrites, key=lambda r: (r.file_name, r.line)):
        if mode == "quit":
            report.declined.append(rewrite)
            continue
        if mode != "all":
            answer = decide(rewrite)
            if answer in ("no", "quit"):
                report.declined.append(rewrite)
                mode = "quit" if answer == "quit" else mode
                continue
            mode = "all" if answer == "all" else mode
        current = lines.get(rewrite.file_name)
        if current is None:
            report.refused.append((rewrite, f"{rewrite.display} is gone"))
            continue
        index = (
            rewrite.line
            - 1
            + sum(added for line, added in shift[rewrite.file_name] if line < rewrite.line)
        )
        if not 0 <= index < len(current) or _strip_eol(current[index]) != rewrite.old:
            report.refused.append((rewrite, "the line changed since the review"))
            continue
        ending = current[index][len(_strip_eol(current[index])) :]
        newline = "\r\n" if ending == "\r\n" or "\r\n" in raw[rewrite.file_name] else "\n"
        new_lines = rewrite.new.split("\n")
        replacement = [line + newline for line in new_lines[:-1]] + [new_lines[-1] + ending]
        candidate = current[:index] + replacement + current[index + 1 :]
        texts = dict(raw)
        texts[rewrite.file_name] = "".join(candidate)
        problem = _parse_problem(spec_name, display_folder, texts, before)
        if problem is not None:
            report.refused.append((rewrite, problem))
            continue
        raw[rewrite.file_name] = texts[rewrite.file_name]
        lines[rewrite.file_name] = candidate
        shift[rewrite.file_name].append((rewrite.line, len(replacement) - 1))
        changed.add(rewrite.file_name)
        report.applied.append(rewrite)
    for file_name in sorted(changed):
        path = folder / file_name
        text = raw[file_name]
        if path.read_bytes().startswith(b"\xef\xbb\xbf"):
            text = "\ufeff" + text  # the user's editor wrote one; keep it
        atomic_write(path, text)
        report.files.append(workspace.display(path))
    return report
