"""Cross-artifact analysis without a model: gaps, dangling references, contradictions.

``analyze_spec`` reports, with exact locations, everything a reviewer would check by hand
across requirements, design and tasks; together with the criteria lint it is the rule-based
part of ``specloom analyze``.

May import: ``specloom.errors`` and sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

import re
from collections import defaultdict

from specloom.spec.ears import Pattern, classify
from specloom.spec.findings import Finding, Severity, sort_findings
from specloom.spec.gcpause import gc_paused
from specloom.spec.graph import TaskGraph
from specloom.spec.lint import lint_criteria
from specloom.spec.model import Spec
from specloom.spec.requirements import Criterion
from specloom.spec.tasks import Task

__all__ = ["ANALYSIS_RULES", "analyze_spec", "covered_criteria"]

ANALYSIS_RULES: dict[str, tuple[Severity, str]] = {
    "ANA001": (Severity.WARNING, "acceptance criterion that no task cites (a gap)"),
    "ANA002": (Severity.ERROR, "task cites a requirement or criterion that does not exist"),
    "ANA003": (Severity.ERROR, "design property validates a criterion that does not exist"),
    "ANA004": (Severity.ERROR, "dependency on a task that does not exist"),
    "ANA005": (Severity.WARNING, "design property that no task validates"),
    "ANA006": (Severity.WARNING, "task that cites no requirement"),
    "ANA007": (Severity.WARNING, "criteria with the same trigger that contradict each other"),
    "ANA008": (Severity.WARNING, "requirement with no acceptance criteria"),
    "ANA009": (Severity.WARNING, "waves block that disagrees with the _Depends on:_ lines"),
    "ANA010": (Severity.ERROR, "task references a design property that does not exist"),
    "ANA011": (Severity.ERROR, "requirement or criterion id used twice"),
}

_CHECKPOINT = re.compile(r"\bcheckpoint\b|ensure all tests pass", re.IGNORECASE)
_ANTONYMS = {
    "enable": "disable", "allow": "deny", "accept": "reject", "show": "hide",
    "display": "hide", "include": "exclude", "open": "close", "lock": "unlock",
    "start": "stop", "grant": "revoke", "permit": "forbid", "save": "discard",
    "create": "delete", "add": "remove", "increase": "decrease", "succeed": "fail",
    "visible": "hidden", "required": "optional", "always": "never",
}  # fmt: skip
_ANTONYMS |= {b: a for a, b in list(_ANTONYMS.items())}
_WORD = re.compile(r"[a-z0-9_]+")


def _finding(rule: str, file: str, line: int, message: str, subject: str | None = None,
             column: int = 1) -> Finding:  # fmt: skip
    return Finding(file, line, column, rule, ANALYSIS_RULES[rule][0], message, None, subject)


def covered_criteria(spec: Spec) -> dict[str, list[str]]:
    """For each criterion id, the ids of the tasks that cite it (directly, through its
    requirement, through ``All``, or through a design property the task implements)."""
    criteria = spec.criteria()
    by_requirement: dict[str, list[str]] = defaultdict(list)
    for criterion in criteria:
        by_requirement[criterion.id.rsplit(".", 1)[0]].append(criterion.id)
    properties = {p.id: p.validates for p in (spec.design.properties if spec.design else [])}
    covered: dict[str, list[str]] = {criterion.id: [] for criterion in criteria}
    for task in spec.tasks.tasks if spec.tasks is not None else []:
        targets: list[str] = []
        if task.cites_all:
            targets.extend(covered)
        references = list(task.cited())
        for prop in task.properties:
            references.extend(properties.get(prop, []))
        for reference in references:
            targets.extend(by_requirement.get(reference, [reference]))
        for target in dict.fromkeys(targets):
            if target in covered and task.id not in covered[target]:
                covered[target].append(task.id)
    return covered


@gc_paused()
def analyze_spec(spec: Spec, *, include_lint: bool = True) -> list[Finding]:
    """Every rule-based finding for one spec.

    Args:
        spec: The parsed spec.
        include_lint: Also run the criteria lint (``specloom analyze`` does).

    Raises:
        DependencyCycleError: The task dependencies form a cycle (bad input, not a finding).
    """
    findings: list[Finding] = []
    criteria = spec.criteria()
    requirements_file = spec.requirements_path()
    if include_lint:
        findings.extend(lint_criteria(criteria, requirements_file))
    findings.extend(_duplicate_ids(spec, requirements_file))
    known = {criterion.id for criterion in criteria} | {r.id for r in spec.requirement_list()}
    for requirement in spec.requirement_list():
        if not requirement.criteria and spec.requirements is not None:
            findings.append(_finding("ANA008", requirements_file, requirement.line,
                                     f"requirement {requirement.id} has no acceptance criteria.",
                                     requirement.id))  # fmt: skip
    properties = spec.design.properties if spec.design is not None else []
    if spec.design is not None and criteria:
        for prop in properties:
            for reference in prop.validates:
                if reference not in known:
                    findings.append(_finding("ANA003", spec.file("design.md"), prop.line,
                                             f"property {prop.id} validates {reference}, "
                                             "which is not a criterion of this spec.",
                                             prop.id))  # fmt: skip
    findings.extend(_contradictions(criteria, requirements_file))
    if spec.tasks is None:
        return sort_findings(findings)

    tasks_file = spec.file("tasks.md")
    graph = spec.graph()
    assert graph is not None
    graph.check()
    task_ids = {task.id for task in spec.tasks.tasks}
    property_ids = {prop.id for prop in properties}
    for task in spec.tasks.tasks:
        line = task.references_line or task.line
        if criteria:
            for reference in task.cited():
                if reference not in known:
                    findings.append(
                        _finding(
                            "ANA002",
                            tasks_file,
                            line,
                            f"task {task.id} cites {reference}, which is not a "
                            "requirement or criterion of this spec.",
                            task.id,
                        )
                    )
        for dependency in task.depends_on:
            if dependency not in task_ids:
                findings.append(_finding("ANA004", tasks_file, task.line,
                                         f"task {task.id} depends on {dependency}, "
                                         "which is not a task.", task.id))  # fmt: skip
        if spec.design is not None:
            for prop in task.properties:
                if prop not in property_ids:
                    findings.append(_finding("ANA010", tasks_file, task.line,
                                             f"task {task.id} references property {prop}, which "
                                             "design.md does not define.", task.id))  # fmt: skip
        if task.is_leaf and not _cites_anything(task, spec):
            checkpoint = bool(_CHECKPOINT.search(task.title))
            finding = _finding(
                "ANA006",
                tasks_file,
                task.line,
                f"task {task.id} cites no requirement"
                + (" (a checkpoint)." if checkpoint else "."),
                task.id,
            )
            if checkpoint:
                finding = Finding(finding.file, finding.line, 1, "ANA006", Severity.INFO,
                                  finding.message, None, task.id)  # fmt: skip
            findings.append(finding)
    waves = spec.tasks.waves
    if waves is not None:
        for wave in waves.waves:
            for task_id in wave:
                if task_id not in task_ids:
                    findings.append(_finding("ANA004", tasks_file, waves.line,
                                             f"the waves block names task {task_id}, which is "
                                             "not a task.", task_id))  # fmt: skip
        if graph.source == "explicit":
            findings.extend(_wave_disagreements(graph, waves.waves, waves.line, tasks_file))
    criterion_by_id = {criterion.id: criterion for criterion in criteria}
    for criterion_id, citing in covered_criteria(spec).items():
        if not citing:
            criterion = criterion_by_id[criterion_id]
            if criterion.kind == "current":
                continue  # the defect itself is not something to implement
            findings.append(_finding("ANA001", requirements_file, criterion.line,
                                     f"criterion {criterion_id} is not cited by any task.",
                                     criterion_id, criterion.column))  # fmt: skip
    cited_properties = {prop for task in spec.tasks.tasks for prop in task.properties}
    for prop in properties:
        if prop.id not in cited_properties:
            findings.append(_finding("ANA005", spec.file("design.md"), prop.line,
                                     f"property {prop.id} ({prop.title}) is not validated by "
                                     "any task.", prop.id))  # fmt: skip
    return sort_findings(findings)


def _cites_anything(task: Task, spec: Spec) -> bool:
    if task.cites_all or task.cited() or task.properties:
        return True
    assert spec.tasks is not None
    parent = spec.tasks.get(task.parent) if task.parent else None
    while parent is not None:
        if parent.cites_all or parent.cited():
            return True
        parent = spec.tasks.get(parent.parent) if parent.parent else None
    return False


def _duplicate_ids(spec: Spec, file: str) -> list[Finding]:
    findings: list[Finding] = []
    seen: dict[str, int] = {}
    for requirement in spec.requirement_list():
        for identifier, line in [(requirement.id, requirement.line)] + [
            (c.id, c.line) for c in requirement.criteria
        ]:
            if identifier in seen and spec.requirements is not None:
                findings.append(_finding("ANA011", file, line,
                                         f"id {identifier} is used twice (first on line "
                                         f"{seen[identifier]}).", identifier))  # fmt: skip
            seen.setdefault(identifier, line)
    return findings


def _normal(text: str | None) -> str:
    return " ".join(_WORD.findall((text or "").lower()))


def _contradictions(criteria: list[Criterion], file: str) -> list[Finding]:
    """Criteria with the same trigger whose responses negate each other (heuristic)."""
    groups: dict[tuple[str, str], list[tuple[Criterion, set[str], bool]]] = defaultdict(list)
    for criterion in criteria:
        if criterion.kind == "current":
            continue
        result = classify(criterion.text)
        if result.pattern is Pattern.NOT_EARS or not result.condition:
            continue
        words = _WORD.findall((result.response or "").lower())
        negated = "not" in words or "never" in words
        content = {w for w in words if w not in ("not", "never", "the", "a", "an")}
        key = (_normal(result.system), _normal(result.condition))
        groups[key].append((criterion, content, negated))
    findings: list[Finding] = []
    for members in groups.values():
        for index, (first, first_words, first_negated) in enumerate(members[:50]):
            for second, second_words, second_negated in members[index + 1 : 50]:
                flipped = {_ANTONYMS.get(word, word) for word in second_words}
                negation = first_negated != second_negated and _similar(first_words, second_words)
                antonym = flipped != second_words and _similar(first_words, flipped)
                if negation or antonym:
                    findings.append(_finding("ANA007", file, second.line,
                                             f"criterion {second.id} may contradict {first.id}: "
                                             "same trigger, opposite response.",
                                             second.id, second.column))  # fmt: skip
    return findings


def _similar(first: set[str], second: set[str]) -> bool:
    if not first or not second:
        return False
    return len(first & second) / len(first | second) >= 0.7


def _wave_disagreements(
    graph: TaskGraph, waves: list[list[str]], line: int, file: str
) -> list[Finding]:
    wave_of: dict[str, int] = {}
    for index, wave in enumerate(waves):
        for task_id in wave:
            for leaf in graph.leaves_of(task_id):
                wave_of[leaf] = index
    findings: list[Finding] = []
    for leaf in graph.leaves:
        if leaf not in wave_of:
            continue
        for dependency in graph.dependencies(leaf):
            if dependency in wave_of and wave_of[dependency] >= wave_of[leaf]:
                findings.append(_finding("ANA009", file, line,
                                         f"the waves block puts {leaf} in wave {wave_of[leaf]}, "
                                         f"not after {dependency} (wave {wave_of[dependency]}), "
                                         "which it depends on.", leaf))  # fmt: skip
    return findings
