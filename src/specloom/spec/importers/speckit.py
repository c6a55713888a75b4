"""Import a GitHub spec-kit feature folder (``specs/NNN-name/``) as a Kiro spec.

spec.md: each ``### User Story N - Title (Priority: PN)`` becomes a requirement (its story
sentence, one EARS criterion per ``**Given** ... **When** ... **Then** ...`` acceptance
scenario); ``- **FR-001**: System MUST ...`` lists become a requirement per list heading
(``Functional Requirements``) with ``THE System SHALL ...`` criteria, ``[NEEDS
CLARIFICATION: ...]`` markers kept verbatim; edge cases become ``IF ..., THEN ...`` criteria
where they state an outcome; key entities become the glossary; the user description,
priorities, success criteria and clarifications become the introduction.

plan.md, research.md, data-model.md, contracts/ and quickstart.md become design.md.

tasks.md: each ``## Phase N: ...`` becomes parent task N and its ``- [ ] T001 [P] [US1] ...``
items its sub-tasks, with the order spec-kit implies written out as ``_Depends on:_`` lines:
a phase waits for the phase before it; inside a phase a task without ``[P]`` waits for what
comes before it, ``[P]`` tasks run beside each other; ``(depends on T010)`` adds an edge.

May import: the standard library, ``specloom.errors`` and ``specloom.spec``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from specloom.errors import ImportFormatError
from specloom.spec.design import render_design
from specloom.spec.importers._common import (
    ImportedSpec,
    TaskDraft,
    assemble_files,
    checkbox_items,
    clean_block,
    event_criterion,
    lines_text,
    normalize_paths,
    normative_criterion,
    one_line,
    own_body,
    spec_name,
    strip_front_matter,
    tasks_document,
    unwanted_criterion,
)
from specloom.spec.markdown import Document, Heading, LineKind, scan
from specloom.spec.requirements import (
    Criterion,
    GlossaryEntry,
    Requirement,
    RequirementsDocument,
)
from specloom.spec.tasks import Status, TasksDocument

__all__ = ["import_speckit"]

_STORY_HEADING = re.compile(r"^User\s+Story\s*(\d+)\s*(?:[-–—:.]\s*)?(.*)$", re.IGNORECASE)
_PRIORITY = re.compile(r"\(\s*Priority\s*:\s*([^)]*)\)", re.IGNORECASE)
_ANNOTATION = re.compile(r"\s*(?:\*\([^)]*\)\*|_\([^)]*\)_)\s*")
_LABEL = re.compile(r"^\s*(?:\*\*|__)(?P<label>[^*_]+?)(?P<colon>:?)(?:\*\*|__)\s*(?P<rest>.*)$")
_IDENTIFIED = re.compile(
    r"^(?:\*\*|__)?(?P<id>[A-Z][A-Z0-9]*-\d+[A-Za-z]?)(?:\*\*|__)?\s*[:：]?(?:\*\*|__)?\s*"
    r"(?P<text>.*)$"
)
_KEYWORD = re.compile(
    r"(?<![A-Za-z0-9])(\*\*|__|\*|_)\s*(Given|When|Then|And|But)\s*,?\s*\1(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_EDGE_QUESTION = re.compile(
    r"^(?:what\s+(?:happens|should\s+happen)\s+(?:when|if)|what\s+if)\s+(?P<cond>[^?]+)\?"
    r"\s*(?P<answer>.*)$",
    re.IGNORECASE,
)
_EDGE_HANDLE = re.compile(
    r"^how\s+(?:does|should|will)\s+(?:the\s+)?system\s+(?:handle|deal\s+with|respond\s+to)"
    r"\s+(?P<object>[^?]+)\?\s*(?P<answer>.*)$",
    re.IGNORECASE,
)
_EDGE_CONDITIONAL = re.compile(r"^(?:if|when)\s+(?P<cond>[^,]+),\s*(?P<answer>.+)$", re.IGNORECASE)
_TASK_ID = re.compile(r"^(?P<id>T\d+)\b[.:]?\s*")
_TASK_LABEL = re.compile(r"^\[(?P<label>[^\]]*)\]\s*")
_STORY_LABEL = re.compile(r"^(?:US|Story)\s*\d+(?:\s*[,/]\s*(?:US|Story)?\s*\d+)*$", re.I)
_EXPLICIT_DEPENDS = re.compile(r"\s*\((?:depends\s+on|after|requires)\s+([^)]*)\)", re.I)
_PHASE = re.compile(r"^Phase\s+[\d.]+[a-z]?\s*(?:[:.\-–—]\s*)?", re.IGNORECASE)
_WORKFLOW_SECTIONS = re.compile(r"^(?:execution flow|progress tracking|phase\s+\d)", re.I)


@dataclass(slots=True)
class _Story:
    number: str
    title: str
    priority: str
    line: int
    requirement_id: str = ""
    text: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    independent_test: list[str] = field(default_factory=list)
    scenarios: list[tuple[int, str]] = field(default_factory=list)
    requirements: list[tuple[int, str, str]] = field(default_factory=list)
    edge_cases: list[tuple[int, str]] = field(default_factory=list)


@dataclass(slots=True)
class _Spec:
    title: str = ""
    branch: str = ""
    description: str = ""
    stories: list[_Story] = field(default_factory=list)
    groups: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    edge_cases: list[tuple[int, str]] = field(default_factory=list)
    success: list[str] = field(default_factory=list)
    glossary: list[GlossaryEntry] = field(default_factory=list)
    extras: dict[str, list[str]] = field(default_factory=dict)


def import_speckit(files: Mapping[str, str], name: str | None = None) -> ImportedSpec:
    """Convert one spec-kit feature folder to a Kiro spec.

    Args:
        files: Paths relative to the feature folder (``spec.md``, ``plan.md``, ``tasks.md``,
            ``research.md``, ``data-model.md``, ``quickstart.md``, ``contracts/...``) mapped
            to their text.
        name: The feature folder's name (``001-photo-albums``) or the spec name wanted;
            normalized (``photo-albums``). Taken from spec.md when omitted.

    Returns:
        The Kiro spec's files and what could not be carried over.

    Raises:
        ImportFormatError: No spec.md, or a spec.md with neither user stories nor
            functional requirements.
    """
    sources = normalize_paths(files)
    if "spec.md" not in sources:
        raise ImportFormatError(
            "there is no spec.md in this spec-kit feature folder.",
            file="spec.md",
            hint="Point the import at one feature folder (specs/NNN-feature-name/), the one "
            "that holds spec.md, plan.md and tasks.md.",
        )
    warnings: list[str] = []
    spec = _parse_spec(sources["spec.md"], warnings)
    if not spec.stories and not spec.groups:
        raise ImportFormatError(
            "spec.md has no user stories and no functional requirements.",
            file="spec.md",
            line=1,
            hint="spec-kit writes stories as `### User Story 1 - Title (Priority: P1)` with "
            "`**Acceptance Scenarios**:` and requirements as `- **FR-001**: System MUST ...`; "
            "run /speckit.specify first or fix the headings.",
        )
    spec_title = spec.title.split(":", 1)[-1] if ":" in spec.title else ""
    title_name = spec_title if "[" not in spec_title else ""
    final_name = spec_name(name, spec.branch, title_name, default="imported-spec")

    requirements, story_criteria, fr_criteria = _requirements(spec, warnings)
    design_sections = _design_sections(sources, spec, warnings)
    tests = _independent_tests(spec, story_criteria)
    if design_sections is not None and tests:
        design_sections.append(("Testing Strategy", tests))
    introduction = _introduction(spec, sources, story_criteria, warnings, with_tests=(
        design_sections is None
    ))
    document = RequirementsDocument("requirements.md", "Requirements Document", introduction,
                                    spec.glossary, requirements)  # fmt: skip
    tasks = None
    if "tasks.md" in sources:
        tasks = _tasks(sources["tasks.md"], story_criteria, fr_criteria, warnings)
    design = render_design("Design Document", design_sections, []) if design_sections else None
    known = {"spec.md", "plan.md", "tasks.md", "research.md", "data-model.md", "quickstart.md"}
    for path in sorted(sources):
        if path not in known and not path.startswith("contracts/"):
            warnings.append(f"{path}: not imported (specloom has no place for it).")
    return ImportedSpec(final_name, assemble_files(document, design, tasks), warnings)


# -- spec.md --------------------------------------------------------------------------------


def _heading_title(text: str) -> str:
    return one_line(_ANNOTATION.sub(" ", text)).strip(" *_")


def _section_kind(title: str) -> str:
    lower = title.lower()
    if _STORY_HEADING.match(title):
        return "story"
    if "primary user story" in lower or lower == "user story":
        return "primary"
    if lower.startswith("acceptance"):
        return "acceptance"
    if "edge case" in lower:
        return "edge"
    if "success criteria" in lower or "measurable outcome" in lower:
        return "success"
    if "key entities" in lower or lower == "entities":
        return "entities"
    if "user scenarios" in lower:
        return "scenarios"
    if "requirement" in lower:
        return "requirements"
    return "other"


def _parse_spec(text: str, warnings: list[str]) -> _Spec:
    doc = scan(text, "spec.md")
    spec = _Spec(title=next((h.text for h in doc.headings if h.level == 1), ""))
    first_section = next((h.line for h in doc.headings if h.level >= 2), len(doc.lines) + 1)
    for line in doc.lines[: first_section - 1]:
        label = _LABEL.match(line.text)
        if line.kind is not LineKind.TEXT or label is None:
            continue
        key = label["label"].strip().lower()
        value = label["rest"].lstrip(":").strip()
        if key == "feature branch":
            spec.branch = value.strip("` ")
        elif key == "input":
            value = re.sub(r"^user description:\s*", "", value, flags=re.IGNORECASE)
            spec.description = value.strip().strip('"“”').strip()
    stack: list[tuple[int, str, str]] = []  # (level, kind, title) of the open headings
    story_end = 0
    primary: _Story | None = None
    for heading in doc.headings:
        if heading.line <= story_end or heading.level < 2:
            continue
        while stack and stack[-1][0] >= heading.level:
            stack.pop()
        title = _heading_title(heading.text)
        kind = _section_kind(title)
        if kind == "other" and stack and stack[-1][1] not in ("other", "scenarios"):
            kind = stack[-1][1]
        top = stack[0][2] if stack and stack[0][0] == 2 else title
        stack.append((heading.level, kind, title))
        first, last = own_body(doc, heading.line)
        if kind == "story":
            story_end = doc.section_end(heading.line)
            match = _STORY_HEADING.match(title)
            rest = match[2] if match else title
            priority = _PRIORITY.search(rest)
            story = _Story(
                number=str(int(match[1])) if match else "0",
                title=one_line(rest[: priority.start()] if priority else rest).strip(" -–—:")
                or title,
                priority=one_line(priority[1]) if priority else "",
                line=heading.line,
            )
            _parse_story_body(doc, story, heading.line + 1, story_end, warnings)
            spec.stories.append(story)
            stack.pop()
        elif kind in ("primary", "acceptance"):
            # spec-kit's older template: one "Primary User Story" and one list of scenarios.
            if primary is None:
                feature = spec.title.split(":", 1)[-1].strip()
                primary = _Story("1", feature if feature and "[" not in feature else title, "",
                                 heading.line)  # fmt: skip
                spec.stories.append(primary)
            _parse_story_body(doc, primary, first, last, warnings,
                              "story" if kind == "primary" else "scenarios")  # fmt: skip
        elif kind == "edge":
            spec.edge_cases += _item_texts(doc, first, last)
        elif kind == "success":
            spec.success += [text for _, text in _item_texts(doc, first, last)]
        elif kind == "entities":
            _entities(doc, first, last, spec)
        elif kind == "requirements":
            group = title if title.lower() != "requirements" else "Functional Requirements"
            for line, ident, item in _identified_items(doc, first, last):
                spec.groups.setdefault(group, []).append((line, ident, item))
        else:
            body = clean_block(lines_text(doc, first, last))
            chunk = body if heading.level == 2 else f"**{title}**\n\n{body}".strip()
            if chunk:
                spec.extras.setdefault(top, []).append(chunk)
    return spec


def _item_texts(doc: Document, first: int, last: int) -> list[tuple[int, str]]:
    """Top-level list items in a range, each with its nested items folded in."""
    found: list[tuple[int, str]] = []
    for index in doc.items_between(first, last):
        item = doc.items[index]
        text = one_line(doc.item_paragraph(index))
        if item.parent >= 0 and doc.items[item.parent].line >= first and found:
            line, previous = found[-1]
            joiner = " " if previous.endswith(":") else "; "
            found[-1] = (line, f"{previous}{joiner}{text}" if text else previous)
        elif text:
            found.append((item.line, text))
    return found


def _identified_items(doc: Document, first: int, last: int) -> list[tuple[int, str, str]]:
    """``(line, id, text)`` for ``- **FR-001**: ...`` items (id empty when there is none)."""
    found: list[tuple[int, str, str]] = []
    for line, text in _item_texts(doc, first, last):
        match = _IDENTIFIED.match(text)
        if match and match["text"].strip():
            found.append((line, match["id"], match["text"].strip()))
        else:
            found.append((line, "", text))
    return found


def _entities(doc: Document, first: int, last: int, spec: _Spec) -> None:
    for line, text in _item_texts(doc, first, last):
        label = _LABEL.match(text)
        term = label["label"].strip() if label else ""
        definition = label["rest"].lstrip(":").strip() if label else ""
        if term and definition and "[" not in term:
            spec.glossary.append(GlossaryEntry(one_line(term.replace("*", "")), definition, line))
        else:
            spec.extras.setdefault("Key Entities", []).append(f"- {text}")


def _parse_story_body(
    doc: Document, story: _Story, first: int, end: int, warnings: list[str], label: str = ""
) -> None:
    """Fill ``story`` from lines ``first``..``end``: its sentence, labelled paragraphs
    (``**Why this priority**:``...) and the lists under them."""
    seen_label = bool(label)
    for number_ in range(first, end + 1):
        current = doc.line(number_)
        if current.kind is LineKind.HEADING:
            label, seen_label = _story_label(current.content), True
            continue
        if current.kind is LineKind.TEXT:
            labelled = _LABEL.match(current.text)
            if labelled and labelled["label"].strip().lower() not in _SCENARIO_WORDS and (
                labelled["colon"] or labelled["rest"].startswith(":")
            ):
                label, seen_label = _story_label(labelled["label"]), True
                value = labelled["rest"].lstrip(":").strip()
                if value:
                    _story_text(story, label, value)
                continue
            if _KEYWORD.search(current.text) and label in ("", "scenarios"):
                if doc.line(number_ - 1).kind is not LineKind.TEXT or not story.scenarios:
                    story.scenarios.append((number_, one_line(current.text)))
                else:
                    at, previous = story.scenarios[-1]
                    story.scenarios[-1] = (at, f"{previous} {one_line(current.text)}")
                continue
            if not _story_text(story, label if seen_label else "story", current.text.strip()):
                warnings.append(f"spec.md:{number_}: not imported: {current.text.strip()}")
        elif current.kind is LineKind.ITEM:
            index = doc.item_at(number_)
            if index < 0 or doc.items[index].parent >= 0:
                continue
            item_end = doc.items[index].end_line
            for at, text in _item_texts(doc, number_, min(item_end, end)):
                if label == "requirements":
                    ident = _IDENTIFIED.match(text)
                    ident_text = ident["text"].strip() if ident else ""
                    if ident and ident_text:
                        story.requirements.append((at, ident["id"], ident_text))
                    else:
                        story.requirements.append((at, "", text))
                elif label == "edge":
                    story.edge_cases.append((at, text))
                elif label == "scenarios" or _KEYWORD.search(text):
                    story.scenarios.append((at, text))
                elif label in ("why", "test", "story"):
                    _story_text(story, label, text)
                else:
                    warnings.append(f"spec.md:{at}: not imported: {text}")


_SCENARIO_WORDS = {"given", "when", "then", "and", "but"}


def _story_label(label: str) -> str:
    lower = label.lower()
    if "acceptance" in lower or "scenario" in lower:
        return "scenarios"
    if "why" in lower or "priority" in lower:
        return "why"
    if "independent test" in lower or lower == "test":
        return "test"
    if "edge" in lower:
        return "edge"
    if "requirement" in lower:
        return "requirements"
    return "other:" + label


def _story_text(story: _Story, label: str, text: str) -> bool:
    """Add a paragraph to the part of ``story`` that ``label`` names; False if none."""
    if label == "why":
        story.why.append(text)
    elif label == "test":
        story.independent_test.append(text)
    elif label in ("story", ""):
        story.text.append(text)
    else:
        return False
    return True


# -- requirements ---------------------------------------------------------------------------


def _scenario_criterion(text: str) -> str | None:
    """The EARS criterion of one ``**Given** ... **When** ... **Then** ...`` scenario."""
    parts = _KEYWORD.split(text)
    clauses: list[tuple[str, str]] = []
    if len(parts) > 1:
        for position in range(1, len(parts) - 1, 3):
            clauses.append((parts[position + 1].lower(), parts[position + 2]))
    else:
        plain = re.match(
            r"^\s*(?:given\s+(?P<given>.*?)[,;]?\s+)?when\s+(?P<when>.*?)[,;]?\s+then\s+"
            r"(?P<then>.*)$",
            text,
            re.IGNORECASE,
        )
        if plain is None:
            return None
        clauses = [(key, plain[key]) for key in ("given", "when", "then") if plain[key]]
    collected: dict[str, list[str]] = {"given": [], "when": [], "then": []}
    current = "given"
    for keyword, clause in clauses:
        if keyword in collected:
            current = keyword
        if one_line(clause).strip(" ,;."):
            collected[current].append(clause)
    if not collected["then"]:
        return None
    return event_criterion(collected["given"], collected["when"], collected["then"])


def _criteria(requirement_id: str, texts: list[str]) -> list[Criterion]:
    return [
        Criterion(f"{requirement_id}.{position}", text, 0, 0)
        for position, text in enumerate(texts, start=1)
    ]


def _edge_criterion(text: str) -> str | None:
    sentence = one_line(text)
    for pattern in (_EDGE_QUESTION, _EDGE_HANDLE):
        match = pattern.match(sentence)
        if match:
            answer = re.sub(r"^(?:→|->|=>|—|–|-|:|answer:)+\s*", "", match["answer"].strip(), 0,
                            re.IGNORECASE).strip()  # fmt: skip
            if not answer.strip(" .;"):
                return None
            names = match.groupdict()
            condition = names.get("cond") or f"the System encounters {names.get('object')}"
            return unwanted_criterion(condition, answer)
    conditional = _EDGE_CONDITIONAL.match(sentence)
    if conditional:
        return unwanted_criterion(conditional["cond"], conditional["answer"])
    return None


def _requirements(
    spec: _Spec, warnings: list[str]
) -> tuple[list[Requirement], dict[str, list[str]], dict[str, str]]:
    """The Kiro requirements, the criterion ids per story number, and per FR id."""
    requirements: list[Requirement] = []
    story_criteria: dict[str, list[str]] = {}
    fr_criteria: dict[str, str] = {}
    edge_cases = list(spec.edge_cases)
    for story in spec.stories:
        requirement_id = str(len(requirements) + 1)
        texts: list[str] = []
        for line, scenario in story.scenarios:
            criterion = _scenario_criterion(scenario)
            if criterion is None:
                warnings.append(
                    f"spec.md:{line}: User Story {story.number} has an acceptance scenario "
                    f"without a Then; not imported: {scenario}"
                )
            else:
                texts.append(criterion)
        for _line, ident, text in story.requirements:
            criterion, _exact = normative_criterion(text)
            if ident:
                fr_criteria.setdefault(ident, f"{requirement_id}.{len(texts) + 1}")
            texts.append(criterion)
        edge_cases += story.edge_cases
        criteria = _criteria(requirement_id, texts)
        if story.number in story_criteria:
            warnings.append(
                f"spec.md:{story.line}: User Story {story.number} appears twice; tasks "
                f"tagged [US{story.number}] cite the first."
            )
        else:
            story_criteria[story.number] = [c.id for c in criteria] or [requirement_id]
        requirements.append(Requirement(requirement_id, story.title, one_line(" ".join(
            story.text)), criteria))  # fmt: skip
    for group, items in spec.groups.items():
        requirement_id = str(len(requirements) + 1)
        texts = []
        for line, ident, text in items:
            criterion, exact = normative_criterion(text)
            if not exact:
                warnings.append(
                    f"spec.md:{line}: {ident or 'requirement'} has no MUST or SHALL; imported "
                    f"as: {criterion}"
                )
            if ident:
                fr_criteria.setdefault(ident, f"{requirement_id}.{len(texts) + 1}")
            texts.append(criterion)
        requirements.append(Requirement(requirement_id, group, "", _criteria(requirement_id,
                                                                                texts)))  # fmt: skip
    edge_texts: list[str] = []
    for line, text in edge_cases:
        criterion = _edge_criterion(text)
        if criterion is None:
            warnings.append(
                f"spec.md:{line}: edge case without an expected outcome; kept in the "
                f"introduction only: {text}"
            )
            spec.extras.setdefault("Open edge cases", []).append(f"- {text}")
        else:
            edge_texts.append(criterion)
    if edge_texts:
        requirement_id = str(len(requirements) + 1)
        requirements.append(
            Requirement(requirement_id, "Edge Cases", "", _criteria(requirement_id, edge_texts))
        )
    return requirements, story_criteria, fr_criteria


def _introduction(
    spec: _Spec,
    sources: Mapping[str, str],
    story_criteria: dict[str, list[str]],
    warnings: list[str],
    *,
    with_tests: bool,
) -> str:
    parts: list[str] = []
    if spec.description:
        parts.append(spec.description)
    imported = ", ".join(sorted(sources))
    branch = f" `{spec.branch}`" if spec.branch else ""
    parts.append(f"Imported from the spec-kit feature{branch} ({imported}).")
    lines: list[str] = []
    for story in spec.stories:
        first = story_criteria.get(story.number, [""])[0]
        requirement = first.split(".", 1)[0]
        priority = f", priority {story.priority}" if story.priority else ""
        entry = f"- Requirement {requirement}: User Story {story.number}{priority}"
        why = one_line(" ".join(story.why))
        test = one_line(" ".join(story.independent_test))
        if why:
            entry += f". Why: {why}"
        if with_tests and test:
            entry += f" Independent test: {test}"
        lines.append(entry)
    if lines:
        parts.append("**User stories**\n\n" + "\n".join(lines))
    if spec.success:
        parts.append("**Success criteria**\n\n" + "\n".join(f"- {s}" for s in spec.success))
    for title, chunks in spec.extras.items():
        parts.append(f"**{title}**\n\n" + "\n\n".join(chunks))
    return clean_block("\n\n".join(parts))


def _independent_tests(spec: _Spec, story_criteria: dict[str, list[str]]) -> str:
    lines: list[str] = []
    for story in spec.stories:
        test = one_line(" ".join(story.independent_test))
        if test:
            requirement = story_criteria.get(story.number, ["?"])[0].split(".", 1)[0]
            lines.append(f"- Requirement {requirement} (User Story {story.number}): {test}")
    return "\n".join(lines)


# -- design ---------------------------------------------------------------------------------


def _design_sections(
    sources: Mapping[str, str], spec: _Spec, warnings: list[str]
) -> list[tuple[str, str]] | None:
    """``(heading, body)`` pairs for design.md, or ``None`` without design material."""
    names = ("plan.md", "research.md", "data-model.md", "quickstart.md")
    contracts = sorted(path for path in sources if path.startswith("contracts/"))
    if not contracts and not any(name in sources for name in names):
        return None
    plan: dict[str, str] = {}
    skipped: list[str] = []
    if "plan.md" in sources:
        doc = scan(strip_front_matter(sources["plan.md"]), "plan.md")
        for heading in doc.headings:
            if heading.level != 2:
                continue
            title = _heading_title(heading.text)
            if _WORKFLOW_SECTIONS.match(title):
                skipped.append(title)
                continue
            body = lines_text(doc, heading.line + 1, doc.section_end(heading.line))
            plan[title] = clean_block(body, heading_floor=3)
    if skipped:
        warnings.append("plan.md: spec-kit workflow sections not carried over: "
                        + ", ".join(skipped) + ".")  # fmt: skip
    sections: list[tuple[str, str]] = []

    def take(title: str, *keys: str) -> None:
        for key in keys:
            for plan_title in list(plan):
                if plan_title.lower() == key:
                    sections.append((title, plan.pop(plan_title)))
                    return

    take("Overview", "summary", "overview")
    take("Technical Context", "technical context")
    take("Architecture", "project structure", "architecture")
    if contracts:
        sections.append(("Components and Interfaces", _contracts(sources, contracts)))
    if "data-model.md" in sources:
        sections.append(("Data Models", _document_body(sources["data-model.md"])))
    if "research.md" in sources:
        sections.append(("Research Decisions", _document_body(sources["research.md"])))
    take("Constitution Check", "constitution check")
    take("Complexity Tracking", "complexity tracking")
    sections += list(plan.items())
    if "quickstart.md" in sources:
        sections.append(("Quickstart", _document_body(sources["quickstart.md"])))
    return sections


def _document_body(text: str) -> str:
    """A whole file as a section body: its ``#`` title dropped, headings from ``###``."""
    doc = scan(strip_front_matter(text))
    title = next((h.line for h in doc.headings if h.level == 1), 0)
    start = title + 1 if title and not any(h.line < title for h in doc.headings) else 1
    return clean_block(lines_text(doc, start, len(doc.lines)), heading_floor=3)


