"""Import a GitHub spec-kit feature folder (``specs/NNN-name/``) as a Kiro spec.

spec.md -> requirements.md: each ``### User Story N - Title (Priority: PN)`` becomes a
requirement (its story sentence; one EARS criterion per ``**Given** x, **When** y, **Then**
z`` acceptance scenario: ``WHEN y and x, THE System SHALL z``); each list of ``- **FR-001**:
System MUST ...`` becomes a requirement named after its heading (``Functional
Requirements``) with ``THE System SHALL ...`` criteria, ``[NEEDS CLARIFICATION: ...]``
markers kept verbatim so lint flags them; edge cases that state an outcome become ``IF ...,
THEN ...`` criteria of an "Edge Cases" requirement; key entities become the glossary; the
user description, priorities, success criteria, clarifications and any other section go to
the introduction. spec-kit's older single "Primary User Story" layout is read too.

plan.md, research.md, data-model.md, contracts/ and quickstart.md -> design.md, and
tasks.md -> tasks.md (see ``_speckit_plan``).

May import: the standard library, ``specloom.errors`` and ``specloom.spec``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from specloom.errors import ImportFormatError
from specloom.spec.design import render_design
from specloom.spec.importers._common import (
    BOLD_LABEL,
    ImportedSpec,
    assemble_files,
    clean_block,
    event_criterion,
    has_words,
    heading_title,
    lines_text,
    normalize_paths,
    normative_criterion,
    one_line,
    own_body,
    spec_name,
    unwanted_criterion,
)
from specloom.spec.importers._speckit_plan import design_sections, speckit_tasks
from specloom.spec.markdown import Document, LineKind, scan
from specloom.spec.requirements import (
    Criterion,
    GlossaryEntry,
    Requirement,
    RequirementsDocument,
)

__all__ = ["import_speckit"]

_STORY_HEADING = re.compile(r"^User\s+Story\s*(\d+)\s*(?:[-–—:.]\s*)?(.*)$", re.IGNORECASE)
_PRIORITY = re.compile(r"\(\s*Priority\s*:\s*([^)]*)\)", re.IGNORECASE)
_IDENTIFIED = re.compile(
    r"^(?:\*\*|__)?(?P<id>[A-Z][A-Z0-9]*-\d+[A-Za-z]?)(?:\*\*|__)?\s*[:：]?(?:\*\*|__)?\s*"
    r"(?P<text>.*)$"
)
_KEYWORD = re.compile(
    r"(?<![A-Za-z0-9])(\*\*|__|\*|_)\s*(Given|When|Then|And|But)\s*,?\s*\1(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_PLAIN_SCENARIO = re.compile(
    r"^\s*(?:given\s+(?P<given>.*?)[,;]?\s+)?when\s+(?P<when>.*?)[,;]?\s+then\s+(?P<then>.*)$",
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
_EDGE_CONDITIONAL = re.compile(r"^(?:if|when)\s+(?P<cond>[^,]+),\s*(?P<answer>.+)$", re.I)
_ANSWER_LEAD = re.compile(r"^(?:→|->|=>|—|–|-|:|answer\s*:)+\s*", re.IGNORECASE)
_SCENARIO_WORDS = frozenset({"given", "when", "then", "and", "but"})
_KNOWN_FILES = frozenset(
    {"spec.md", "plan.md", "tasks.md", "research.md", "data-model.md", "quickstart.md"}
)


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
        name: The feature folder's name (``001-photo-albums``) or the spec name wanted; it is
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
            "fix the headings or run /speckit.specify again.",
        )
    feature = spec.title.split(":", 1)[1] if ":" in spec.title else ""
    final_name = spec_name(
        name, spec.branch, feature if "[" not in feature else "", default="imported-spec"
    )
    requirements, story_criteria, reference_criteria = _requirements(spec, warnings)
    sections = design_sections(sources, spec.description, warnings)
    tests = _independent_tests(spec)
    if sections is not None and tests:
        sections.append(("Testing Strategy", tests))
    imported = [p for p in sorted(sources) if p in _KNOWN_FILES or p.startswith("contracts/")]
    introduction = _introduction(spec, imported, with_tests=not sections)
    document = RequirementsDocument(
        "requirements.md", "Requirements Document", introduction, spec.glossary, requirements
    )
    tasks = None
    if "tasks.md" in sources:
        tasks = speckit_tasks(sources["tasks.md"], story_criteria, reference_criteria, warnings)
    design = render_design("Design Document", sections, []) if sections else None
    for path in sorted(sources):
        if path not in imported:
            warnings.append(f"{path}: not imported (a Kiro spec has no place for it).")
    return ImportedSpec(final_name, assemble_files(document, design, tasks), warnings)


# -- spec.md --------------------------------------------------------------------------------


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
        label = BOLD_LABEL.match(line.text) if line.kind is LineKind.TEXT else None
        if label is None:
            continue
        key = label["label"].strip().lower()
        value = label["rest"].lstrip(":").strip()
        if key == "feature branch":
            spec.branch = value.strip("` ")
        elif key == "input":
            value = re.sub(r"^user description:\s*", "", value, flags=re.IGNORECASE)
            spec.description = value.strip().strip('"“”').strip()
    stack: list[tuple[int, str, str]] = []  # (level, kind, title) of the enclosing headings
    story_end = 0
    primary: _Story | None = None
    for heading in doc.headings:
        if heading.line <= story_end or heading.level < 2:
            continue
        while stack and stack[-1][0] >= heading.level:
            stack.pop()
        title = heading_title(heading.text)
        kind = _section_kind(title)
        if kind == "other" and stack and stack[-1][1] not in ("other", "scenarios"):
            kind = stack[-1][1]
        top = stack[0][2] if stack else title
        stack.append((heading.level, kind, title))
        first, last = own_body(doc, heading.line)
        if kind in ("edge", "success", "entities", "requirements"):
            _warn_prose(doc, first, last, warnings)
        if kind == "story":
            story_end = doc.section_end(heading.line)
            story = _story_from_heading(title, heading.line)
            _parse_story_body(doc, story, heading.line + 1, story_end, warnings)
            spec.stories.append(story)
            stack.pop()
        elif kind in ("primary", "acceptance"):
            # spec-kit's older template: one "Primary User Story", one list of scenarios.
            if primary is None:
                feature = spec.title.split(":", 1)[-1].strip()
                named = feature and "[" not in feature
                primary = _Story("1", feature if named else title, "", heading.line)
                spec.stories.append(primary)
            label = "story" if kind == "primary" else "scenarios"
            _parse_story_body(doc, primary, first, last, warnings, label)
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
            chunk = body if heading.level == 2 or not body else f"**{title}**\n\n{body}"
            if chunk:
                spec.extras.setdefault(top or "Notes", []).append(chunk)
    return spec


def _warn_prose(doc: Document, first: int, last: int, warnings: list[str]) -> None:
    """Report paragraphs outside list items in a section that only lists are read from."""
    inside_until = 0
    for number in range(first, last + 1):
        index = doc.item_at(number)
        if index >= 0:
            inside_until = max(inside_until, doc.items[index].end_line)
        elif doc.line(number).kind is LineKind.TEXT and number > inside_until:
            warnings.append(f"spec.md:{number}: not imported: {doc.line(number).text.strip()}")


def _story_from_heading(title: str, line: int) -> _Story:
    match = _STORY_HEADING.match(title)
    rest = match[2] if match else title
    priority = _PRIORITY.search(rest)
    short = one_line(rest[: priority.start()] if priority else rest).strip(" -–—:")
    return _Story(
        number=(match[1].lstrip("0") or "0") if match else "0",
        title=short or title,
        priority=one_line(priority[1]) if priority else "",
        line=line,
    )


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
        label = BOLD_LABEL.match(text)
        term = one_line(label["label"]) if label else ""
        definition = label["rest"].lstrip(":").strip() if label else ""
        if term and definition and "[" not in term:
            spec.glossary.append(GlossaryEntry(term, definition, line))
        else:
            spec.extras.setdefault("Key Entities", []).append(f"- {text}")


def _parse_story_body(
    doc: Document, story: _Story, first: int, end: int, warnings: list[str], label: str = ""
) -> None:
    """Fill ``story`` from lines ``first``..``end``: its sentence, the labelled paragraphs
    (``**Why this priority**: ...``) and the lists under the labels."""
    for number in range(first, end + 1):
        current = doc.line(number)
        if current.kind is LineKind.HEADING:
            label = _story_label(current.content)
        elif current.kind is LineKind.TEXT:
            text = current.text.strip()
            labelled = BOLD_LABEL.match(text)
            if (
                labelled
                and labelled["label"].strip().lower() not in _SCENARIO_WORDS
                and (labelled["colon"] or labelled["rest"].startswith(":"))
            ):
                label = _story_label(labelled["label"])
                value = labelled["rest"].lstrip(":").strip()
                if value and not _add_story_text(story, label, value):
                    warnings.append(f"spec.md:{number}: not imported: {text}")
            elif _KEYWORD.search(text) and label in ("", "scenarios"):
                previous = doc.line(number - 1).kind if number > 1 else LineKind.BLANK
                if previous is LineKind.TEXT and story.scenarios:
                    at, before = story.scenarios[-1]
                    story.scenarios[-1] = (at, f"{before} {text}")
                else:
                    story.scenarios.append((number, text))
            elif not _add_story_text(story, label or "story", text):
                warnings.append(f"spec.md:{number}: not imported: {text}")
        elif current.kind is LineKind.ITEM:
            index = doc.item_at(number)
            if index < 0 or doc.items[index].parent >= 0:
                continue
            for at, text in _item_texts(doc, number, min(doc.items[index].end_line, end)):
                _story_item(story, label, at, text, warnings)


def _story_item(story: _Story, label: str, line: int, text: str, warnings: list[str]) -> None:
    if label == "requirements":
        ident = _IDENTIFIED.match(text)
        if ident and ident["text"].strip():
            story.requirements.append((line, ident["id"], ident["text"].strip()))
        else:
            story.requirements.append((line, "", text))
    elif label == "edge":
        story.edge_cases.append((line, text))
    elif label == "scenarios" or _KEYWORD.search(text):
        story.scenarios.append((line, text))
    elif not _add_story_text(story, label or "story", text):
        warnings.append(f"spec.md:{line}: not imported: {text}")


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
    if "story" in lower:
        return "story"
    return "other"


def _add_story_text(story: _Story, label: str, text: str) -> bool:
    """Add a paragraph to the part of ``story`` that ``label`` names; False if none does."""
    if label == "why":
        story.why.append(text)
    elif label == "test":
        story.independent_test.append(text)
    elif label == "story":
        story.text.append(text)
    else:
        return False
    return True


# -- requirements ---------------------------------------------------------------------------


def _scenario_criterion(text: str) -> str | None:
    """The EARS criterion of one ``**Given** ... **When** ... **Then** ...`` scenario, or
    ``None`` when it has no Then."""
    parts = _KEYWORD.split(text)
    clauses: list[tuple[str, str]] = []
    if len(parts) > 1:
        for position in range(1, len(parts) - 1, 3):
            clauses.append((parts[position + 1].lower(), parts[position + 2]))
    else:
        plain = _PLAIN_SCENARIO.match(text)
        if plain is None:
            return None
        clauses = [(key, plain[key]) for key in ("given", "when", "then") if plain[key]]
    collected: dict[str, list[str]] = {"given": [], "when": [], "then": []}
    current = "given"
    for keyword, clause in clauses:
        if keyword in collected:
            current = keyword
        if has_words(clause):
            collected[current].append(clause)
    if not collected["then"]:
        return None
    return event_criterion(collected["given"], collected["when"], collected["then"])


def _edge_criterion(text: str) -> str | None:
    """``IF <condition>, THEN THE System SHALL <outcome>`` for an edge case that states
    its outcome, else ``None``."""
    sentence = one_line(text)
    for pattern in (_EDGE_QUESTION, _EDGE_HANDLE):
        match = pattern.match(sentence)
        if match:
            answer = _ANSWER_LEAD.sub("", match["answer"].strip()).strip()
            if not has_words(answer):
                return None
            found = match.groupdict()
            condition = found.get("cond") or f"the System encounters {found.get('object')}"
            if not has_words(found.get("cond") or found.get("object") or ""):
                return None
            return unwanted_criterion(condition, answer)
    conditional = _EDGE_CONDITIONAL.match(sentence)
    if conditional and has_words(conditional["answer"]) and has_words(conditional["cond"]):
        return unwanted_criterion(conditional["cond"], conditional["answer"])
    return None


def _criteria(requirement_id: str, texts: list[str]) -> list[Criterion]:
    return [
        Criterion(f"{requirement_id}.{position}", text, 0, 0)
        for position, text in enumerate(texts, start=1)
    ]


def _normative(
    requirement_id: str,
    items: list[tuple[int, str, str]],
    texts: list[str],
    references: dict[str, str],
    warnings: list[str],
) -> None:
    """Append the criteria of ``- **FR-001**: ...`` items to ``texts``."""
    for line, ident, text in items:
        criterion, exact = normative_criterion(text)
        if not exact:
            warnings.append(
                f"spec.md:{line}: {ident or 'a requirement'} has no MUST or SHALL; imported "
                f"as: {criterion}"
            )
        if ident:
            references.setdefault(ident, f"{requirement_id}.{len(texts) + 1}")
        texts.append(criterion)


def _requirements(
    spec: _Spec, warnings: list[str]
) -> tuple[list[Requirement], dict[str, list[str]], dict[str, str]]:
    """The Kiro requirements, the criterion ids per story number and per ``FR-001`` id."""
    requirements: list[Requirement] = []
    story_criteria: dict[str, list[str]] = {}
    references: dict[str, str] = {}
    edge_cases = list(spec.edge_cases)
    for story in spec.stories:
        story.requirement_id = requirement_id = str(len(requirements) + 1)
        texts: list[str] = []
        for line, scenario in story.scenarios:
            criterion = _scenario_criterion(scenario)
            if criterion is None:
                warnings.append(
                    f"spec.md:{line}: an acceptance scenario of User Story {story.number} has "
                    f"no Then; not imported: {scenario}"
                )
            else:
                texts.append(criterion)
        _normative(requirement_id, story.requirements, texts, references, warnings)
        edge_cases += story.edge_cases
        criteria = _criteria(requirement_id, texts)
        if story.number in story_criteria:
            warnings.append(
                f"spec.md:{story.line}: User Story {story.number} appears twice; tasks tagged "
                f"[US{story.number}] cite the first."
            )
        else:
            story_criteria[story.number] = [c.id for c in criteria] or [requirement_id]
        story_text = one_line(" ".join(story.text))
        requirements.append(Requirement(requirement_id, story.title, story_text, criteria))
    for group, items in spec.groups.items():
        requirement_id = str(len(requirements) + 1)
        texts = []
        _normative(requirement_id, items, texts, references, warnings)
        requirements.append(
            Requirement(requirement_id, group, "", _criteria(requirement_id, texts))
        )
    edge_texts: list[str] = []
    for line, text in edge_cases:
        criterion = _edge_criterion(text)
        if criterion is None:
            warnings.append(
                f"spec.md:{line}: an edge case states no outcome; kept in the introduction "
                f"only: {text}"
            )
            spec.extras.setdefault("Open edge cases", []).append(f"- {text}")
        else:
            edge_texts.append(criterion)
    if edge_texts:
        requirement_id = str(len(requirements) + 1)
        criteria = _criteria(requirement_id, edge_texts)
        requirements.append(Requirement(requirement_id, "Edge Cases", "", criteria))
    return requirements, story_criteria, references


def _introduction(spec: _Spec, imported: list[str], *, with_tests: bool) -> str:
    """The user description, where the spec came from, priorities and the rest of spec.md."""
    parts: list[str] = []
    if spec.description:
        parts.append(spec.description)
    branch = f" `{spec.branch}`" if spec.branch else ""
    parts.append(f"Imported from the spec-kit feature{branch} ({', '.join(imported)}).")
    lines: list[str] = []
    for story in spec.stories:
        priority = f", priority {story.priority}" if story.priority else ""
        entry = f"- Requirement {story.requirement_id}: User Story {story.number}{priority}."
        why = one_line(" ".join(story.why))
        test = one_line(" ".join(story.independent_test))
        if why:
            entry += f" Why: {why}"
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


def _independent_tests(spec: _Spec) -> str:
    """The stories' independent tests, as the design's testing strategy."""
    lines: list[str] = []
    for story in spec.stories:
        test = one_line(" ".join(story.independent_test))
        if test:
            lines.append(
                f"- Requirement {story.requirement_id} (User Story {story.number}): {test}"
            )
    return "\n".join(lines)
