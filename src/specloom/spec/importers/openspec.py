"""Import an OpenSpec change folder (or a capability of ``openspec/specs/``) as a Kiro spec.

Spec files (``specs/<capability>/spec.md``): each ``### Requirement: <name>`` under ``##
ADDED Requirements``, ``## MODIFIED Requirements`` or a main spec's ``## Requirements``
becomes a requirement. Its first criterion is its statement (``The system SHALL ...`` ->
``THE System SHALL ...``; further paragraphs with SHALL/MUST become criteria too), then one
criterion per ``#### Scenario:`` (``- **WHEN** x`` / ``- **THEN** y`` / ``- **AND** z``,
GIVEN folded in: ``WHEN x, THE System SHALL y and z``). ``## REMOVED Requirements`` and
scenarios tagged ``(REMOVED)`` are reported as warnings and named in the introduction, as
are ``## RENAMED Requirements``; ``## Purpose`` and other sections go to the introduction.

proposal.md (``## Why``, ``## What Changes``...) -> the introduction; design.md -> design.md
under Kiro's title; tasks.md (``## 1. Group`` + ``- [ ] 1.1 Task``) -> parent task 1 with its
sub-tasks, run in document order (the tasks writer states that order as dependencies).

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
    strip_front_matter,
)
from specloom.spec.importers._task_tree import (
    CheckboxItem,
    TaskDraft,
    checkbox_items,
    tasks_document,
)
from specloom.spec.markdown import Document, LineKind, scan
from specloom.spec.requirements import Criterion, Requirement, RequirementsDocument
from specloom.spec.tasks import TasksDocument

__all__ = ["import_openspec"]

_REQUIREMENT = re.compile(r"^Requirement\s*[:：\-–—]\s*(.+)$", re.IGNORECASE)
_SCENARIO = re.compile(r"^Scenario\s*[:：\-–—]\s*(.+)$", re.IGNORECASE)
_SCENARIO_TAG = re.compile(r"\s*\((ADDED|MODIFIED|REMOVED)\)\s*$", re.IGNORECASE)
_DELTA = re.compile(r"^(ADDED|MODIFIED|REMOVED|RENAMED)\s+Requirements?\b", re.IGNORECASE)
_BOLD_KEYWORD = re.compile(
    r"^(\*\*|__)\s*(given|when|then|and|but)\s*:?\s*\1\s*:?\s*(.*)$", re.IGNORECASE | re.DOTALL
)
_UPPER_KEYWORD = re.compile(r"^(GIVEN|WHEN|THEN|AND|BUT)\b\s*:?\s*(.*)$", re.DOTALL)
_TITLE_KEYWORD = re.compile(r"^(Given|When|Then|And|But)\b\s*:?\s*(.*)$", re.DOTALL)
_RENAME = re.compile(
    r"^(FROM|TO)\s*:\s*`*\s*(?:#+\s*)?(?:Requirement\s*:\s*)?(.*?)\s*`*\s*$", re.IGNORECASE
)
_PREVIOUSLY = re.compile(r"^\(\s*previously\s*:?\s*(.+?)\s*\)\.?$", re.IGNORECASE)
_MODAL = re.compile(r"\b(?:SHALL|MUST)\b")
_TASK_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?(?:\s+|$)")
_GROUP_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s*(?:[:.\-–—]\s*)?")
_ROOT_FILES = frozenset({"proposal.md", "design.md", "tasks.md", ".openspec.yaml"})


@dataclass(slots=True)
class _Block:
    """One requirement of a spec file."""

    capability: str
    kind: str  # "added", "modified" or "current"
    name: str
    line: int
    criteria: list[str] = field(default_factory=list)
    previously: str = ""


@dataclass(slots=True)
class _SpecFile:
    path: str
    capability: str
    purpose: str = ""
    blocks: list[_Block] = field(default_factory=list)
    removed: list[tuple[str, int, str]] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    extras: list[tuple[str, str]] = field(default_factory=list)
    headings: int = 0


def import_openspec(files: Mapping[str, str], name: str | None = None) -> ImportedSpec:
    """Convert one OpenSpec change folder, or one ``openspec/specs/<capability>/`` folder, to
    a Kiro spec.

    Args:
        files: Paths relative to the change folder (``proposal.md``, ``design.md``,
            ``tasks.md``, ``specs/<capability>/spec.md``...) or to the capability folder
            (``spec.md``) mapped to their text.
        name: The folder's name (``add-shared-albums``; an archive date prefix is dropped)
            or the spec name wanted. Taken from proposal.md's title when omitted.

    Returns:
        The Kiro spec's files and what could not be carried over.

    Raises:
        ImportFormatError: No spec file, a spec file without requirements, or nothing to
            import (only removals).
    """
    sources = normalize_paths(files)
    spec_paths = sorted(p for p in sources if p == "spec.md" or p.endswith("/spec.md"))
    if not spec_paths:
        raise ImportFormatError(
            "there are no spec files in this OpenSpec folder.",
            file="specs/<capability>/spec.md",
            hint="Point the import at a change folder (openspec/changes/<change>/, with "
            "specs/<capability>/spec.md inside) or at a capability folder of openspec/specs/.",
        )
    warnings: list[str] = []
    proposal = sources.get("proposal.md", "")
    title = _title(proposal)
    spec_files: list[_SpecFile] = []
    for path in spec_paths:
        capability = _capability(path) or spec_name(name, title, default="spec")
        spec_file = _parse_spec_file(path, capability, sources[path], warnings)
        if not spec_file.headings:
            raise ImportFormatError(
                "this spec file has no `### Requirement:` headings.",
                file=path,
                line=1,
                hint="OpenSpec writes each requirement as `### Requirement: <name>` under "
                "`## ADDED Requirements`, `## MODIFIED Requirements` or `## Requirements`, "
                "with `#### Scenario: <name>` blocks below it.",
            )
        spec_files.append(spec_file)
    blocks = [block for spec_file in spec_files for block in spec_file.blocks]
    if not blocks:
        raise ImportFormatError(
            "there is nothing to import: the spec files only remove or rename requirements.",
            file=spec_paths[0],
            line=1,
            hint="Import a change that adds or modifies requirements, or the capability's "
            "main spec under openspec/specs/.",
        )
    for spec_file in spec_files:
        for removed, line, _reason_text in spec_file.removed:
            warnings.append(
                f"{spec_file.path}:{line}: the REMOVED requirement '{removed}' is not "
                "imported; the introduction names it."
            )
    capabilities = {spec_file.capability for spec_file in spec_files}
    final_name = spec_name(
        name,
        title,
        next(iter(capabilities)) if len(capabilities) == 1 else None,
        default="openspec-change",
    )
    requirements = [
        Requirement(
            str(number),
            block.name,
            "",
            [
                Criterion(f"{number}.{position}", text, 0, 0)
                for position, text in enumerate(block.criteria, start=1)
            ],
        )
        for number, block in enumerate(blocks, start=1)
    ]
    design_paths = [p for p in sorted(sources) if p == "design.md" or p.endswith("/design.md")]
    imported = ["proposal.md"] if "proposal.md" in sources else []
    imported += spec_paths + design_paths + (["tasks.md"] if "tasks.md" in sources else [])
    introduction = _introduction(proposal, spec_files, imported)
    document = RequirementsDocument(
        "requirements.md", "Requirements Document", introduction, [], requirements
    )
    sections: list[tuple[str, str]] = []
    for path in design_paths:
        capability = _capability(path) if path != "design.md" else ""
        sections += _design_sections(sources[path], capability)
    design = render_design("Design Document", sections, []) if sections else None
    tasks = _tasks(sources["tasks.md"], warnings) if "tasks.md" in sources else None
    for path in sorted(sources):
        if path not in imported and path not in _ROOT_FILES:
            warnings.append(f"{path}: not imported (a Kiro spec has no place for it).")
    return ImportedSpec(final_name, assemble_files(document, design, tasks), warnings)


def _title(proposal: str) -> str:
    """The change's name from proposal.md's ``# Proposal: Add X`` / ``# Change: X`` title."""
    doc = scan(proposal, "proposal.md")
    heading = next((h.text for h in doc.headings if h.level == 1), "")
    if ":" not in heading:
        return ""
    title = heading.split(":", 1)[1].strip()
    return "" if "[" in title or "<" in title else title


