"""Writing one document of a spec: the prompt for each phase, its check, its rendering.

``generate_phase`` produces the new text of the files a phase writes (requirements or
bugfix.md, design.md, tasks.md; for a design-first spec, the requirements phase also adds the
``Validates`` lines to design.md) from the spec's current texts, optionally rewritten with the
user's feedback. Nothing here writes files: ``specloom.workflows.authoring`` does, once the
text is ready. ``DocumentWriter`` holds one call's model use: it sizes each prompt to the
model's window, puts the project context first, and adds up tokens.

May import: the standard library, pydantic, pydantic-ai (types), ``specloom.errors``,
``specloom.settings``, ``specloom.spec``, ``specloom.llm.structured``,
``specloom.agent.context``, ``specloom.agent.runtime``, ``specloom.workflows.plan_tidy``,
``specloom.workflows.request_names`` and the other ``specloom.workflows.authoring_*`` modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel
from pydantic_ai import capture_run_messages
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models import Model

from specloom.agent.context import build_context
from specloom.agent.runtime import context_chars
from specloom.errors import ModelRequestError, UsageError
from specloom.llm.structured import generate
from specloom.settings import Settings
from specloom.spec.bugfix import parse_bugfix, render_bugfix
from specloom.spec.design import parse_design
from specloom.spec.requirements import Criterion, parse_requirements, render_requirements
from specloom.spec.tasks import parse_tasks
from specloom.spec.tasks_writer import render_tasks
from specloom.workflows import authoring_prompts as prompts
from specloom.workflows.authoring_documents import (
    bugfix_design,
    bugfix_document,
    bugfix_tasks_document,
    design_markdown,
    link_properties,
    requirements_document,
    tasks_document,
)
from specloom.workflows.authoring_schemas import (
    BugfixDesignDraft,
    BugfixDraft,
    CriterionDraft,
    DesignDraft,
    FixStepsDraft,
    PropertyCriteria,
    RequirementsDraft,
    TasksDraft,
    bugfix_check,
    bugfix_design_check,
    criterion_check,
    criterion_problems,
    design_check,
    fix_steps_check,
    property_criteria_check,
    requirements_check,
    resolve_ids,
    tasks_check,
    without_copies,
    without_repeated_criteria,
)
from specloom.workflows.plan_tidy import complete_plan, tidy_plan
from specloom.workflows.request_names import must_cover, plan_note, with_named_functions
from specloom.workflows.spec_state import SpecState

__all__ = ["CONTEXT_CHARS", "DEFAULT_PROMPT_CHARS", "DocumentWriter", "Progress", "generate_phase"]

DEFAULT_PROMPT_CHARS = 24_000
"""Prompt size (characters) when the model's window is unknown or large."""
CONTEXT_CHARS = 8_000
"""Most characters of project context in one prompt."""
_MIN_CONTEXT = 400
_MAX_CRITERION_FIXES = 8

T = TypeVar("T", bound=BaseModel)
Progress = Callable[[str], None]


def _humanize(name: str) -> str:
    return " ".join(word.capitalize() for word in re.split(r"[-_.\s]+", name) if word)


