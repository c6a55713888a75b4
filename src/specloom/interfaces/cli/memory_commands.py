"""``specloom memory ...``: rules learned from review feedback that later prompts include.

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the commands,
``specloom.agent.memory`` and ``specloom.llm.session``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.model_commands import BudgetOption, ModelOption, RootOption
from specloom.interfaces.cli.output import emit_json, print_table, say

if TYPE_CHECKING:
    from specloom.agent.memory import Memory, MemoryRule

__all__ = ["memory_app"]

memory_app = typer.Typer(
    name="memory",
    help="Short rules learned from review feedback, which later prompts include.",
    no_args_is_help=True,
)
app.add_typer(memory_app, name="memory")


class Scope(StrEnum):
    """Where a rule applies."""

    project = "project"
    user = "user"


ScopeOption = Annotated[
    Scope | None,
    typer.Option(
        "--scope",
        help="`project` (this project; the default inside one) or `user` (every project).",
    ),
]


def _memory(root: Path | None) -> Memory:
    from specloom.agent.memory import Memory
    from specloom.llm.session import project_root_or_none

    return Memory(project_root_or_none(root))


def _line(rule: MemoryRule) -> str:
    return f"{rule.scope} {rule.id}: {rule.text}"


@memory_app.command("add")
@handles_errors
def add_command(
    text: Annotated[str, typer.Argument(help="The rule, one short imperative sentence.")],
    scope: ScopeOption = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remember a rule, unless memory already holds it or a near duplicate of it."""
    with _memory(root) as memory:
        result = memory.add(text, scope=scope.value if scope else None)
    if as_json:
        emit_json(result.to_dict())
    elif result.rule is not None:
        say(f"added {_line(result.rule)}")
    elif result.duplicate_of is not None:
        kind = "the same as" if result.similarity >= 1.0 else "a near duplicate of"
        say(f"not added: it is {kind} {_line(result.duplicate_of)}")


@memory_app.command("list")
@handles_errors
def list_command(
    scope: ScopeOption = None, root: RootOption = None, as_json: JsonOption = False
) -> None:
    """Every remembered rule: project rules, then user rules, oldest first."""
    with _memory(root) as memory:
        rules = memory.rules(scope.value if scope else None)
    if as_json:
        emit_json([rule.to_dict() for rule in rules])
        return
    if not rules:
        say("No rules remembered yet (add one with `specloom memory add`).")
        return
    print_table(
        None,
        ["id", "scope", "rule", "source", "created"],
        [
            [
                rule.id,
                rule.scope,
                rule.text,
                rule.source or "",
                rule.created.astimezone().strftime("%Y-%m-%d"),
            ]
            for rule in rules
        ],
    )


@memory_app.command("remove")
@handles_errors
def remove_command(
    rule_id: Annotated[int, typer.Argument(help="The rule's id (see `specloom memory list`).")],
    scope: ScopeOption = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Forget a rule."""
    with _memory(root) as memory:
        rule = memory.remove(rule_id, scope=scope.value if scope else None)
    if as_json:
        emit_json({"removed": rule.to_dict()})
    else:
        say(f"removed {_line(rule)}")


@memory_app.command("learn")
@handles_errors
def learn_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="Review comments: a GitHub export (gh api repos/O/R/pulls/N/comments, or gh "
            "pr view N --json reviews,comments) or a text or markdown file."
        ),
    ],
    model: ModelOption = None,
    budget: BudgetOption = None,
    scope: ScopeOption = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Distil review comments into short rules with a model and remember the new ones."""
    from specloom.agent.memory import learn_rules, read_review_file
    from specloom.llm.session import open_model_session

    comments = read_review_file(file)
    with _memory(root) as memory:
        memory.store(scope.value if scope else memory.default_scope)
        session = open_model_session(
            command="memory learn", model=model, kind="summary", budget=budget, root=memory.root
        )
        result = learn_rules(
            comments,
            memory,
            model=session.model,
            source=_source_name(file, memory.root),
            scope=scope.value if scope else None,
        )
    if as_json:
        data = result.to_dict()
        data["spent"] = session.spent()
        emit_json(data)
        return
    say(
        f"{result.source}: {result.comments} comment(s), {len(result.added)} rule(s) added, "
        f"{len(result.duplicates)} already known, {len(result.specific)} too specific."
    )
    for rule in result.added:
        say(f"  added {_line(rule)}")
    for duplicate in result.duplicates:
        known = duplicate.duplicate_of
        say(f"  skipped {duplicate.text!r}: already known as {_line(known) if known else '?'}")
    for text in result.specific:
        say(f"  skipped {text!r}: specific to the reviewed change")


def _source_name(path: Path, root: Path | None) -> str:
    """The file as stored with the rules: relative to the project root when inside it."""
    resolved = path.resolve()
    if root is not None and resolved.is_relative_to(root):
        return resolved.relative_to(root).as_posix()
    return str(resolved)
