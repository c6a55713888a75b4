"""Writing a spec with a model: new specs, review gates, approvals and refinements.

``create_spec`` writes the first document of a new spec and stops at its review gate
(requirements first by default; the design first with ``design-first``; a bugfix spec's
``bugfix.md``), or, for a quick plan, all three documents in one pass with no gate.
``approve_phase`` approves the document waiting for review and writes the next one;
``refine_phase`` rewrites the waiting document with the user's feedback, keeping the ids of
what did not change. ``clarifying_questions`` asks the model what a quick plan should know
first.

Every document comes from ``specloom.llm.structured.generate`` with a content check (EARS
and the criteria lint, real criterion ids, acyclic dependencies, a test task): problems go
back to the model as repair prompts, and a document is written only once it passes. When
the repairs run out and only lint problems are left (a criterion the model would not put in
EARS form), the document is written with them as findings and a notice; one that lacks what
a document must have (a user story, criteria, real ids, dependencies without loops) never
is. A new spec folder appears only when its first document is ready (it is assembled beside
the specs and renamed into place), so a failure at any point leaves nothing half-written.

Prompts carry the project's context (steering, memory, repository map, from
``specloom.agent.context.build_context``), sized to the model's window so the embedded 4k
model gets a short prompt and large models a fuller one (``authoring_phases``).

May import: the standard library, pydantic-ai (types), ``specloom.errors``,
``specloom.settings``, ``specloom.workspace``, ``specloom.spec`` and the
``specloom.workflows`` authoring modules and ``spec_state``.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic_ai.models import Model

from specloom.errors import UsageError
from specloom.settings import Settings
from specloom.spec.analysis import analyze_spec
from specloom.spec.findings import Severity
from specloom.spec.meta import SpecConfig
from specloom.spec.model import SPEC_FILES, Spec
from specloom.spec.tasks import is_test_title
from specloom.workflows import authoring_prompts as prompts
from specloom.workflows.authoring_phases import DocumentWriter, Progress, generate_phase
from specloom.workflows.authoring_schemas import QuestionsDraft
from specloom.workflows.spec_state import SpecState, load_state, present_phases, save_state
from specloom.workspace import Workspace, atomic_write, read_text

__all__ = [
    "AuthoringResult",
    "Kind",
    "approve_phase",
    "awaiting_phase",
    "clarifying_questions",
    "create_spec",
    "pending_generation",
    "refine_phase",
    "spec_name",
]

Kind = Literal["requirements-first", "design-first", "quick", "bugfix"]

# kind -> (.config.kiro workflowType, specType); Kiro calls its one-pass plans "fast-task".
_WORKFLOWS: dict[str, tuple[str, str]] = {
    "requirements-first": ("requirements-first", "feature"),
    "design-first": ("design-first", "feature"),
    "quick": ("fast-task", "feature"),
    "bugfix": ("requirements-first", "bugfix"),
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_FILLER = frozenset("a an the i we want wants need needs to please should would like".split())


@dataclass(slots=True)
class AuthoringResult:
    """What a call wrote and where the spec stands.

    Attributes:
        name: The spec's folder name.
        folder: The spec's folder.
        phase: ``requirements``, ``design`` or ``tasks`` (the phase in review or next), or
            ``done`` when every document is written and approved.
        written: Files this call wrote.
        awaiting: The phase waiting for review, ``None`` when nothing waits.
        findings: Lint and analysis findings (errors and warnings) in the spec as written.
        input_tokens: Input tokens of this call's model requests.
        output_tokens: Output tokens of this call's model requests.
        summary: One line per document (what it holds), for the review gate.
        notices: Things the user should know (context parts left out, steering problems).
    """

    name: str
    folder: Path
    phase: str
    written: list[Path]
    awaiting: str | None
    findings: int
    input_tokens: int
    output_tokens: int
    summary: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def next_commands(self) -> list[str]:
        """The commands that move the spec on from here."""
        if self.awaiting is not None:
            return [f"specloom approve {self.name}", f'specloom refine {self.name} "<feedback>"']
        if self.phase == "done":
            return [f"specloom run {self.name} --all"]
        return [f"specloom approve {self.name}"]

    def to_dict(self, root: Path | None = None) -> dict[str, object]:
        """The result as JSON-ready data; paths relative to ``root`` when given."""

        def shown(path: Path) -> str:
            if root is not None and path.is_relative_to(root):
                return path.relative_to(root).as_posix()
            return str(path)

        return {
            "name": self.name,
            "folder": shown(self.folder),
            "phase": self.phase,
            "awaiting": self.awaiting,
            "written": [shown(path) for path in self.written],
            "findings": self.findings,
            "summary": list(self.summary),
            "notices": list(self.notices),
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "next": self.next_commands(),
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def spec_name(request: str, name: str | None = None, *, root: Path | None = None) -> str:
    """The folder name of a new spec: ``name`` checked, or a kebab-case slug of the request.

    Args:
        request: The request the slug is made from.
        name: The name the user chose, if any.
        root: The project root: when given, a name already taken there is refused.

    Raises:
        UsageError: ``name`` is not a usable folder name, or the spec exists already.
    """
    if root is not None:
        chosen = spec_name(request, name)
        workspace = Workspace(root)
        _refuse_existing(workspace, workspace.specs_dir / chosen)
        return chosen
    if name is not None:
        cleaned = name.strip()
        if not _NAME.fullmatch(cleaned):
            raise UsageError(
                f"{name!r} cannot be a spec name.",
                hint="Use letters, digits, dots, dashes and underscores (e.g. user-login), "
                "starting with a letter or digit.",
            )
        return cleaned
    ascii_text = unicodedata.normalize("NFKD", request).encode("ascii", "ignore").decode()
    words = [w for w in re.findall(r"[a-z0-9]+", ascii_text.lower()) if w not in _FILLER]
    return "-".join(words[:6])[:60].strip("-") or "spec"


# ---------------------------------------------------------------------------------------
# Files and results


def _read_files(folder: Path) -> dict[str, str]:
    return {
        name: read_text(folder / name)
        for name in SPEC_FILES
        if name.endswith(".md") and (folder / name).is_file()
    }


def _write_files(folder: Path, files: dict[str, str]) -> list[Path]:
    written: list[Path] = []
    for name, text in files.items():
        atomic_write(folder / name, text)
        written.append(folder / name)
    return written


def _refuse_existing(workspace: Workspace, folder: Path) -> None:
    if folder.exists():
        raise UsageError(
            f"a spec named {folder.name!r} already exists.",
            file=workspace.display(folder),
            hint=f"Choose another name with --name, or change that spec with "
            f'`specloom refine {folder.name} "<feedback>"`.',
        )


def _write_new_folder(workspace: Workspace, folder: Path, files: dict[str, str]) -> list[Path]:
    """Write a new spec folder so that it appears whole or not at all: the files go into a
    hidden folder beside it, which is then renamed into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()
    try:
        for name, text in files.items():
            atomic_write(staging / name, text)
        _refuse_existing(workspace, folder)
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [folder / name for name in files]