class DocumentWriter:
    """One call's model use: prompt sizing, project context, repairs and token totals.

    Attributes:
        input_tokens: Input tokens of the requests so far.
        output_tokens: Output tokens of the requests so far.
        notices: Problems the context reported (steering that cannot be read, parts left
            out for the size cap), and documents written with problems left in them.
        salvaged: Whether the last ``ask`` took an answer that still had problems.
    """

    def __init__(
        self,
        root: Path,
        model: Model | None,
        settings: Settings,
        on_progress: Progress | None,
        repairs: int,
    ) -> None:
        self.root = root
        self.model = model
        self.settings = settings
        self.on_progress = on_progress
        self.repairs = repairs
        self.input_tokens = 0
        self.output_tokens = 0
        self.notices: list[str] = []
        self.salvaged = False
        # context_chars is a quarter of the window in characters, so the window's size in
        # tokens too (four characters a token); half the window goes to the prompt.
        window = context_chars(model) if model is not None else None
        self.window = window if window is not None and window < 16_000 else None
        self.prompt_chars = (
            min(2 * window, DEFAULT_PROMPT_CHARS) if window else DEFAULT_PROMPT_CHARS
        )
        self.context_cap = min(window or CONTEXT_CHARS, CONTEXT_CHARS)
        if self.window is not None:
            # Each repair resends the answer and asks for a new one: in a small window one
            # repair is what fits; lint problems left are then fixed one by one instead.
            self.repairs = min(repairs, 1)

    def progress(self, text: str) -> None:
        """Tell the caller what is happening."""
        if self.on_progress is not None:
            self.on_progress(text)

    def context(self, request: str, room: int) -> str:
        """The project context for ``request``, at most ``room`` characters."""
        if room < _MIN_CONTEXT:
            return ""
        context = build_context(self.root, request=request, settings=self.settings, max_chars=room)
        for problem in context.problems:
            if problem not in self.notices:
                self.notices.append(problem)
        return context.render()

    def _output_cap(self, want: int, prompt_chars: int) -> int:
        if self.window is None:
            return want
        room = self.window - prompt_chars // 3 - 64
        if self.repairs:
            room //= 2  # room for the answer and, after a repair prompt, a second one
        return max(256, min(want, room))

    async def ask(
        self,
        schema: type[T],
        *,
        instructions: str,
        parts: Sequence[tuple[str, str]],
        request: str,
        check: Callable[[T], Sequence[str]],
        what: str,
        max_tokens: int,
        essential: Callable[[T], Sequence[str]] | None = None,
        with_context: bool = True,
    ) -> T:
        """Generate one ``schema`` object that passes ``check``.

        Args:
            schema: What to generate.
            instructions: The system instructions.
            parts: ``(title, text)`` blocks of the prompt (the context goes first).
            request: What the context is gathered for.
            check: The content check; its problems go back to the model.
            what: What is written, for the error message.
            max_tokens: The output cap (lowered to fit a small window).
            essential: The part of ``check`` a document cannot be written without; when
                the repairs run out and the last answer passes it, that answer is taken
                (``salvaged`` says so) and what ``check`` still finds is left to the caller.
            with_context: Whether to put the project context in the prompt.

        Raises:
            ModelRequestError: Still invalid after the repairs (the last problems named).
            UsageError: No model was given.
        """
        if self.model is None:
            raise UsageError(
                f"writing the {what} needs a model.", hint="Pass one with --model (or `auto`)."
            )
        self.salvaged = False
        fixed = prompts.prompt(*parts)
        room = min(self.context_cap, self.prompt_chars - len(instructions) - len(fixed))
        context = self.context(request, room) if with_context else ""
        text = prompts.prompt(("Project context", context), *parts) if context else fixed
        last: list[str] = []
        answers: list[T] = []

        def recorded(value: T) -> Sequence[str]:
            problems = [prompts.defuse(problem) for problem in check(value)]
            last[:] = problems
            answers[:] = [value]
            return problems

        for fresh in (False, True):
            with capture_run_messages() as messages:
                try:
                    generated = await generate(
                        schema,
                        text + _SHORTER if fresh else text,
                        model=self.model,
                        instructions=instructions,
                        check=recorded,
                        repairs=self.repairs,
                        max_tokens=self._output_cap(max_tokens, len(text) + len(instructions)),
                    )
                    break
                except ModelRequestError as error:
                    if not error.message.startswith("the model did not produce"):
                        raise
                    # The run failed, but its requests were made: count them.
                    responses = [m for m in messages if isinstance(m, ModelResponse)]
                    for response in responses:
                        self.input_tokens += response.usage.input_tokens
                        self.output_tokens += response.usage.output_tokens
                    if answers and essential is not None and not essential(answers[0]):
                        self.salvaged = True
                        return answers[0]
                    if not fresh and responses and responses[-1].finish_reason == "length":
                        # The answer ran past the cap (pydantic-ai ends the run there: no
                        # repair of incomplete JSON); ask afresh for a shorter one.
                        self.progress(f"the {what} ran past the length limit; asking again")
                        continue
                    detail = " ".join(last[:3]) if last else error.message
                    raise ModelRequestError(
                        f"the model could not write a valid {what} after {self.repairs} "
                        f"repair(s); its last answer: {detail}",
                        attempts=error.attempts,
                        hint="Nothing was written. Run the command again, make the request "
                        "more specific, or use a larger model with --model.",
                    ) from error
        self.input_tokens += generated.input_tokens
        self.output_tokens += generated.output_tokens
        return generated.value


_SHORTER = (
    "\n\nKeep the answer short: an earlier answer to this ran past the length limit and "
    "was cut off. Write fewer, shorter entries."
)


# ---------------------------------------------------------------------------------------
# Phases


