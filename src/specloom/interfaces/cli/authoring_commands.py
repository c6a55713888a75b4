"""``specloom new``, ``approve`` and ``refine``: a spec written with a model, phase by phase.

``new`` writes the first document (requirements by default, the design with
``--design-first``, ``bugfix.md`` with ``--bugfix``) and stops at its review gate; ``--quick``
writes all three documents at once, after up to three clarifying questions. ``approve``
approves the document in review and writes the next; ``refine`` rewrites the document in
review with feedback. On a terminal each gate asks: approve, refine with feedback, or stop.
Without a terminal, or with ``--yes`` or ``--json``, the command stops at the gate and prints
what to run next.

Each command calls one function of ``specloom.workflows.authoring`` per step.

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the commands,
``specloom.llm``, ``specloom.settings``, ``specloom.workspace`` and ``specloom.workflows``.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from specloom.errors import SpecNotFoundError, UsageError
from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.model_commands import BudgetOption, ModelOption, RootOption
from specloom.interfaces.cli.output import emit_json, is_terminal, say

if TYPE_CHECKING:
    from pydantic_ai.models import Model

    from specloom.llm.session import ModelSession
    from specloom.settings import Settings
    from specloom.workflows.authoring import AuthoringResult

__all__ = ["approve_command", "new_command", "refine_command"]

YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Ask nothing: skip questions and stop at the review gate."),
]


def _interactive(as_json: bool, yes: bool) -> bool:
    """Whether a person can answer at the gates."""
    return not as_json and not yes and is_terminal(sys.stdin) and is_terminal(sys.stdout)


class _Models:
    """Opens the model session the first time a step needs a model, and adds up tokens."""

    def __init__(self, project: Path, model: str | None, budget: str | None, spec: str) -> None:
        self.project = project
        self.model_option = model
        self.budget = budget
        self.spec = spec
        self.session: ModelSession | None = None
        self.input_tokens = 0
        self.output_tokens = 0

    def open(self, command: str, kind: str) -> ModelSession:
        from specloom.llm.session import open_model_session

        if self.session is None:
            self.session = open_model_session(command=command, model=self.model_option,
                                              kind=kind, budget=self.budget, root=self.project,
                                              spec=self.spec)  # fmt: skip
        return self.session

    def settings(self) -> Settings:
        from specloom.settings import load_settings

        return self.session.settings if self.session is not None else load_settings(self.project)

    def run(self, step: Callable[[], Awaitable[AuthoringResult]]) -> AuthoringResult:
        import anyio

        try:
            result = anyio.run(step)
        except KeyboardInterrupt:
            say("\ninterrupted: the document being written was not saved.")
            raise typer.Exit(130) from None
        self.input_tokens += result.input_tokens
        self.output_tokens += result.output_tokens
        return result


def _progress(as_json: bool) -> Callable[[str], None] | None:
    if as_json:
        return None
    return lambda text: say(f"... {text}")


def _approve(models: _Models, name: str, as_json: bool) -> AuthoringResult:
    from specloom.workflows.authoring import approve_phase, pending_generation

    needed = pending_generation(models.project, name)
    model: Model | None = None
    if needed is not None:
        model = models.open("approve", "design" if needed == "design" else "spec").model
    settings = models.settings()
    return models.run(lambda: approve_phase(models.project, name, model=model, settings=settings,
                                            on_progress=_progress(as_json)))  # fmt: skip


def _refine(models: _Models, name: str, feedback: str, as_json: bool) -> AuthoringResult:
    from specloom.workflows.authoring import awaiting_phase, refine_phase

    awaiting = awaiting_phase(models.project, name)
    session = models.open("refine", "design" if awaiting == "design" else "spec")
    return models.run(lambda: refine_phase(models.project, name, feedback, model=session.model,
                                           settings=session.settings,
                                           on_progress=_progress(as_json)))  # fmt: skip


def _show(project: Path, result: AuthoringResult) -> None:
    for path in result.written:
        shown = path.relative_to(project) if path.is_relative_to(project) else path
        say(f"wrote {shown.as_posix()}")
    for notice in result.notices:
        say(f"note: {notice}")
    for line in result.summary:
        say(f"  {line}")
    if result.findings:
        say(f"  {result.findings} finding(s): `specloom analyze {result.name}` lists them")


def _gates(models: _Models, result: AuthoringResult, as_json: bool, interactive: bool) -> None:
    """The review gates: on a terminal, ask at each one; then print where the spec stands."""
    if not as_json:
        _show(models.project, result)
    while interactive and result.awaiting is not None:
        say(f"\n{result.awaiting} is waiting for your review.")
        choice = typer.prompt("[a]pprove, [r]efine with feedback, [s]top", default="s")
        choice = choice.strip().lower()[:1]
        if choice == "a":
            result = _approve(models, result.name, as_json)
        elif choice == "r":
            feedback = typer.prompt("What should change").strip()
            if not feedback:
                continue
            result = _refine(models, result.name, feedback, as_json)
        elif choice == "s":
            break
        else:
            continue
        _show(models.project, result)
    _report(models, result, as_json)


def _report(models: _Models, result: AuthoringResult, as_json: bool) -> None:
    spent = models.session.spent() if models.session is not None else {}
    if as_json:
        data: dict[str, Any] = result.to_dict(models.project)
        data["tokens"] = {"input": models.input_tokens, "output": models.output_tokens}
        data["spent"] = spent
        emit_json(data)
        return
    if result.awaiting is not None:
        say(f"waiting for review: {result.awaiting}")
        say(f"  approve: {result.next_commands()[0]}")
        say(f"  refine:  {result.next_commands()[1]}")
    elif result.phase == "done":
        say("every document is approved: the spec is ready to run.")
        say(f"  run: {result.next_commands()[0]}")
    else:
        say(f"next: {result.next_commands()[0]}")
    cost = f", ${spent['cost_usd']:.4f}" if spent.get("cost_usd") else ""
    credits = f", {spent['credits']:.2f} credits" if spent.get("credits") else ""
    say(f"tokens: {models.input_tokens} in, {models.output_tokens} out{cost}{credits}")


def _project(root: Path | None) -> Path:
    from specloom.llm.session import project_root_or_none

    return project_root_or_none(root) or Path.cwd().resolve()


@app.command("new")
@handles_errors
def new_command(
    request: Annotated[
        str | None,
        typer.Argument(help="What to build (with --bugfix: what is broken), in plain words."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="The spec's folder name (default: from the request)."),
    ] = None,
    design_first: Annotated[
        bool,
        typer.Option("--design-first", help="Write the design first, then derive requirements."),
    ] = False,
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="Design notes to start from (implies --design-first)."),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Write requirements, design and tasks in one pass, no gates."),
    ] = False,
    bugfix: Annotated[
        bool, typer.Option("--bugfix", help="A bugfix spec: bugfix.md, the fix's design, tasks.")
    ] = False,
    model: ModelOption = None,
    budget: BudgetOption = None,
    yes: YesOption = False,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a new spec: the first document, then a review gate (or all three with --quick)."""
    from specloom.workflows.authoring import Kind, clarifying_questions, create_spec, spec_name
    from specloom.workspace import read_text

    if sum((design_first or from_file is not None, quick, bugfix)) > 1:
        raise UsageError(
            "--design-first (or --from), --quick and --bugfix cannot be combined.",
            hint="Pick one kind of spec.",
        )
    kind: Kind = "requirements-first"
    if design_first or from_file is not None:
        kind = "design-first"
    elif quick:
        kind = "quick"
    elif bugfix:
        kind = "bugfix"
    notes = ""
    if from_file is not None:
        if not from_file.is_file():
            raise SpecNotFoundError(
                "the design notes file does not exist.",
                file=from_file,
                hint="Give the path of a markdown or text file with --from.",
            )
        notes = read_text(from_file, str(from_file))
    text = (request or "").strip()
    if not text and not notes.strip():
        raise UsageError(
            "the request is empty.", hint='Describe it: specloom new "<what to build>".'
        )
    project = _project(root)
    folder_name = spec_name(text or notes.strip().splitlines()[0], name, root=project)
    models = _Models(project, model, budget, folder_name)
    session = models.open("new", "design" if kind == "design-first" else "spec")
    interactive = _interactive(as_json, yes)
    answers: list[tuple[str, str]] = []
    if kind == "quick" and interactive:
        import anyio

        questions = anyio.run(lambda: clarifying_questions(text, model=session.model,
                                                           settings=session.settings,
                                                           root=project))  # fmt: skip
        if questions:
            say("A few questions first (press Enter to skip one):")
        for question in questions:
            answers.append((question, typer.prompt(question, default="", show_default=False)))
    result = models.run(lambda: create_spec(project, text, model=session.model,
                                            settings=session.settings, kind=kind,
                                            name=folder_name, design_notes=notes or None,
                                            answers=answers,
                                            on_progress=_progress(as_json)))  # fmt: skip
    _gates(models, result, as_json, interactive)


@app.command("approve")
@handles_errors
def approve_command(
    spec: Annotated[str, typer.Argument(help="The spec's name (its folder under .kiro/specs).")],
    model: ModelOption = None,
    budget: BudgetOption = None,
    yes: YesOption = False,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve the document in review and write the next one (requirements, design, tasks)."""
    models = _Models(_project(root), model, budget, spec)
    result = _approve(models, spec, as_json)
    _gates(models, result, as_json, _interactive(as_json, yes))


@app.command("refine")
@handles_errors
def refine_command(
    spec: Annotated[str, typer.Argument(help="The spec's name (its folder under .kiro/specs).")],
    feedback: Annotated[str, typer.Argument(help="What to change, in plain words.")],
    model: ModelOption = None,
    budget: BudgetOption = None,
    yes: YesOption = False,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rewrite the document in review with your feedback; unchanged ids stay the same."""
    models = _Models(_project(root), model, budget, spec)
    result = _refine(models, spec, feedback, as_json)
    _gates(models, result, as_json, _interactive(as_json, yes))