def _summary(spec: Spec) -> list[str]:
    lines: list[str] = []
    if spec.requirements is not None:
        criteria = len(spec.requirements.criteria())
        lines.append(
            f"requirements.md: {len(spec.requirements.requirements)} requirement(s), "
            f"{criteria} acceptance criteria"
        )
    if spec.bugfix is not None:
        bug = spec.bugfix
        condition = "with" if bug.bug_condition and bug.bug_condition.condition else "without"
        lines.append(
            f"bugfix.md: {len(bug.current)} current, {len(bug.expected)} expected, "
            f"{len(bug.unchanged)} unchanged behavior(s), {condition} a bug condition"
        )
    if spec.design is not None:
        design = spec.design
        top = [section for section in design.sections if section.level == 2]
        lines.append(
            f"design.md: {len(top)} sections, {len(design.diagrams)} diagram(s), "
            f"{len(design.properties)} correctness property(ies)"
        )
    if spec.tasks is not None:
        tasks = spec.tasks.tasks
        tests = sum(1 for task in tasks if is_test_title(task.title))
        optional = sum(1 for task in tasks if task.optional)
        lines.append(f"tasks.md: {len(tasks)} task(s), {tests} test task(s), {optional} optional")
    return lines


def _result(
    workspace: Workspace,
    state: SpecState,
    folder: Path,
    written: list[Path],
    writer: DocumentWriter,
) -> AuthoringResult:
    spec = workspace.load(str(folder))
    findings = [f for f in analyze_spec(spec) if f.severity is not Severity.INFO]
    awaiting = state.awaiting(present_phases(folder, state.spec_type))
    phase = "done" if state.complete else (awaiting or state.next_phase() or "done")
    return AuthoringResult(
        name=state.name,
        folder=folder,
        phase=phase,
        written=written,
        awaiting=awaiting,
        findings=len(findings),
        input_tokens=writer.input_tokens,
        output_tokens=writer.output_tokens,
        summary=_summary(spec),
        notices=list(writer.notices),
    )