async def generate_phase(
    writer: DocumentWriter,
    state: SpecState,
    files: dict[str, str],
    phase: str,
    feedback: str | None = None,
) -> dict[str, str]:
    """The new text of the files ``phase`` writes (``files``: the spec's current texts)."""
    document = state.document(phase)
    writer.progress(f"{'rewriting' if feedback else 'writing'} {document}")
    bugfix = state.spec_type == "bugfix"
    if phase == "requirements":
        if bugfix:
            return await _bugfix(writer, state, files, feedback)
        return await _requirements(writer, state, files, feedback)
    if phase == "design":
        if bugfix:
            return await _bugfix_design(writer, state, files, feedback)
        return await _design(writer, state, files, feedback)
    if bugfix:
        return await _bugfix_tasks(writer, state, files, feedback)
    return await _tasks(writer, state, files, feedback)


def _revision(
    writer: DocumentWriter, document: str, current: str | None, feedback: str | None
) -> list[tuple[str, str]]:
    if feedback is None or current is None:
        return []
    shown = prompts.cut(current, int(writer.prompt_chars * 0.4))
    return [
        (f"Current {document}", shown),
        ("Feedback", feedback),
        ("What to do", prompts.refine_note(document)),
    ]


async def _requirements(
    writer: DocumentWriter, state: SpecState, files: dict[str, str], feedback: str | None
) -> dict[str, str]:
    previous = parse_requirements(files["requirements.md"]) if "requirements.md" in files else None
    design_text = files.get("design.md")
    parts: list[tuple[str, str]] = []
    if design_text is not None:
        design = parse_design(design_text)
        listing = prompts.design_listing(design, design_text, int(writer.prompt_chars * 0.35))
        parts.append(("Design (derive the requirements from it)", listing))
    parts.append(("Feature request", state.request))
    named = must_cover(state.request)
    if named is not None:
        parts.append(("Must cover", named))
    current = prompts.requirements_listing(previous.requirements) if previous else None
    parts += _revision(writer, "requirements", current, feedback)
    draft = await writer.ask(
        RequirementsDraft,
        instructions=prompts.REQUIREMENTS_INSTRUCTIONS,
        parts=parts,
        request=state.request,
        check=requirements_check(request=state.request),
        what="requirements document",
        max_tokens=2048,
        essential=requirements_check(lint=False),
    )
    if writer.salvaged:
        repeated = without_repeated_criteria(draft)
        if repeated:
            writer.notices.append(
                f"left out {repeated} acceptance criterion(s) that repeated an earlier one word "
                "for word, and the requirements left with none"
            )
        draft = await _fix_criteria(writer, draft, state.request)
        dropped, renamed = without_copies(draft, state.request)
        if renamed:
            writer.notices.append(
                f"{renamed} acceptance criterion(s) named the instructions' example component "
                "Loan_Service; the feature's own component is named in its place"
            )
        if dropped:
            shown = "; ".join(prompts.defuse(text) for text in dropped)
            writer.notices.append(
                f"left out {len(dropped)} acceptance criterion(s) copied from the instructions' "
                f"worked examples rather than written for the feature: {shown}"
            )
        if criterion_problems(draft, state.request) or requirements_check(request=state.request)(
            draft
        ):
            writer.notices.append(_leftover("requirements document", writer.repairs))
    added = with_named_functions(draft, state.request)
    if added:
        first = len(draft.requirements) - len(added) + 1
        writer.notices.append(
            f"no criterion named {', '.join(added)}, which the request names: requirement(s) "
            f"{first}{'' if len(added) == 1 else f'-{len(draft.requirements)}'} say what the "
            "request says of them, in its own words"
        )
    document = requirements_document(draft, previous if feedback else None)
    out = {"requirements.md": render_requirements(document)}
    if state.workflow == "design-first" and design_text is not None:
        linked = await _link_properties(writer, design_text, document.criteria())
        if linked is not None:
            out["design.md"] = linked
    return out


def _leftover(what: str, repairs: int) -> str:
    return (
        f"the {what} was written with problems the model did not fix after {repairs} "
        "repair(s); `specloom analyze` lists them."
    )


async def _fix_criteria(
    writer: DocumentWriter, draft: RequirementsDraft, request: str
) -> RequirementsDraft:
    """Rewrite, one at a time, the criteria the lint still finds errors in or that copy a
    worked example (small models fix one sentence far more often than a whole document);
    any left are left as they are."""
    problems = criterion_problems(draft, request)[:_MAX_CRITERION_FIXES]
    if problems:
        writer.progress(f"rewriting {len(problems)} acceptance criterion(s) one by one")
    for requirement_index, position, problem in problems:
        requirement = draft.requirements[requirement_index]
        try:
            fixed = await writer.ask(
                CriterionDraft,
                instructions=prompts.CRITERION_INSTRUCTIONS,
                parts=[
                    ("Feature request", request),
                    ("Requirement", f"{requirement.title}\n{requirement.user_story}"),
                    ("Criterion", requirement.criteria[position]),
                    ("Problem", problem),
                ],
                request="",
                check=criterion_check(request),
                what=f"criterion {requirement_index + 1}.{position + 1}",
                max_tokens=160,
                with_context=False,
            )
        except ModelRequestError:
            continue
        requirement.criteria[position] = " ".join(fixed.criterion.split())
    return draft