def _capability(path: str) -> str:
    """``specs/auth/spec.md`` -> ``auth``; ``specs/identity/auth/spec.md`` ->
    ``identity/auth``; ``auth/spec.md`` -> ``auth``."""
    parts = path.split("/")[:-1]
    if "specs" in parts:
        parts = parts[len(parts) - parts[::-1].index("specs") :]
    return "/".join(part for part in parts if part)


# -- spec files -----------------------------------------------------------------------------


def _parse_spec_file(path: str, capability: str, text: str, warnings: list[str]) -> _SpecFile:
    doc = scan(text, path)
    result = _SpecFile(path, capability)
    section = "current"
    current: _Block | None = None
    for heading in doc.headings:
        first, last = own_body(doc, heading.line)
        title = heading_title(heading.text)
        requirement = _REQUIREMENT.match(title) if heading.level >= 2 else None
        scenario = _SCENARIO.match(title) if heading.level >= 2 else None
        if requirement:
            result.headings += 1
            name = one_line(requirement[1])
            current = None
            if section == "removed":
                result.removed.append((name, heading.line, _reason(doc, first, last)))
                continue
            kind = section if section in ("added", "modified") else "current"
            current = _Block(capability, kind, name, heading.line)
            _statement(doc, first, last, current, path, warnings)
            result.blocks.append(current)
        elif scenario:
            _scenario(doc, first, last, scenario[1], current, path, heading.line, warnings)
        elif heading.level <= 2:
            current = None
            delta = _DELTA.match(title)
            body = clean_block(lines_text(doc, first, last))
            if delta:
                section = delta[1].lower()
                if section == "renamed":
                    result.renamed += _renames(doc, first, last)
                    result.headings += 1
            elif title.lower() == "requirements":
                section = "current"
            elif title.lower() == "purpose":
                section = "other"
                result.purpose = body
            else:
                section = "other"
                if body:
                    result.extras.append((title, body))
        elif current is not None:
            body = clean_block(lines_text(doc, first, last))
            if body:
                warnings.append(
                    f"{path}:{heading.line}: the section '{title}' inside requirement "
                    f"'{current.name}' is not a scenario; not imported."
                )
        else:
            body = clean_block(lines_text(doc, first, last))
            if body:
                result.extras.append((title, body))
    return result