def _fold(request: str, notes: str, answers: Sequence[tuple[str, str]]) -> str:
    text = request
    if notes:
        text = f"{text}\n\nDesign notes:\n{notes}" if text else notes
    answered = [(question, answer.strip()) for question, answer in answers if answer.strip()]
    if answered:
        text += "\n\nClarifications:\n" + "\n".join(f"- {q} {a}" for q, a in answered)
    return text


# ---------------------------------------------------------------------------------------
# The flows


async def create_spec(
    root: Path,
    request: str,
    *,
    model: Model,
    settings: Settings,
    kind: Kind = "requirements-first",
    name: str | None = None,
    design_notes: str | None = None,
    answers: Sequence[tuple[str, str]] = (),
    on_progress: Progress | None = None,
    repairs: int = 3,
) -> AuthoringResult:
    """Write a new spec's first document (all three for a quick plan) and stop at its gate.

    Args:
        root: The project root (the spec goes to ``.kiro/specs/<name>/``).
        request: What to build or what is broken, in the user's words.
        model: The model that writes.
        settings: The project's settings (context caps, steering folders).
        kind: ``requirements-first``, ``design-first`` (the design, from ``request`` or
            ``design_notes``, comes first), ``quick`` (all three documents, no gates) or
            ``bugfix``.
        name: The folder name (default: a slug of the request).
        design_notes: Notes a design-first spec starts from.
        answers: ``(question, answer)`` pairs from ``clarifying_questions``, folded into the
            request (blank answers are skipped).
        on_progress: Called with a short line as each document is written.
        repairs: How many times one answer may be sent back to be fixed.

    Raises:
        UsageError: An empty request, a bad name, an existing spec, or notes for a kind
            that does not start from a design.
        ModelRequestError: The model did not produce a valid document; nothing is written.
    """
    if kind not in _WORKFLOWS:
        raise UsageError(f"unknown kind of spec {kind!r}.", hint=f"Use one of {list(_WORKFLOWS)}.")
    request, notes = request.strip(), (design_notes or "").strip()
    if notes and kind != "design-first":
        raise UsageError("design notes are only read by a design-first spec.",
                         hint="Add --design-first, or leave out --from.")  # fmt: skip
    if not request and not notes:
        raise UsageError(
            "the request is empty.", hint='Describe it: specloom new "<what to build>".'
        )
    folder_name = spec_name(request or notes.splitlines()[0], name)
    workspace = Workspace(root)
    folder = workspace.specs_dir / folder_name
    _refuse_existing(workspace, folder)
    workflow, spec_type = _WORKFLOWS[kind]
    state = SpecState(folder_name, workflow, spec_type, request=_fold(request, notes, answers),
                      created=_now())  # fmt: skip
    writer = DocumentWriter(root, model, settings, on_progress, repairs)
    files: dict[str, str] = {}
    for phase in state.order if kind == "quick" else state.order[:1]:
        files.update(await generate_phase(writer, state, files, phase))
    if kind == "quick":
        for phase in state.order:
            state.approve(phase, _now())
    files[".config.kiro"] = SpecConfig.new(spec_type, workflow).render()
    written = _write_new_folder(workspace, folder, files)
    save_state(root, state)
    return _result(workspace, state, folder, written, writer)


def _open(root: Path, name: str) -> tuple[Workspace, Path, SpecState]:
    workspace = Workspace(root)
    folder = workspace.spec_folder(name)
    workspace.load(str(folder))  # a folder with no spec files is not a spec
    return workspace, folder, load_state(root, folder.name, folder)


def awaiting_phase(root: Path, name: str) -> str | None:
    """The phase of spec ``name`` waiting for review (``None``: nothing waits).

    Raises:
        SpecNotFoundError: There is no such spec.
    """
    _, folder, state = _open(root, name)
    return state.awaiting(present_phases(folder, state.spec_type))