async def _link_properties(
    writer: DocumentWriter, design_text: str, criteria: Sequence[Criterion]
) -> str | None:
    """``design_text`` with each property's ``Validates`` line, asked property by property
    (one short question each: small models mix up property and criterion numbers in a
    list of pairs); ``None`` when the design has no properties."""
    design = parse_design(design_text)
    if not design.properties:
        return None
    writer.progress("linking the design's properties to the criteria")
    lines = "\n".join(f"{criterion.id} {criterion.text}" for criterion in criteria)
    known = [criterion.id for criterion in criteria]
    mapping: dict[str, list[str]] = {}
    for prop in design.properties:
        try:
            answer = await writer.ask(
                PropertyCriteria,
                instructions=prompts.LINKS_INSTRUCTIONS,
                parts=[
                    ("Correctness property", f"Property {prop.id}: {prop.title}. {prop.statement}"),
                    ("Acceptance criteria", prompts.cut(lines, int(writer.prompt_chars * 0.6))),
                ],
                request="",
                check=property_criteria_check(prop.id, known),
                what=f"criteria of property {prop.id}",
                max_tokens=200,
                with_context=False,
                # An answer that cites some real criteria is kept without the others.
                essential=lambda links: (
                    [] if resolve_ids(links.validates, known)[0] else ["no known criterion"]
                ),
            )
        except ModelRequestError as error:
            # One property the model cannot link does not cost the whole design: it keeps
            # the Validates line the design gave it, if any, and the lint reports the rest.
            writer.notices.append(
                f"property {prop.id} was not linked to the criteria: {error.message}"
            )
            continue
        mapping[prop.id] = resolve_ids(answer.validates, known)[0]
    return link_properties(design_text, mapping)


async def _design(
    writer: DocumentWriter, state: SpecState, files: dict[str, str], feedback: str | None
) -> dict[str, str]:
    requirements = (
        parse_requirements(files["requirements.md"]) if "requirements.md" in files else None
    )
    criteria = [criterion.id for criterion in requirements.criteria()] if requirements else []
    parts: list[tuple[str, str]] = []
    if requirements is not None:
        listing = prompts.requirements_listing(requirements.requirements)
        parts.append(("Requirements", prompts.cut(listing, int(writer.prompt_chars * 0.4))))
    parts.append(("Feature request", state.request))
    if not criteria:
        parts.append(("Note", prompts.DESIGN_FIRST_NOTE))
    parts += _revision(writer, "design", files.get("design.md"), feedback)
    draft = await writer.ask(
        DesignDraft,
        instructions=prompts.DESIGN_INSTRUCTIONS,
        parts=parts,
        request=state.request,
        check=design_check(criteria, require_validates=bool(criteria)),
        what="design document",
        max_tokens=3000,
        essential=design_check(criteria, require_validates=False) if criteria else None,
    )
    title = f"Design Document: {_humanize(state.name)}"
    text = design_markdown(draft, title, criteria)
    if writer.salvaged and requirements is not None:
        # Only the properties' criteria were still wrong: ask for those alone, the way a
        # design-first design gets them.
        text = await _link_properties(writer, text, requirements.criteria()) or text
    return {"design.md": text}