def _reason(doc: Document, first: int, last: int) -> str:
    """``Reason: ...; Migration: ...`` of a REMOVED requirement, on one line."""
    parts: list[str] = []
    for number in range(first, last + 1):
        line = doc.line(number)
        if line.kind in (LineKind.TEXT, LineKind.ITEM):
            text = line.content if line.kind is LineKind.ITEM else line.text.strip()
            label = BOLD_LABEL.match(text)
            if label:
                text = f"{label['label'].strip()}: {label['rest'].lstrip(':').strip()}"
            parts.append(text)
    return one_line(" ".join(part for part in parts if part))


def _renames(doc: Document, first: int, last: int) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    source = ""
    for number in range(first, last + 1):
        line = doc.line(number)
        text = line.content if line.kind is LineKind.ITEM else line.text.strip()
        match = _RENAME.match(text) if line.kind in (LineKind.ITEM, LineKind.TEXT) else None
        if match is None:
            continue
        if match[1].upper() == "FROM":
            source = one_line(match[2])
        elif source:
            pairs.append((source, one_line(match[2])))
            source = ""
    return pairs


def _statement(
    doc: Document, first: int, last: int, block: _Block, path: str, warnings: list[str]
) -> None:
    """The criteria of a requirement's description: its SHALL statement(s)."""
    paragraphs: list[tuple[int, str]] = []
    open_paragraph = False
    for number in range(first, last + 1):
        line = doc.line(number)
        if line.kind is LineKind.TEXT:
            text = line.text.strip()
            previously = _PREVIOUSLY.match(text)
            if previously:
                block.previously = one_line(previously[1]).rstrip(".")
            elif open_paragraph:
                at, before = paragraphs[-1]
                paragraphs[-1] = (at, f"{before} {text}")
            else:
                paragraphs.append((number, text))
                open_paragraph = True
            continue
        if line.kind is LineKind.ITEM and paragraphs:
            at, before = paragraphs[-1]
            joiner = " " if before.endswith(":") else "; "
            paragraphs[-1] = (at, f"{before}{joiner}{line.content}")
            continue
        if line.kind is LineKind.ITEM:
            paragraphs.append((number, line.content))
        elif line.kind is LineKind.FENCE_OPEN:
            warnings.append(
                f"{path}:{number}: a code block in requirement '{block.name}' is not imported."
            )
        open_paragraph = False
    for position, (line_number, text) in enumerate(paragraphs):
        if position and not _MODAL.search(text):
            warnings.append(
                f"{path}:{line_number}: text of requirement '{block.name}' is not a SHALL "
                f"statement; not imported: {one_line(text)}"
            )
            continue
        criterion, exact = normative_criterion(text)
        if not exact:
            warnings.append(
                f"{path}:{line_number}: requirement '{block.name}' has no SHALL or MUST; "
                f"imported as: {criterion}"
            )
        block.criteria.append(criterion)
    if not paragraphs:
        warnings.append(
            f"{path}:{block.line}: requirement '{block.name}' has no statement; only its "
            "scenarios are imported."
        )


