"""The agent's built-in tools, and the pydantic-ai toolset that exposes them.

The tools: ``read_file``, ``list_files``, ``search_files``, ``write_file``, ``edit_file``
(in ``specloom.agent.file_tools``), ``run_command`` and ``read_spec`` (here). Each is a plain
async function whose first argument is a ``ToolEnv`` (``specloom.agent.tool_env``): the
workspace, settings, sandbox and the agent loop's ``approve``, ``before_change`` and
``record`` callbacks. Writes, edits and commands ask ``approve`` first.

``builtin_toolset(env)`` exposes them to a pydantic-ai agent. The tools reach ``env`` through
a closure, not ``RunContext.deps``, so the agent's ``deps_type`` stays free for the workflow.
A call the model can correct (a path outside the workspace, an edit whose text is not in the
file, a declined approval) raises ``ModelFacingError``; the toolset turns it into
pydantic-ai's ``ToolFailed``, which the model sees as a failed tool result without using up
the run's retry budget.

May import: the standard library, ``anyio``, ``pydantic_ai`` (inside ``builtin_toolset``),
``specloom.errors`` and the modules of ``specloom.agent`` listed above and ``.runner``,
``.sandbox``, ``.spec_parts``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from specloom.agent import runner, spec_parts
from specloom.agent.file_tools import edit_file, list_files, read_file, search_files, write_file
from specloom.agent.sandbox import Sandbox
from specloom.agent.tool_env import (
    DECLINED,
    ApprovalRequest,
    ToolEnv,
    ToolEvent,
    ToolLimits,
    ask_approval,
    audited,
)
from specloom.errors import ModelFacingError

if TYPE_CHECKING:
    from pydantic_ai.toolsets import FunctionToolset

__all__ = [
    "DECLINED",
    "ApprovalRequest",
    "ToolEnv",
    "ToolEvent",
    "ToolLimits",
    "builtin_toolset",
    "edit_file",
    "list_files",
    "read_file",
    "read_spec",
    "run_command",
    "search_files",
    "write_file",
]


def _render(result: runner.CommandResult, timeout: float, sandbox: Sandbox | None) -> str:
    if result.timed_out:
        head = (
            f"Timed out after {timeout:g} s and was killed with everything it started "
            f"(exit code {result.exit_code})."
        )
    else:
        head = f"Exit code {result.exit_code} ({result.duration_s:.1f} s)."
    if result.exit_code != 0 and sandbox is not None and result.sandboxed and not sandbox.network:
        head += (
            " It ran in a sandbox without network access that can write only inside the workspace."
        )
    output = result.output if result.output.strip() else "(no output)\n"
    return f"{head}\n{output}".rstrip("\n")


async def run_command(
    env: ToolEnv, command: str, cwd: str = ".", timeout_s: float | None = None
) -> str:
    """Run a shell line (``bash -c``) in a workspace folder, sandboxed where possible; asks
    first.

    Args:
        env: The tool environment.
        command: The shell command line.
        cwd: The folder it runs in (inside the workspace).
        timeout_s: Seconds before it is killed (default and maximum from ``env.limits``).

    Returns:
        The exit code, how long it took, and the output (stdout and stderr together, the
        middle left out past the cap).

    Raises:
        ModelFacingError: An empty command, a folder outside the workspace, or the user
            declined.
    """
    arguments: dict[str, object] = {"command": command, "cwd": cwd, "timeout_s": timeout_s}
    with audited(env, "run_command", arguments) as call:
        if not command.strip():
            raise ModelFacingError("The command is empty.")
        folder = env.workspace.resolve(cwd, write=False)
        shown = env.workspace.display(folder)
        if not folder.is_dir():
            raise ModelFacingError(f"cwd {shown!r} is not a folder of the workspace.")
        limits = env.limits
        timeout = limits.command_timeout_s if timeout_s is None else timeout_s
        if timeout <= 0:
            raise ModelFacingError("timeout_s must be more than 0.")
        timeout = min(timeout, limits.command_max_timeout_s)
        sandboxed = env.sandbox is not None and env.sandbox.available
        await ask_approval(
            env,
            ApprovalRequest(
                "command",
                "run_command",
                f"run `{command}` in {shown}",
                command=command,
                cwd=shown,
                sandboxed=sandboxed,
            ),
        )
        await env.before_change(list(env.workspace.roots))
        result = await runner.run_command(
            command,
            cwd=folder,
            timeout_s=timeout,
            output_cap=limits.command_output_cap,
            env=env.command_environment(),
            sandbox=env.sandbox,
        )
        call.exit_code, call.sandboxed = result.exit_code, result.sandboxed
        call.summary = "timed out" if result.timed_out else f"exit code {result.exit_code}"
        return _render(result, timeout, env.sandbox)


async def read_spec(env: ToolEnv, spec: str, part: str = "") -> str:
    """One part of a spec by id, or the spec's outline (see ``specloom.agent.spec_parts``).

    Args:
        env: The tool environment.
        spec: The spec's folder name under ``.kiro/specs/``.
        part: ``""`` (outline), ``"1"`` (requirement), ``"1.2"`` (criterion), ``"task 2.1"``,
            ``"Property 3"`` or a design heading.

    Returns:
        The part as written in the spec, with what it is linked to.

    Raises:
        ModelFacingError: No such spec or part; the message lists what exists.
    """
    with audited(env, "read_spec", {"spec": spec, "part": part}):
        loaded = await anyio.to_thread.run_sync(lambda: spec_parts.load_spec(env.workspace, spec))
        return spec_parts.spec_part(loaded, part)


def builtin_toolset(env: ToolEnv, *, read_only: bool = False) -> FunctionToolset[Any]:
    """The built-in tools as a pydantic-ai toolset bound to ``env`` (by closure, so any
    ``deps_type`` works).

    Args:
        env: The environment the tools act in.
        read_only: Leave out ``write_file``, ``edit_file`` and ``run_command`` (for
            planning and analysis).

    Returns:
        A ``FunctionToolset`` with ``read_file``, ``list_files``, ``search_files``,
        ``read_spec`` and, unless ``read_only``, ``write_file``, ``edit_file`` and
        ``run_command``. Writes and commands are sequential: they never overlap.
    """
    from pydantic_ai.exceptions import ToolFailed
    from pydantic_ai.toolsets import FunctionToolset

    async def shown_to_model(result: Awaitable[str]) -> str:
        try:
            return await result
        except ModelFacingError as error:
            raise ToolFailed(str(error)) from error

    async def read_file_tool(
        path: str, start_line: int | None = None, end_line: int | None = None
    ) -> str:
        """Read a text file of the workspace. Lines come numbered (`   12<TAB>text`); long
        files are cut with a note that says how to read on.

        Args:
            path: The file, relative to the workspace root (e.g. `src/app.py`).
            start_line: First line to show, 1-based. Leave out to start at the top.
            end_line: Last line to show, inclusive. Leave out to read to the end.
        """
        return await shown_to_model(read_file(env, path, start_line, end_line))

    async def list_files_tool(
        path: str = ".", glob: str | None = None, max_results: int | None = None
    ) -> str:
        """List the files under a folder of the workspace (recursively), leaving out what
        .gitignore ignores and git's own files.

        Args:
            path: The folder to list, relative to the workspace root; `.` is the root.
            glob: Only paths matching this gitignore-style glob, e.g. `*.py` (any depth) or
                `src/**/*.ts` (from the root); `!*.md` leaves matches out.
            max_results: The most paths to return.
        """
        return await shown_to_model(list_files(env, path, glob, max_results))

    async def search_files_tool(
        pattern: str,
        path: str = ".",
        glob: str | None = None,
        ignore_case: bool = False,
        literal: bool = False,
        max_results: int | None = None,
    ) -> str:
        """Search file contents for a regular expression (like ripgrep); answers
        `path:line: text` lines.

        Args:
            pattern: A regular expression, e.g. `def \\w+_total`; with literal=true, plain text.
            path: The folder or file to search, relative to the workspace root.
            glob: Only files matching this gitignore-style glob, e.g. `*.py`.
            ignore_case: Match regardless of upper or lower case.
            literal: Take the pattern as plain text, not a regular expression.
            max_results: The most matching lines to return (default 100).
        """
        return await shown_to_model(
            search_files(env, pattern, path, glob, ignore_case, literal, max_results)
        )

    async def read_spec_tool(spec: str, part: str = "") -> str:
        """Read a spec of this project (.kiro/specs/<spec>/), or one part of it by id.

        Args:
            spec: The spec's name: its folder under .kiro/specs/.
            part: Leave empty for an outline; `1` for requirement 1, `1.2` for acceptance
                criterion 1.2, `task 2.1` for a task, `Property 3` for a correctness property,
                or a design section's heading such as `Data Models`.
        """
        return await shown_to_model(read_spec(env, spec, part))

    async def write_file_tool(path: str, content: str) -> str:
        """Create a file, or replace a whole file, with the given content. Missing folders
        are created. Prefer edit_file to change part of an existing file.

        Args:
            path: The file, relative to the workspace root.
            content: The complete new content of the file.
        """
        return await shown_to_model(write_file(env, path, content))

    async def edit_file_tool(
        path: str, old_text: str, new_text: str, replace_all: bool = False
    ) -> str:
        """Replace exact text in a file. old_text must match the file exactly (white space
        included, no line numbers) and only once, unless replace_all is true; include a few
        surrounding lines to make it unique.

        Args:
            path: The file to edit, relative to the workspace root.
            old_text: The exact text to replace, copied from the file.
            new_text: The text to put in its place.
            replace_all: Replace every occurrence of old_text, not just one.
        """
        return await shown_to_model(edit_file(env, path, old_text, new_text, replace_all))

    async def run_command_tool(command: str, cwd: str = ".", timeout_s: float | None = None) -> str:
        """Run a shell command (bash) in the workspace and get its exit code and output
        (stdout and stderr together). Use it for tests, builds, linters and git. Commands
        have no input and may run in a sandbox without network access.

        Args:
            command: The command line, e.g. `pytest -q tests/test_app.py`.
            cwd: The folder to run it in, relative to the workspace root.
            timeout_s: Seconds to allow before it is killed (default 120 unless configured).
        """
        return await shown_to_model(run_command(env, command, cwd, timeout_s))

    toolset: FunctionToolset[Any] = FunctionToolset(
        docstring_format="google", require_parameter_descriptions=True, id="specloom-builtin"
    )
    toolset.add_function(read_file_tool, takes_ctx=False, name="read_file")
    toolset.add_function(list_files_tool, takes_ctx=False, name="list_files")
    toolset.add_function(search_files_tool, takes_ctx=False, name="search_files")
    toolset.add_function(read_spec_tool, takes_ctx=False, name="read_spec")
    if not read_only:
        toolset.add_function(write_file_tool, takes_ctx=False, name="write_file", sequential=True)
        toolset.add_function(edit_file_tool, takes_ctx=False, name="edit_file", sequential=True)
        toolset.add_function(run_command_tool, takes_ctx=False, name="run_command", sequential=True)
    return toolset