async def _tasks(
    writer: DocumentWriter, state: SpecState, files: dict[str, str], feedback: str | None
) -> dict[str, str]:
    requirements = parse_requirements(files.get("requirements.md", ""))
    criteria = [criterion.id for criterion in requirements.criteria()]
    design_text = files.get("design.md", "")
    design = parse_design(design_text)
    properties = {p.id: [c for c in p.validates if c in criteria] for p in design.properties}
    titles = {prop.id: prop.title for prop in design.properties}
    listing = prompts.requirements_listing(requirements.requirements, stories=False)
    parts = [
        ("Requirements", prompts.cut(listing, int(writer.prompt_chars * 0.3))),
        ("Design", prompts.design_listing(design, design_text, int(writer.prompt_chars * 0.3))),
        ("Feature request", state.request),
    ]
    named = plan_note(state.request)
    if named is not None:
        parts.append(("Must cover", named))
    if writer.window is not None:
        # A small window leaves about a thousand tokens for the answer: keep the plan short.
        parts.append(("Size", prompts.SMALL_PLAN_NOTE))
    current = prompts.tasks_listing(parse_tasks(files["tasks.md"])) if "tasks.md" in files else None
    parts += _revision(writer, "implementation plan", current, feedback)
    draft = await writer.ask(
        TasksDraft,
        instructions=prompts.TASKS_INSTRUCTIONS,
        parts=parts,
        request=state.request,
        check=tasks_check(criteria, properties),
        what="implementation plan",
        max_tokens=2048,
        essential=lambda plan: [] if plan.tasks else ["no tasks"],
    )
    salvaged = writer.salvaged
    if salvaged:
        texts = {criterion.id: criterion.text for criterion in requirements.criteria()}
        draft, changes = complete_plan(draft, texts, properties)
        problems = tasks_check(criteria, properties)(draft)
        if problems:
            raise ModelRequestError(
                f"the model could not write a valid implementation plan: {' '.join(problems[:3])}",
                attempts=[],
                hint="Nothing was written. Run the command again, make the request more "
                "specific, or use a larger model with --model.",
            )
    else:
        changes = tidy_plan(draft)
    if changes:
        how = "completed" if salvaged else "tidied"
        writer.notices.append(f"The model's plan was {how} mechanically: {'; '.join(changes)}.")
    # The plan states dependencies only where a task needs another (the instructions ask
    # for that): a plan that states none has independent tasks, not a chain.
    document = tasks_document(draft, criteria, properties, titles)
    return {"tasks.md": render_tasks(document, unordered=True)}


async def _bugfix(
    writer: DocumentWriter, state: SpecState, files: dict[str, str], feedback: str | None
) -> dict[str, str]:
    parts = [("Bug report", state.request)]
    parts += _revision(writer, "bugfix requirements", files.get("bugfix.md"), feedback)
    draft = await writer.ask(
        BugfixDraft,
        instructions=prompts.BUGFIX_INSTRUCTIONS,
        parts=parts,
        request=state.request,
        check=bugfix_check(),
        what="bugfix document",
        max_tokens=1500,
        essential=bugfix_check(lint=False),
    )
    if writer.salvaged:
        writer.notices.append(_leftover("bugfix document", writer.repairs))
    return {"bugfix.md": render_bugfix(bugfix_document(draft))}


async def _bugfix_design(
    writer: DocumentWriter, state: SpecState, files: dict[str, str], feedback: str | None
) -> dict[str, str]:
    bugfix_text = files.get("bugfix.md", "")
    bugfix = parse_bugfix(bugfix_text)
    parts = [
        ("Bugfix requirements", prompts.cut(bugfix_text, int(writer.prompt_chars * 0.45))),
        ("Bug report", state.request),
    ]
    parts += _revision(writer, "bugfix design", files.get("design.md"), feedback)
    draft = await writer.ask(
        BugfixDesignDraft,
        instructions=prompts.BUGFIX_DESIGN_INSTRUCTIONS,
        parts=parts,
        request=state.request or bugfix.introduction,
        check=bugfix_design_check(),
        what="bugfix design",
        max_tokens=1200,
    )
    title = f"{_humanize(state.name)} Bugfix Design"
    text = bugfix_design(bugfix, title, draft.overview, draft.root_cause, draft.changes,
                         draft.testing_strategy)  # fmt: skip
    return {"design.md": text}


async def _bugfix_tasks(
    writer: DocumentWriter, state: SpecState, files: dict[str, str], feedback: str | None
) -> dict[str, str]:
    bugfix = parse_bugfix(files.get("bugfix.md", ""))
    criteria = [criterion.id for criterion in bugfix.criteria()]
    listing = "\n".join(f"{c.id} {c.text}" for c in bugfix.criteria())
    design_text = files.get("design.md", "")
    fix = parse_design(design_text).section("Fix Implementation")
    parts = [
        ("Bugfix criteria", prompts.cut(listing, int(writer.prompt_chars * 0.35))),
        ("Design", prompts.cut(design_text, int(writer.prompt_chars * 0.3)) if fix else ""),
        ("Bug report", state.request),
    ]
    current = prompts.tasks_listing(parse_tasks(files["tasks.md"])) if "tasks.md" in files else None
    parts += _revision(writer, "fix steps", current, feedback)
    draft = await writer.ask(
        FixStepsDraft,
        instructions=prompts.FIX_STEPS_INSTRUCTIONS,
        parts=parts,
        request=state.request or bugfix.introduction,
        check=fix_steps_check(criteria),
        what="plan of the fix",
        max_tokens=1000,
    )
    return {"tasks.md": render_tasks(bugfix_tasks_document(draft, bugfix))}
