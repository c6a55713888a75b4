"""The destructive-action guard: which commands and MCP tool calls delete or recreate
environments or data.

``assess(line)`` expands a shell line into every program it would run
(``specloom.agent.shell.expand_line``: compound forms, ``bash -c``, ``sudo``, ``env``,
``xargs``, ``find -exec``, aliases and substitutions followed) and judges each one by the
rules in ``specloom.agent.guard_rules``: recursive deletes outside build folders, force
pushes and hard resets, SQL that drops or empties data, infrastructure and cloud teardown,
writes onto disk devices, ``chmod -R 777``, and downloads run as code.

A line that cannot be read completely, or whose program is only known when it runs
(``$CMD -rf``, a substitution as the command), is *uncertain*: it could hide any of the above,
so the policy never approves it on its own either. ``echo "rm -rf /"`` or
``grep -r "drop table"`` are neither: only programs that would run are judged, and SQL only
where a database client reads it.

``assess_tool_call(server, tool, arguments)`` judges an MCP tool call: a destructive verb in
the tool's name, SQL in its arguments that drops or empties data, and any argument that looks
like a shell command (under a ``command``/``cmd``/``script``... key) judged by ``assess``.

Each finding carries ``keywords``: the words an explicit policy rule must spell out to cover
it (``git push *`` does not name ``git push --force``; ``git push --force*`` does).

May import: the standard library, ``specloom.agent.shell`` and ``specloom.agent.guard_rules``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from specloom.agent.guard_rules import (
    BUILD_FOLDERS,
    DESTRUCTIVE_VERBS,
    Finding,
    judge,
    sql_findings,
)
from specloom.agent.shell import Unit, expand_line

__all__ = [
    "BUILD_FOLDERS",
    "Assessment",
    "Finding",
    "assess",
    "assess_tool_call",
    "sql_findings",
]


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the guard found in one command line or tool call.

    Attributes:
        destructive: Some program deletes or recreates an environment or data.
        uncertain: Something could not be read or is only known when it runs, so it could
            hide a destructive program.
        reasons: One line per finding and per uncertainty.
        findings: The destructive findings.
        units: The programs the line would run (empty for tool calls).
        problems: What the shell reader could not read.
    """

    destructive: bool
    uncertain: bool
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    units: tuple[Unit, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def needs_approval(self) -> bool:
        """Whether no mode or broad pattern may approve it on its own."""
        return self.destructive or self.uncertain


def assess(line: str) -> Assessment:
    """Judge a shell command line: does any program it would run delete or recreate an
    environment or data, or could it hide one?

    Args:
        line: The command line (bash).

    Returns:
        The assessment; ``reasons`` has one line per finding and per uncertainty.
    """
    expansion = expand_line(line)
    findings: list[Finding] = []
    uncertain: list[str] = []
    for problem in expansion.problems:
        uncertain.append(f"the line cannot be read completely: {problem}")
    for unit in expansion.units:
        for finding in judge(unit, expansion.units):
            if finding not in findings:
                findings.append(finding)
        if unit.dynamic_program:
            uncertain.append(
                f"`{unit.text}` runs a program known only when the line runs ({unit.argv[0]})"
            )
    reasons = [finding.reason for finding in findings]
    reasons.extend(reason for reason in dict.fromkeys(uncertain))
    return Assessment(
        destructive=bool(findings),
        uncertain=bool(uncertain),
        reasons=tuple(reasons),
        findings=tuple(findings),
        units=expansion.units,
        problems=expansion.problems,
    )


_COMMAND_KEYS = frozenset(
    {
        "command",
        "cmd",
        "commands",
        "script",
        "shell",
        "bash",
        "sh",
        "run",
        "exec",
        "args_line",
        "commandline",
        "command_line",
    }  # fmt: skip
)
_SQL_KEYS = frozenset({"sql", "query", "statement", "statements", "queries"})
_TOOL_VERB = re.compile(
    r"(?:^|[-_.:/\s])(" + "|".join(sorted(DESTRUCTIVE_VERBS - {"rm", "rb", "rmi"})) + r")"
    r"(?:$|[-_.:/\s])|(?:^|[-_.:/\s])(rm|rmi|rmdir)(?:$|[-_.:/\s])",
    re.I,
)


def _split_camel(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)


def _strings(value: object, key: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, Mapping):
        for inner_key, inner in value.items():
            yield from _strings(inner, str(inner_key))
    elif isinstance(value, list | tuple):
        items = list(value)
        if key.lower() in _COMMAND_KEYS and items and all(isinstance(i, str) for i in items):
            yield key, " ".join(str(item) for item in items)
            return
        for item in items:
            yield from _strings(item, key)


def assess_tool_call(server: str, tool: str, arguments: Mapping[str, object]) -> Assessment:
    """Judge a call of an MCP server's tool.

    Destructive: a destructive verb in the tool's name (``delete_file``, ``dropTable``,
    ``terminate-instance``, ``purge``, ``wipe``...); SQL in the arguments that drops or
    empties data; a shell command in the arguments that ``assess`` finds destructive.
    Uncertain: a shell command in the arguments that ``assess`` cannot read.

    Args:
        server: The MCP server's name.
        tool: The tool's name.
        arguments: The arguments the model gave.
    """
    where = f"{server}/{tool}"
    findings: list[Finding] = []
    uncertain: list[str] = []
    verb = _TOOL_VERB.search(_split_camel(tool))
    if verb:
        word = (verb.group(1) or verb.group(2)).lower()
        findings.append(
            Finding(
                "mcp-tool",
                f"the tool `{where}` is named for a destructive action ({word})",
                where,
                (tool,),
            )  # fmt: skip
        )
    for key, text in _strings(arguments):
        lowered = key.lower()
        if lowered in _COMMAND_KEYS:
            judged = assess(text)
            for finding in judged.findings:
                findings.append(Finding(finding.category, f"{where}: {finding.reason}",
                                        where, (tool, *finding.keywords)))  # fmt: skip
            if judged.uncertain:
                uncertain.extend(f"{where}: {reason}" for reason in judged.reasons
                                 if reason not in (f.reason for f in judged.findings))  # fmt: skip
        if lowered in _SQL_KEYS or _looks_like_sql(text):
            for finding in sql_findings(text, where):
                findings.append(Finding(finding.category, finding.reason, where,
                                        (tool, *finding.keywords)))  # fmt: skip
    reasons = [finding.reason for finding in findings] + list(dict.fromkeys(uncertain))
    return Assessment(
        destructive=bool(findings),
        uncertain=bool(uncertain),
        reasons=tuple(dict.fromkeys(reasons)),
        findings=tuple(findings),
    )


def _looks_like_sql(text: str) -> bool:
    return bool(
        re.match(r"\s*(WITH|DROP|TRUNCATE|DELETE|ALTER|SELECT|INSERT|UPDATE|CREATE)\b", text, re.I)
    )
