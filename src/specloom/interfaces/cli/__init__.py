"""The ``specloom`` command line.

Each command is thin: it parses arguments, calls one function of ``specloom.workspace`` or
``specloom.spec``, and prints the result (rich on a terminal, plain text when piped, JSON with
``--json``). User-facing errors become one paragraph on stderr and exit code 2.

Exit codes: 0 success; 1 findings of severity error (``lint``, ``analyze``); 2 bad input or
usage.

May import: ``specloom.errors``, ``specloom.workspace``, ``specloom.spec``, and (inside the
commands that need them) the other layers.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import typer

from specloom.errors import UserFacingError

__all__ = ["app", "main"]

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="specloom",
    help="Spec-driven development: requirements, design and tasks you review, then code an "
    "agent writes and tests verify. Reads and writes Kiro's .kiro/ layout.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _print_version(value: bool) -> None:
    if value:
        from specloom import __version__

        typer.echo(f"specloom {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Spec-driven development: requirements, design and tasks you review, then code an agent
    writes and tests verify. Reads and writes Kiro's .kiro/ layout."""


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn user-facing errors (and unreadable files) into one paragraph and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from specloom.interfaces.cli.output import fail

        as_json = bool(kwargs.get("as_json", False))
        try:
            return command(*args, **kwargs)
        except UserFacingError as error:
            raise typer.Exit(fail(error, as_json=as_json)) from None
        except OSError as error:
            wrapped = UserFacingError(
                f"cannot read or write the file: {error.strerror or error}.",
                file=error.filename,
                hint="Check that it exists and that you may read and write it.",
            )
            raise typer.Exit(fail(wrapped, as_json=as_json)) from None

    return wrapper


def main() -> None:
    """Console-script entry point.

    With ``--json``, even argument errors (a missing argument, a bad choice) are reported as
    a JSON object on stdout, so scripts always get JSON back.
    """
    # specloom owns its terminal output: no first-run banner from the model library.
    os.environ.setdefault("PYDANTIC_AI_NO_BANNER", "1")
    if "--json" not in sys.argv[1:]:
        app()
        return
    try:
        result = app(standalone_mode=False)
    except typer.TyperException as error:
        from specloom.errors import UsageError
        from specloom.interfaces.cli.output import fail

        usage = UsageError(error.format_message(), hint="Run the command with --help for usage.")
        sys.exit(fail(usage, as_json=True))
    except typer.Abort:
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


# The commands live in their own module, which registers them on `app` when imported.
from specloom.interfaces.cli import agent_commands as _agent_commands  # noqa: E402, F401
from specloom.interfaces.cli import authoring_commands as _authoring_commands  # noqa: E402, F401
from specloom.interfaces.cli import chat_commands as _chat_commands  # noqa: E402, F401
from specloom.interfaces.cli import checkpoint_commands as _checkpoint_commands  # noqa: E402, F401
from specloom.interfaces.cli import hooks_commands as _hooks_commands  # noqa: E402, F401
from specloom.interfaces.cli import log_commands as _log_commands  # noqa: E402, F401
from specloom.interfaces.cli import mcp_commands as _mcp_commands  # noqa: E402, F401
from specloom.interfaces.cli import memory_commands as _memory_commands  # noqa: E402, F401
from specloom.interfaces.cli import model_commands as _model_commands  # noqa: E402, F401
from specloom.interfaces.cli import policy_commands as _policy_commands  # noqa: E402, F401
from specloom.interfaces.cli import run_commands as _run_commands  # noqa: E402, F401
from specloom.interfaces.cli import spec_commands as _spec_commands  # noqa: E402, F401
from specloom.interfaces.cli import usage_commands as _usage_commands  # noqa: E402, F401