def _keyword(text: str, *, in_item: bool) -> tuple[str, str] | None:
    """``(keyword, rest)`` of a ``**WHEN** x`` / ``WHEN x`` line (``When x`` in list items)."""
    bold = _BOLD_KEYWORD.match(text)
    if bold:
        return bold[2].lower(), bold[3]
    plain = _UPPER_KEYWORD.match(text) or (_TITLE_KEYWORD.match(text) if in_item else None)
    if plain:
        return plain[1].lower(), plain[2]
    return None


def _scenario(
    doc: Document,
    first: int,
    last: int,
    name: str,
    block: _Block | None,
    path: str,
    line: int,
    warnings: list[str],
) -> None:
    """Add the criterion of one ``#### Scenario:`` to ``block``."""
    tag = _SCENARIO_TAG.search(name)
    name = one_line(_SCENARIO_TAG.sub("", name))
    if block is None:
        warnings.append(f"{path}:{line}: scenario '{name}' is outside a requirement; skipped.")
        return
    if tag and tag[1].upper() == "REMOVED":
        warnings.append(
            f"{path}:{line}: scenario '{name}' of '{block.name}' is marked REMOVED; not imported."
        )
        return
    clauses: list[list[str]] = []
    base_indent = -1
    for number in range(first, last + 1):
        current = doc.line(number)
        if current.kind is LineKind.FENCE_OPEN:
            warnings.append(f"{path}:{number}: a code block in scenario '{name}' is not imported.")
        if current.kind is LineKind.ITEM:
            if base_indent < 0:
                base_indent = current.indent
            found = _keyword(current.content, in_item=True)
            if found and current.indent <= base_indent:
                clauses.append([found[0], found[1]])
            elif clauses:
                before = clauses[-1][1].rstrip()
                joiner = " " if before.endswith(":") else "; "
                clauses[-1][1] = f"{before}{joiner}{current.content}"
        elif current.kind is LineKind.TEXT:
            found = _keyword(current.text.strip(), in_item=False)
            if found:
                clauses.append([found[0], found[1]])
            elif clauses:
                clauses[-1][1] = f"{clauses[-1][1]} {current.text.strip()}"
    collected: dict[str, list[str]] = {"given": [], "when": [], "then": []}
    kind = "given"
    for keyword, text in clauses:
        if keyword in collected:
            kind = keyword
        if has_words(text):
            collected[kind].append(text)
    if not collected["then"]:
        warnings.append(
            f"{path}:{line}: scenario '{name}' of '{block.name}' has no THEN; not imported."
        )
        return
    block.criteria.append(event_criterion(collected["given"], collected["when"], collected["then"]))


# -- introduction, design and tasks ---------------------------------------------------------