def _contracts(sources: Mapping[str, str], paths: list[str]) -> str:
    parts: list[str] = []
    for path in paths:
        text = sources[path].strip("\n")
        if path.endswith(".md"):
            parts.append(f"### `{path}`\n\n{_document_body(text)}")
            continue
        extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
        language = {"yml": "yaml"}.get(extension, extension)
        longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
        fence = "`" * max(3, longest + 1)
        parts.append(f"### `{path}`\n\n{fence}{language}\n{text}\n{fence}")
    return "\n\n".join(parts)


# -- tasks ----------------------------------------------------------------------------------


def _tasks(
    text: str,
    story_criteria: dict[str, list[str]],
    fr_criteria: dict[str, str],
    warnings: list[str],
) -> TasksDocument | None:
    doc = scan(strip_front_matter(text), "tasks.md")
    phase_levels = [h.level for h in doc.headings if _PHASE.match(h.text) and h.level >= 2]
    group_level = min(phase_levels, default=2)
    groups: list[TaskDraft] = []
    group_of_heading: dict[int, TaskDraft] = {}
    by_task_id: dict[str, TaskDraft] = {}
    order: dict[int, int] = {}
    pending: list[tuple[TaskDraft, list[str], int]] = []
    for item in checkbox_items(doc):
        heading = next(
            (h for h in reversed(doc.headings) if h.line < item.line and 2 <= h.level <= group_level),
            None,
        )
        key = heading.line if heading else 0
        group = group_of_heading.get(key)
        if group is None:
            title = _PHASE.sub("", _heading_title(heading.text)) if heading else "Tasks"
            group = TaskDraft(title or "Tasks", details=_phase_details(doc, heading))
            group_of_heading[key] = group
            groups.append(group)
        draft, explicit = _task_draft(item.text, item.status, story_criteria, fr_criteria,
                                      item.line, warnings)  # fmt: skip
        draft.details = list(item.details)
        for child in item.children:
            child_draft, _ = _task_draft(child.text, child.status, story_criteria, fr_criteria,
                                         child.line, warnings)  # fmt: skip
            child_draft.details = list(child.details)
            if draft.children:
                child_draft.after = [draft.children[-1]]
            draft.children.append(child_draft)
        tid = _TASK_ID.match(item.text)
        if tid:
            if tid["id"] in by_task_id:
                warnings.append(f"tasks.md:{item.line}: task id {tid['id']} is used twice.")
            by_task_id.setdefault(tid["id"], draft)
        order[id(draft)] = len(order)
        group.children.append(draft)
        pending.append((draft, explicit, item.line))
    if not groups:
        warnings.append("tasks.md: no `- [ ] T001 ...` tasks found; no tasks.md written.")
        return None
    for position, group in enumerate(groups):
        if position:
            group.after = [groups[position - 1]]
        barrier: list[TaskDraft] = []
        since_barrier: list[TaskDraft] = []
        for draft in group.children:
            if draft.parallel:
                draft.after = list(barrier)
                since_barrier.append(draft)
            else:
                draft.after = list(since_barrier or barrier)
                barrier, since_barrier = [draft], []
    for draft, explicit, line in pending:
        for task_id in explicit:
            other = by_task_id.get(task_id)
            if other is None or order[id(other)] >= order[id(draft)]:
                warnings.append(
                    f"tasks.md:{line}: dependency on {task_id} not kept (no earlier task "
                    "has that id)."
                )
            elif other not in draft.after:
                draft.after.append(other)
    return tasks_document(groups)


