"""``specloom hooks new "<description>"``: a hook file from a plain sentence.

A model turns the sentence into a ``HookDraft`` (``specloom.llm.structured.generate``: schema
validation, then ``check_draft``, whose problems go back to the model to fix). The draft is
then rendered as a legacy ``.kiro.hook`` file (the format Kiro's IDE reads), read back with
the same loader every hook goes through, and only saved when that reading finds nothing
wrong. The prompt is short and has one worked example, so the embedded model can do it too.

May import: the standard library, pydantic, ``specloom.errors``, ``specloom.llm.structured``
and the ``specloom.hooks`` modules.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from specloom.errors import ModelRequestError
from specloom.hooks.editing import render_legacy_hook, write_hook_file
from specloom.hooks.loader import HOOKS_DIR, LEGACY_SUFFIX, read_hook_file, slug
from specloom.hooks.model import FILE_EVENTS, TOOL_EVENTS, Action, EventKind, Hook

if TYPE_CHECKING:
    from pydantic_ai.models import Model

__all__ = ["DraftedHook", "HookDraft", "check_draft", "draft_hook", "save_draft"]

EventName = Literal[
    "fileEdited",
    "fileCreated",
    "fileDeleted",
    "promptSubmit",
    "agentStop",
    "preToolUse",
    "postToolUse",
    "preTaskExecution",
    "postTaskExecution",
    "userTriggered",
]


class HookDraft(BaseModel):
    """A hook as the model describes it."""

    name: str = Field(description="Short kebab-case name, e.g. ruff-on-save.")
    description: str = Field(description="What the hook does, one sentence.")
    event: EventName = Field(description="What the hook fires on.")
    patterns: list[str] = Field(
        default_factory=list, description='File globs for file events, e.g. ["**/*.py"].'
    )
    tools: list[str] = Field(
        default_factory=list, description="Tool names for tool events: read, write or shell."
    )
    action: Literal["runCommand", "askAgent"] = Field(description="What the hook does.")
    command: str = Field(default="", description="The shell command, for runCommand.")
    prompt: str = Field(default="", description="The request for the agent, for askAgent.")


INSTRUCTIONS = """\
You write agent hooks for a coding tool. A hook fires on an event, then runs a shell command \
(runCommand) or gives the coding agent a request (askAgent). Answer with the hook only."""

PROMPT = """\
Write one hook for this request: "{description}"

Events: fileEdited (a file is saved), fileCreated, fileDeleted; these need "patterns", globs \
such as "**/*.py" or "src/**/*.ts". preToolUse and postToolUse (before and after the agent \
uses a tool) take "tools": "read", "write" or "shell". Others: promptSubmit, agentStop, \
preTaskExecution, postTaskExecution, userTriggered (run by hand).
Use runCommand when the request names a program to run; the command finds the saved files \
in $SPECLOOM_FILES (the first one in $SPECLOOM_FILE). Otherwise use askAgent, with a prompt \
that tells the agent exactly what to do.

Example request: "run ruff on python files when I save them"
Example hook: {{"name": "ruff-on-save", "description": "Run ruff on saved Python files.", \
"event": "fileEdited", "patterns": ["**/*.py"], "tools": [], "action": "runCommand", \
"command": "ruff check $SPECLOOM_FILES", "prompt": ""}}"""


def check_draft(draft: HookDraft) -> list[str]:
    """What is wrong with a draft, in words the model can act on (empty: nothing)."""
    problems: list[str] = []
    if not slug(draft.name):
        problems.append('"name" must be a short kebab-case name such as "lint-on-save".')
    if not draft.description.strip():
        problems.append('"description" must say in one sentence what the hook does.')
    event = EventKind(draft.event)
    if event in FILE_EVENTS:
        if not [pattern for pattern in draft.patterns if pattern.strip()]:
            problems.append(f'a {draft.event} hook needs "patterns", e.g. ["**/*.py"].')
        for pattern in draft.patterns:
            if pattern.startswith("/") or ".." in pattern.split("/"):
                problems.append(f"pattern {pattern!r} must be relative to the project root.")
    if draft.action == "runCommand":
        if not draft.command.strip():
            problems.append('a runCommand hook needs "command", the shell command to run.')
        elif "\n" in draft.command.strip():
            problems.append('"command" must be one line.')
    elif len(draft.prompt.strip()) < 10:
        problems.append('an askAgent hook needs "prompt": what the agent should do, in full.')
    return problems


@dataclass(frozen=True, slots=True)
class DraftedHook:
    """A validated draft, ready to save.

    Attributes:
        stem: The file name without ``.kiro.hook`` (free in the project).
        text: The hook file's text.
        hook: The hook as the loader reads that text.
        repairs: How many times the model was asked to fix its answer.
    """

    stem: str
    text: str
    hook: Hook
    repairs: int


def _free_stem(root: Path, name: str) -> str:
    base = slug(name) or "hook"
    stem, number = base, 2
    while (root / HOOKS_DIR / f"{stem}{LEGACY_SUFFIX}").exists():
        stem, number = f"{base}-{number}", number + 1
    return stem


def _render(draft: HookDraft) -> str:
    event = EventKind(draft.event)
    if draft.action == "runCommand":
        action = Action("runCommand", command=draft.command.strip())
    else:
        action = Action("askAgent", prompt=draft.prompt.strip())
    return render_legacy_hook(
        name=draft.name.strip(),
        description=draft.description.strip(),
        event=event,
        action=action,
        patterns=[pattern.strip() for pattern in draft.patterns if pattern.strip()],
        tool_patterns=[tool.strip() for tool in draft.tools if tool.strip()]
        if event in TOOL_EVENTS
        else [],
    )


def _read_back(stem: str, text: str) -> tuple[Hook | None, list[str]]:
    """The hook the loader reads from ``text``, or the loader's complaints."""
    with tempfile.TemporaryDirectory(prefix="specloom-hook-") as scratch:
        path = Path(scratch) / f"{stem}{LEGACY_SUFFIX}"
        path.write_text(text, encoding="utf-8")
        hooks, problems = read_hook_file(path, display=path.name)
    if problems:
        return None, [problem.message for problem in problems]
    return hooks[0], []


async def draft_hook(description: str, *, model: Model, root: Path) -> DraftedHook:
    """Ask ``model`` for a hook doing what ``description`` says, validated as a hook file.

    Raises:
        ModelRequestError: The model did not produce a valid hook after its repairs.
    """
    from specloom.llm.structured import generate

    def check(draft: HookDraft) -> list[str]:
        problems = check_draft(draft)
        if not problems:
            stem = _free_stem(root, draft.name)
            _, problems = _read_back(stem, _render(draft))
        return problems

    generated = await generate(
        HookDraft,
        PROMPT.format(description=description.strip().replace('"', "'")),
        model=model,
        instructions=INSTRUCTIONS,
        check=check,
        repairs=3,
        max_tokens=800,
    )
    draft = generated.value
    stem = _free_stem(root, draft.name)
    text = _render(draft)
    hook, problems = _read_back(stem, text)
    if hook is None:  # check() already refused such drafts; kept for a model that slips past
        raise ModelRequestError(
            "the model's hook is not valid: " + "; ".join(problems),
            attempts=[],
            hint="Try again, describe the hook more precisely, or use a larger model.",
        )
    return DraftedHook(stem, text, hook, generated.repairs)


def save_draft(root: Path, drafted: DraftedHook) -> Path:
    """Save a drafted hook as ``.kiro/hooks/<stem>.kiro.hook`` (never over another file).

    Raises:
        UsageError: The file appeared meanwhile.
    """
    return write_hook_file(root, drafted.stem, drafted.text)