def _introduction(proposal: str, spec_files: list[_SpecFile], imported: list[str]) -> str:
    parts: list[str] = []
    if proposal.strip():
        doc = scan(strip_front_matter(proposal), "proposal.md")
        sections = [h for h in doc.headings if h.level == 2]
        top = next((h.line for h in doc.headings if h.level == 1), 0)
        end = sections[0].line - 1 if sections else len(doc.lines)
        preamble = clean_block(lines_text(doc, top + 1, end))
        if preamble:
            parts.append(preamble)
        for heading in sections:
            body = clean_block(lines_text(doc, heading.line + 1, doc.section_end(heading.line)))
            if body:
                parts.append(f"**{heading_title(heading.text) or 'Notes'}**\n\n{body}")
    for spec_file in spec_files:
        if spec_file.purpose:
            if len(spec_files) == 1 and not parts:
                parts.append(spec_file.purpose)
            else:
                parts.append(f"**Purpose of `{spec_file.capability}`**\n\n{spec_file.purpose}")
    parts.append(f"Imported from OpenSpec ({', '.join(imported)}).")
    listed: list[str] = []
    number = 0
    for spec_file in spec_files:
        for block in spec_file.blocks:
            number += 1
            kind = "" if block.kind == "current" else f", {block.kind}"
            was = f"; previously: {block.previously}" if block.previously else ""
            listed.append(f"- Requirement {number}: {block.name} (`{block.capability}`{kind}{was})")
    parts.append("**Requirements by capability**\n\n" + "\n".join(listed))
    removed = [
        f"- {name} (`{spec_file.capability}`)" + (f": {reason}" if reason else "")
        for spec_file in spec_files
        for name, _line, reason in spec_file.removed
    ]
    if removed:
        parts.append("**Removed by this change** (not imported)\n\n" + "\n".join(removed))
    renamed = [
        f"- `{spec_file.capability}`: {source} → {target}"
        for spec_file in spec_files
        for source, target in spec_file.renamed
    ]
    if renamed:
        parts.append("**Renamed by this change**\n\n" + "\n".join(renamed))
    for spec_file in spec_files:
        for title, body in spec_file.extras:
            parts.append(f"**{title} (`{spec_file.capability}`)**\n\n{body}")
    return clean_block("\n\n".join(parts))


def _design_sections(text: str, capability: str) -> list[tuple[str, str]]:
    """design.md's ``##`` sections (the text above the first one becomes the Overview)."""
    doc = scan(strip_front_matter(text), "design.md")
    sections = [h for h in doc.headings if h.level == 2]
    top = next((h.line for h in doc.headings if h.level == 1), 0)
    if sections and top > sections[0].line:
        top = 0
    end = sections[0].line - 1 if sections else len(doc.lines)
    preamble = clean_block(lines_text(doc, top + 1, end), heading_floor=3)
    found: list[tuple[str, str]] = []
    if capability:
        body = clean_block(lines_text(doc, top + 1, len(doc.lines)), heading_floor=3)
        return [(f"Design of `{capability}`", body)] if body else []
    if preamble:
        found.append(("Overview", preamble))
    for heading in sections:
        body = lines_text(doc, heading.line + 1, doc.section_end(heading.line))
        found.append((heading_title(heading.text) or "Notes", clean_block(body, heading_floor=3)))
    return found


def _draft(item: CheckboxItem) -> TaskDraft:
    title = _TASK_NUMBER.sub("", item.text, count=1)
    draft = TaskDraft(title, item.status, details=list(item.details))
    draft.children = [_draft(child) for child in item.children]
    return draft


def _tasks(text: str, warnings: list[str]) -> TasksDocument | None:
    """Groups (``## 1. Setup``) become parent tasks, their checkboxes the sub-tasks."""
    doc = scan(strip_front_matter(text), "tasks.md")
    group_headings = [h for h in doc.headings if h.level == 2]
    groups: list[TaskDraft] = []
    by_heading: dict[int, TaskDraft] = {}
    for item in checkbox_items(doc):
        heading = next((h for h in reversed(group_headings) if h.line < item.line), None)
        key = heading.line if heading else 0
        group = by_heading.get(key)
        if group is None:
            title = _GROUP_NUMBER.sub("", heading_title(heading.text)) if heading else ""
            group = TaskDraft(title or "Tasks")
            by_heading[key] = group
            groups.append(group)
        group.children.append(_draft(item))
    if not groups:
        warnings.append("tasks.md: no `- [ ] 1.1 ...` tasks found; no tasks.md written.")
        return None
    return tasks_document(groups)