def _phase_details(doc: Document, heading: Heading | None) -> list[str]:
    """``Purpose: ...``, ``Goal: ...`` lines written under a phase heading."""
    if heading is None:
        return []
    first, last = own_body(doc, heading.line)
    details: list[str] = []
    for number in range(first, last + 1):
        line = doc.line(number)
        label = _LABEL.match(line.text) if line.kind is LineKind.TEXT else None
        if label and (label["colon"] or label["rest"].startswith(":")):
            value = label["rest"].lstrip(":").strip()
            if value:
                details.append(f"{label['label'].strip()}: {value}")
    return details


def _task_draft(
    text: str,
    status: Status,
    story_criteria: dict[str, list[str]],
    fr_criteria: dict[str, str],
    line: int,
    warnings: list[str],
) -> tuple[TaskDraft, list[str]]:
    """A task from ``T001 [P] [US1] Description``, and the T-ids it says it depends on."""
    rest = text
    tid = _TASK_ID.match(rest)
    if tid:
        rest = rest[tid.end() :]
    parallel = False
    stories: list[str] = []
    while True:
        label = _TASK_LABEL.match(rest)
        if label is None:
            break
        value = label["label"].strip()
        if value.upper() == "P":
            parallel = True
        elif _STORY_LABEL.match(value):
            stories += [str(int(n)) for n in re.findall(r"\d+", value)]
        else:
            break
        rest = rest[label.end() :]
    explicit: list[str] = []
    for match in _EXPLICIT_DEPENDS.finditer(rest):
        explicit += re.findall(r"T\d+", match[1])
    description = one_line(_EXPLICIT_DEPENDS.sub("", rest)) if explicit else one_line(rest)
    requirements: list[str] = []
    for story in stories:
        cited = story_criteria.get(story)
        if cited is None:
            warnings.append(f"tasks.md:{line}: [US{story}] names no user story in spec.md.")
        else:
            requirements += cited
    for reference in re.findall(r"\b[A-Z]{1,4}-\d+\b", description):
        if reference in fr_criteria:
            requirements.append(fr_criteria[reference])
    title = f"{description} ({tid['id']})" if tid and description else (
        tid["id"] if tid else description
    )
    draft = TaskDraft(title, status, parallel, requirements)
    return draft, explicit