def pending_generation(root: Path, name: str) -> str | None:
    """The phase ``approve_phase`` would write a document for (``None``: it writes none,
    so it needs no model).

    Raises:
        SpecNotFoundError: There is no such spec.
    """
    _, folder, state = _open(root, name)
    present = present_phases(folder, state.spec_type)
    awaiting = state.awaiting(present)
    if awaiting is not None:
        state.approve(awaiting, "")
    following = state.next_phase()
    return following if following is not None and following not in present else None


async def approve_phase(
    root: Path,
    name: str,
    *,
    model: Model | None,
    settings: Settings,
    on_progress: Progress | None = None,
    repairs: int = 3,
) -> AuthoringResult:
    """Approve the document waiting for review and write the next phase's document.

    When every phase is approved the result's phase is ``done``: the spec is ready to run.
    The approval is recorded only once the next document is written, so a failed
    generation leaves the spec as it was.

    Args:
        root: The project root.
        name: The spec's name (or folder).
        model: The model that writes the next document (``None`` is enough when
            ``pending_generation`` says nothing is to be written).
        settings: The project's settings.
        on_progress: Called with a short line as each document is written.
        repairs: How many times one answer may be sent back to be fixed.

    Raises:
        SpecNotFoundError: There is no such spec.
        ModelRequestError: The model did not produce a valid document; nothing changed.
    """
    workspace, folder, state = _open(root, name)
    writer = DocumentWriter(root, model, settings, on_progress, repairs)
    present = present_phases(folder, state.spec_type)
    awaiting = state.awaiting(present)
    if awaiting is not None:
        state.approve(awaiting, _now())
        writer.progress(f"approved {state.document(awaiting)}")
    following = state.next_phase()
    written: list[Path] = []
    if following is not None and following not in present:
        texts = await generate_phase(writer, state, _read_files(folder), following)
        written = _write_files(folder, texts)
    save_state(root, state)
    return _result(workspace, state, folder, written, writer)


async def refine_phase(
    root: Path,
    name: str,
    feedback: str,
    *,
    model: Model,
    settings: Settings,
    on_progress: Progress | None = None,
    repairs: int = 3,
) -> AuthoringResult:
    """Rewrite the document waiting for review as ``feedback`` asks.

    Requirements that did not change keep their numbers and their criteria's numbers; new
    ones are numbered after the highest ones. The document stays in review.

    Raises:
        SpecNotFoundError: There is no such spec.
        UsageError: Empty feedback, or no document is waiting for review.
        ModelRequestError: The model did not produce a valid document; nothing changed.
    """
    if not feedback.strip():
        raise UsageError(
            "the feedback is empty.", hint='Say what to change: specloom refine <spec> "<text>".'
        )
    workspace, folder, state = _open(root, name)
    awaiting = state.awaiting(present_phases(folder, state.spec_type))
    if awaiting is None:
        raise UsageError(
            f"nothing in spec {state.name!r} is waiting for review: every document is approved.",
            file=workspace.display(folder),
            hint="Edit the documents by hand, or create a new spec with `specloom new`.",
        )
    writer = DocumentWriter(root, model, settings, on_progress, repairs)
    texts = await generate_phase(writer, state, _read_files(folder), awaiting, feedback.strip())
    written = _write_files(folder, texts)
    save_state(root, state)
    return _result(workspace, state, folder, written, writer)


async def clarifying_questions(
    request: str, *, model: Model, settings: Settings, root: Path
) -> list[str]:
    """The few questions (at most 3) whose answers would change a quick plan.

    Raises:
        ModelRequestError: The model did not answer with a list of questions.
    """
    writer = DocumentWriter(root, model, settings, None, 2)
    draft = await writer.ask(
        QuestionsDraft,
        instructions=prompts.QUESTIONS_INSTRUCTIONS,
        parts=[("Feature request", request)],
        request=request,
        check=lambda _: [],
        what="list of questions",
        max_tokens=300,
    )
    questions: list[str] = []
    for question in draft.questions:
        cleaned = " ".join(question.split())
        if cleaned and not cleaned.endswith("?"):
            cleaned += "?"
        if cleaned and cleaned not in questions:
            questions.append(cleaned)
    return questions[:3]
