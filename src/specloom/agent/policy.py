"""The safety policy: whether a write, an edit, a command or an MCP tool call may go ahead
on its own, must be asked about, or is refused; and the approvals a session collects.

Inputs: the mode (``agent.mode``: ``supervised``, the default, or ``autopilot``), trusted
command patterns (``agent.trusted_commands``), rules (``agent.rules`` and Kiro's
``permissions.yaml`` files, see ``specloom.agent.permissions``), the workspace roots and
whether the sandbox works.

Precedence, most restrictive first; a command is judged program by program (the line's
decision is the most restrictive of its programs'):

1. ``deny`` rules: a matching deny rule refuses (a shell deny rule also applies to the whole
   line). Writes outside the workspace are refused too (the file tools' confinement would
   refuse them anyway).
2. The destructive-action guard (``specloom.agent.guard``): a destructive program is asked
   about in every mode, unless an ``allow`` rule or trusted pattern *names* it (spells out
   the finding's keywords: ``terraform destroy*``, not ``*`` or ``terraform *``). A line the
   guard cannot read, or whose program is only known when it runs, is asked about.
3. ``ask`` rules.
4. ``allow`` rules and trusted command patterns (each program of the line must be covered;
   ``cd``, ``echo``, ``pwd``... without redirections need no cover).
5. The mode: ``supervised`` asks; ``autopilot`` allows writes in the workspace, and commands
   when they run in the sandbox; without a sandbox it asks before any command not covered
   by step 4 (and says so once, ``Policy.sandbox_notice``).

MCP tool calls follow the same order with capability ``mcp`` (``server/tool``); a server's
``autoApprove`` list counts as an allow step 4 and never overrides the guard.

Session approvals: ``Grants`` remembers the user's "for this file" and "for this command
pattern" answers (a pattern never covers a destructive or unreadable command);
``make_approver`` / ``Approver`` turn the policy, the grants and the interface's ``ask`` into
the ``approve`` callbacks the tools and the agent loop call.

May import: the standard library, ``specloom.errors``, ``specloom.settings`` and
``specloom.agent.guard``, ``.permissions``, ``.sandbox``, ``.shell``, ``.tool_env``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from specloom.agent.guard import Assessment, Finding, assess, assess_tool_call
from specloom.agent.permissions import (
    PERMISSIONS_FILE,
    Rule,
    RuleSet,
    command_matches,
    load_permissions,
    rules_from_settings,
)
from specloom.agent.sandbox import Sandbox
from specloom.agent.shell import Unit
from specloom.agent.tool_env import ApprovalRequest
from specloom.settings import Settings

__all__ = [
    "MODES",
    "Answer",
    "Approver",
    "By",
    "Decision",
    "Grants",
    "Mode",
    "Policy",
    "make_approver",
]

Mode = Literal["supervised", "autopilot"]
MODES: tuple[Mode, ...] = ("supervised", "autopilot")
Verdict = Literal["allow", "ask", "deny"]
By = Literal["rule", "mode", "policy", "grant", "user"]
"""Who settled an approval: a rule or trusted pattern, the mode's default, a built-in check
(outside the workspace, nobody to ask), an earlier answer of this session, or the user now."""

_ORDER: dict[Verdict, int] = {"allow": 0, "ask": 1, "deny": 2}
_NEUTRAL = frozenset(
    {"cd", "pushd", "popd", "pwd", "echo", "printf", "true", "false", ":", "test", "[", "sleep"}
)
_QUIET_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "&1", "&2", "1", "2"})


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided about one action.

    Attributes:
        decision: ``allow`` (go ahead), ``ask`` (the user decides) or ``deny``.
        destructive: The destructive-action guard flagged it.
        reasons: Why, one line each (the guard's findings first).
        rule: The rule or pattern that decided, described with its source.
        by: ``rule``, ``mode`` or ``policy`` (see ``By``).
    """

    decision: Verdict
    destructive: bool
    reasons: tuple[str, ...]
    rule: str | None = None
    by: By = "mode"

    def to_dict(self) -> dict[str, object]:
        """The decision as JSON (``decision``, ``destructive``, ``reasons``, ``rule``)."""
        return {
            "decision": self.decision,
            "destructive": self.destructive,
            "reasons": list(self.reasons),
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class _Verdict:
    verdict: Verdict
    reason: str
    rule: str | None = None
    by: By = "mode"


def _most_restrictive(verdicts: Sequence[_Verdict]) -> _Verdict:
    return max(verdicts, key=lambda item: _ORDER[item.verdict])


class Policy:
    """Decides each action from the mode, trusted patterns, rules and the sandbox."""

    def __init__(
        self,
        *,
        mode: Mode = "supervised",
        trusted_commands: Sequence[str] = (),
        rules: Sequence[Rule] = (),
        roots: Sequence[Path] = (),
        sandbox_available: bool = False,
        sandbox_reason: str | None = None,
        warnings: Sequence[str] = (),
        trusted_source: str = "agent.trusted_commands",
    ) -> None:
        """A policy.

        Args:
            mode: ``supervised`` or ``autopilot``.
            trusted_commands: Command globs that run without asking.
            rules: Permission rules, from every source.
            roots: The workspace roots (writes outside them are refused).
            sandbox_available: Whether commands run in the sandbox.
            sandbox_reason: Why not, when they do not.
            warnings: What was odd in the rules read (shown by ``specloom policy show``).
            trusted_source: Where the trusted patterns were set, for ``Decision.rule``.
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode: Mode = mode
        self.trusted_commands = tuple(trusted_commands)
        self.rules = tuple(rules)
        self.roots = tuple(Path(os.path.realpath(root)) for root in roots)
        self.sandbox_available = sandbox_available
        self.sandbox_reason = sandbox_reason
        self.warnings = tuple(warnings)
        self._trusted_rules = tuple(
            Rule("shell", "allow", (pattern,), (), f"{trusted_source}: `{pattern}`")
            for pattern in self.trusted_commands
        )
        self._notice_given = False

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        roots: Sequence[Path],
        *,
        mode: Mode | None = None,
        sandbox: Sandbox | None = None,
        home: Path | None = None,
    ) -> Policy:
        """The policy the settings and permission files describe.

        Args:
            settings: The merged settings (``agent.mode``, ``agent.trusted_commands``,
                ``agent.rules``, ``agent.sandbox``).
            roots: The workspace roots; the first one's ``.kiro/settings/permissions.yaml``
                is read.
            mode: Overrides ``agent.mode`` (a command-line option).
            sandbox: The sandbox commands run in (default: from the settings).
            home: The user's home, for ``~/.kiro/settings/permissions.yaml``.

        Raises:
            SettingsError: A bad ``agent`` value or permission file (file, line, fix).
        """
        chosen = mode if mode is not None else settings.get("agent", "mode", default="supervised")
        if chosen not in MODES:
            raise settings.error(
                f"`agent.mode` must be `supervised` or `autopilot`, not {chosen!r}",
                "agent",
                "mode",
            )
        trusted = settings.get("agent", "trusted_commands", default=[])
        if isinstance(trusted, str):
            trusted = [trusted]
        if not isinstance(trusted, list) or not all(isinstance(item, str) for item in trusted):
            raise settings.error(
                "`agent.trusted_commands` must be a list of command patterns",
                "agent",
                "trusted_commands",
                hint='Write `"trusted_commands": ["pytest*", "git status"]`.',
            )
        found = RuleSet()
        for folder in (*roots[:1], home if home is not None else Path.home()):
            found.extend(load_permissions(Path(folder) / PERMISSIONS_FILE))
        found.extend(rules_from_settings(settings))
        if sandbox is None:
            sandbox = Sandbox.from_settings(settings, roots)
        path, _ = settings.locate("agent", "trusted_commands")
        where = f"{path}: agent.trusted_commands" if path else "agent.trusted_commands"
        return cls(
            mode=chosen,
            trusted_commands=trusted,
            rules=found.rules,
            roots=roots,
            sandbox_available=sandbox.available,
            sandbox_reason=sandbox.reason,
            warnings=found.warnings,
            trusted_source=where,
        )

    @property
    def sandbox_notice(self) -> str | None:
        """The one-time notice that commands run without a sandbox (``None`` after the first
        read, and when the sandbox works)."""
        if self.sandbox_available or self._notice_given:
            return None
        self._notice_given = True
        reason = self.sandbox_reason or "bubblewrap does not work here"
        tail = (
            " Autopilot will ask before every command that is not trusted."
            if self.mode == "autopilot"
            else ""
        )
        return f"Commands run without a sandbox: {reason}.{tail}"

    # --- decisions ------------------------------------------------------------------------

    def decide(self, request: ApprovalRequest) -> Decision:
        """Decide a write, an edit or a command the tools are about to do."""
        if request.kind == "command":
            return self.check_command(
                request.command or "", cwd=request.cwd, sandboxed=request.sandboxed
            )
        return self._decide_write(request)

    def _inside(self, path: Path) -> Path | None:
        resolved = Path(os.path.realpath(path))
        for root in self.roots:
            if resolved == root or resolved.is_relative_to(root):
                return root
        return None

    def _decide_write(self, request: ApprovalRequest) -> Decision:
        shown = request.path or (str(request.absolute_path) if request.absolute_path else "")
        absolute = request.absolute_path
        if absolute is None and request.path is not None and self.roots:
            absolute = self.roots[0] / request.path
        root = self._inside(absolute) if absolute is not None else None
        if self.roots and root is None:
            return Decision(
                "deny",
                False,
                (f"{shown} is outside the workspace; files outside it are never written",),
                None,
                "policy",
            )
        resources = [shown]
        if absolute is not None and root is not None:
            resolved = Path(os.path.realpath(absolute))
            resources = [resolved.relative_to(root).as_posix(), str(resolved)]
        for effect in ("deny", "ask", "allow"):
            for rule in self.rules:
                if rule.effect != effect:
                    continue
                if any(rule.matches("fs_write", resource) for resource in resources):
                    return Decision(
                        effect,
                        False,
                        (f"{effect} rule for {shown}: {rule.describe()}",),
                        rule.describe(),
                        "rule",
                    )
        if self.mode == "autopilot":
            return Decision("allow", False, (f"autopilot: {shown} is inside the workspace",))
        return Decision("ask", False, (f"supervised mode: every {request.kind} needs approval",))

    def check_command(
        self, line: str, cwd: str | None = None, *, sandboxed: bool | None = None
    ) -> Decision:
        """Decide a shell command line.

        Args:
            line: The command line.
            cwd: The folder it runs in, as shown to the model (for the reasons only).
            sandboxed: Whether it will run in the sandbox (default: whether the sandbox works).
        """
        assessment = assess(line)
        in_sandbox = self.sandbox_available if sandboxed is None else sandboxed
        verdicts: list[_Verdict] = []
        for rule in self.rules:
            if rule.effect == "deny" and rule.matches("shell", line):
                verdicts.append(_Verdict("deny", f"deny rule: {rule.describe()}", rule.describe(),
                                         "rule"))  # fmt: skip
        for problem in assessment.problems:
            verdicts.append(_Verdict("ask", f"the line cannot be read completely: {problem}"))
        units = [unit for unit in assessment.units if not _is_wrapper_only(unit)]
        for unit in units:
            findings = [f for f in assessment.findings if _finding_in(f, unit)]
            verdicts.append(self._unit_verdict(unit, findings, in_sandbox))
        if not verdicts:
            verdicts.append(self._mode_verdict("nothing to run", in_sandbox))
        final = _most_restrictive(verdicts)
        reasons = list(assessment.reasons)
        for verdict in verdicts:
            if verdict.verdict == final.verdict and verdict.reason not in reasons:
                reasons.append(verdict.reason)
        if cwd and final.verdict != "allow":
            reasons.append(f"runs in {cwd}")
        rule = final.rule
        if final.verdict == "allow":
            named = [v.rule for v in verdicts if v.rule]
            rule = "; ".join(dict.fromkeys(named)) if named else None
        return Decision(final.verdict, assessment.destructive, tuple(reasons), rule, final.by)

    def _from_the_project(self, rule: Rule) -> bool:
        """Whether ``rule`` was written in a file inside the workspace (which a cloned
        repository controls), rather than in the user's own settings."""
        written_in = rule.source.split(":", 1)[0].strip("` ")
        if not written_in or not os.path.isabs(written_in):
            return False
        where = Path(os.path.realpath(written_in))
        return any(where.is_relative_to(root) for root in self.roots)

    def _unit_verdict(self, unit: Unit, findings: Sequence[Finding], in_sandbox: bool) -> _Verdict:
        texts = _texts(unit)
        for rule in self.rules:
            if rule.effect == "deny" and any(rule.matches("shell", text) for text in texts):
                return _Verdict("deny", f"deny rule: {rule.describe()}", rule.describe(), "rule")
        allow_rules = [
            rule for rule in (*self.rules, *self._trusted_rules) if rule.effect == "allow"
        ]
        if findings:
            naming: list[Rule] = []
            for finding in findings:
                candidates = [
                    rule
                    for rule in allow_rules
                    if any(rule.names("shell", text, finding.keywords) for text in texts)
                ]
                # The user's own rules first: a project's rule alone does not lift the guard.
                candidates.sort(key=self._from_the_project)
                rule = candidates[0] if candidates else None
                if rule is None:
                    return _Verdict(
                        "ask",
                        f"destructive: `{unit.text}` is never approved automatically; "
                        f"an explicit rule naming it ({' '.join(finding.keywords)}) would allow it",
                    )
                if self._from_the_project(rule):
                    return _Verdict(
                        "ask",
                        f"destructive: `{unit.text}` is named by {rule.describe()}, a file of the "
                        "project itself; only a rule of your own (user settings or "
                        "~/.kiro/settings/permissions.yaml) approves destructive actions "
                        "automatically",
                    )
                naming.append(rule)
            ask = self._first("ask", texts)
            if ask is not None:
                return _Verdict("ask", f"ask rule: {ask.describe()}", ask.describe(), "rule")
            described = "; ".join(dict.fromkeys(rule.describe() for rule in naming))
            return _Verdict("allow", f"explicit rule: {described}", described, "rule")
        if unit.dynamic_program:
            return _Verdict("ask", f"`{unit.text}` runs a program known only when it runs")
        ask = self._first("ask", texts)
        if ask is not None:
            return _Verdict("ask", f"ask rule: {ask.describe()}", ask.describe(), "rule")
        for rule in allow_rules:
            pattern = next((p for text in texts if (p := rule.matches("shell", text))), None)
            if pattern is not None:
                return _Verdict("allow", f"trusted: {rule.describe()}", rule.describe(), "rule")
        if unit.program in _NEUTRAL and not unit.privileged and _quiet(unit):
            return _Verdict("allow", f"`{unit.text}` changes nothing", None, "mode")
        return self._mode_verdict(f"`{unit.text}`", in_sandbox)

    def _first(self, effect: str, texts: Sequence[str]) -> Rule | None:
        for rule in self.rules:
            if rule.effect == effect and any(rule.matches("shell", text) for text in texts):
                return rule
        return None

    def _mode_verdict(self, what: str, in_sandbox: bool) -> _Verdict:
        if self.mode == "supervised":
            return _Verdict("ask", "supervised mode: every command needs approval")
        if not in_sandbox:
            reason = self.sandbox_reason or "the sandbox is not available"
            return _Verdict(
                "ask",
                f"autopilot without a sandbox asks before commands that are not trusted "
                f"({reason})",  # fmt: skip
            )
        return _Verdict("allow", f"autopilot: {what} runs in the sandbox")

    def decide_tool(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, object],
        *,
        auto_approved: bool = False,
    ) -> Decision:
        """Decide a call of an MCP server's tool.

        Args:
            server: The server's name.
            tool: The tool's name.
            arguments: The arguments the model gave.
            auto_approved: The server's ``autoApprove`` lists the tool (or is ``"*"``): an
                allow that never overrides the destructive guard.
        """
        assessment: Assessment = assess_tool_call(server, tool, arguments)
        resource = f"{server}/{tool}"
        reasons = list(assessment.reasons)

        def decision(verdict: Verdict, reason: str, rule: Rule | None, by: By) -> Decision:
            return Decision(
                verdict,
                assessment.destructive,
                (*reasons, reason),
                rule.describe() if rule else None,
                by,
            )

        for rule in self.rules:
            if rule.effect == "deny" and rule.matches("mcp", resource):
                return decision("deny", f"deny rule: {rule.describe()}", rule, "rule")
        allow_rules = [rule for rule in self.rules if rule.effect == "allow"]
        if assessment.needs_approval:
            naming = None
            if assessment.findings and not assessment.uncertain:
                naming = next(
                    (
                        rule
                        for rule in allow_rules
                        if rule.names("mcp", resource, (tool,)) and not self._from_the_project(rule)
                    ),
                    None,
                )
            if naming is None:
                why = (
                    "destructive: never approved automatically, autoApprove included; "
                    f"an explicit mcp rule naming `{resource}` would allow it"
                )
                return decision("ask", why, None, "policy")
        for rule in self.rules:
            if rule.effect == "ask" and rule.matches("mcp", resource):
                return decision("ask", f"ask rule: {rule.describe()}", rule, "rule")
        for rule in allow_rules:
            if rule.matches("mcp", resource):
                return decision("allow", f"allow rule: {rule.describe()}", rule, "rule")
        if auto_approved:
            return decision("allow", f"`{resource}` is in the server's autoApprove list", None,
                            "rule")  # fmt: skip
        if self.mode == "autopilot":
            return decision("allow", "autopilot: MCP tool calls are approved", None, "mode")
        return decision("ask", "supervised mode: every MCP tool call needs approval", None, "mode")

    def describe(self) -> dict[str, object]:
        """Mode, trusted patterns, rules with their sources, sandbox state and warnings."""
        return {
            "mode": self.mode,
            "trusted_commands": list(self.trusted_commands),
            "rules": [rule.to_dict() for rule in self.rules],
            "sandbox": {"available": self.sandbox_available, "reason": self.sandbox_reason},
            "roots": [str(root) for root in self.roots],
            "warnings": list(self.warnings),
        }


def _is_wrapper_only(unit: Unit) -> bool:
    """A unit that only stands for the string another shell reads (``bash -c "$X"`` keeps the
    dynamic one; ``alias`` definitions are judged where they are used)."""
    return unit.program == "alias" and not unit.wrappers


def _finding_in(finding: Finding, unit: Unit) -> bool:
    return finding.text == unit.text


def _texts(unit: Unit) -> list[str]:
    """The forms a pattern is tried on: as written, and (when nothing elevates it) the
    program and arguments with wrappers and quotes removed."""
    texts = [unit.text]
    if not unit.privileged and unit.argv:
        texts.append(" ".join(unit.argv))
    return texts


def _quiet(unit: Unit) -> bool:
    return all(
        operator.startswith("<") or target in _QUIET_TARGETS for operator, target in unit.redirects
    )


# --- session approvals -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """The user's answer to an approval prompt.

    Attributes:
        kind: ``once`` (this action only), ``file`` (every write/edit of this file for the
            rest of the session), ``pattern`` (commands matching ``pattern``), ``deny``.
        pattern: For ``pattern``: a command glob (or ``server/tool`` glob for MCP calls).
    """

    kind: Literal["once", "file", "pattern", "deny"]
    pattern: str | None = None

    @property
    def allowed(self) -> bool:
        """Whether the action may go ahead."""
        return self.kind != "deny"


@dataclass(slots=True)
class Grants:
    """What the user approved for the rest of the session.

    Attributes:
        files: Files whose writes and edits need no more approval (resolved paths).
        command_patterns: Command globs approved for non-destructive commands.
        tool_patterns: ``server/tool`` globs approved for non-destructive MCP calls.
    """

    files: set[Path] = field(default_factory=set)
    command_patterns: list[str] = field(default_factory=list)
    tool_patterns: list[str] = field(default_factory=list)

    def record(self, request: ApprovalRequest, answer: Answer) -> None:
        """Remember a ``file`` or ``pattern`` answer (``once`` and ``deny`` leave nothing)."""
        if answer.kind == "file" and request.kind != "command":
            path = request.absolute_path or (Path(request.path) if request.path else None)
            if path is not None:
                self.files.add(Path(os.path.realpath(path)))
        elif answer.kind == "pattern" and answer.pattern:
            if request.kind == "command":
                self.command_patterns.append(answer.pattern)

    def covers(self, request: ApprovalRequest, decision: Decision) -> str | None:
        """The grant that approves ``request`` already, or ``None``. A grant never covers a
        destructive command, nor one the guard cannot read."""
        if request.kind != "command":
            path = request.absolute_path or (Path(request.path) if request.path else None)
            if path is not None and Path(os.path.realpath(path)) in self.files:
                return f"approved for this file ({request.path or path})"
            return None
        if decision.destructive or not self.command_patterns:
            return None
        assessment = assess(request.command or "")
        if assessment.needs_approval or not assessment.units:
            return None
        for pattern in self.command_patterns:
            if all(
                any(command_matches(pattern, text) for text in _texts(unit))
                for unit in assessment.units
                if not _is_wrapper_only(unit)
            ):
                return f"approved for commands matching `{pattern}`"
        return None

    def covers_tool(self, server: str, tool: str, decision: Decision) -> str | None:
        """The grant that approves an MCP call already (never a destructive one)."""
        if decision.destructive:
            return None
        from fnmatch import fnmatchcase

        for pattern in self.tool_patterns:
            if fnmatchcase(f"{server}/{tool}", pattern):
                return f"approved for tools matching `{pattern}`"
        return None


Ask = Callable[[ApprovalRequest, Decision], Awaitable[Answer]]
"""The interface's prompt: shows the request and the decision's reasons, returns the answer."""
OnDecision = Callable[[ApprovalRequest, Decision, Answer | None, By], None]
"""Called once per approval with the decision, the user's answer (if asked) and who settled it."""

NO_ONE_TO_ASK = (
    "it needs approval and no one can be asked here; add a trusted pattern or an explicit "
    "rule to the settings, or run interactively"
)


class Approver:
    """The approval callbacks a run uses: ``approve`` (writes, edits, commands) and
    ``approve_tool`` (MCP calls), built from the policy, the session's grants and the
    interface's prompts."""

    def __init__(
        self,
        policy: Policy,
        ask: Ask | None,
        *,
        on_decision: OnDecision | None = None,
        grants: Grants | None = None,
        auto_approve: Callable[[str, str], bool] | None = None,
        ask_tool: Callable[[str, str, Mapping[str, object], Decision], Awaitable[Answer]]
        | None = None,
    ) -> None:
        """An approver.

        Args:
            policy: The policy.
            ask: The interface's prompt, or ``None`` where nobody can answer (then "ask"
                means refused, with ``NO_ONE_TO_ASK`` as the reason).
            on_decision: Told about every approval (the audit hook).
            grants: The session's grants (default: a fresh set).
            auto_approve: Whether a server's ``autoApprove`` lists a tool.
            ask_tool: The prompt for MCP calls (default: refused when asked).
        """
        self.policy = policy
        self.ask = ask
        self.on_decision = on_decision
        self.grants = grants if grants is not None else Grants()
        self.auto_approve = auto_approve
        self.ask_tool = ask_tool

    def _tell(
        self, request: ApprovalRequest, decision: Decision, answer: Answer | None, by: By
    ) -> None:
        if self.on_decision is not None:
            self.on_decision(request, decision, answer, by)

    async def approve(self, request: ApprovalRequest) -> bool:
        """Whether a write, edit or command may go ahead; asks the user where needed."""
        decision = self.policy.decide(request)
        if decision.decision != "ask":
            self._tell(request, decision, None, decision.by)
            return decision.decision == "allow"
        grant = self.grants.covers(request, decision)
        if grant is not None:
            granted = Decision("allow", decision.destructive, (*decision.reasons, grant),
                               decision.rule, "grant")  # fmt: skip
            self._tell(request, granted, None, "grant")
            return True
        if self.ask is None:
            refused = Decision("deny", decision.destructive, (*decision.reasons, NO_ONE_TO_ASK),
                               decision.rule, "policy")  # fmt: skip
            self._tell(request, refused, None, "policy")
            return False
        answer = await self.ask(request, decision)
        self.grants.record(request, answer)
        self._tell(request, decision, answer, "user")
        return answer.allowed

    async def approve_tool(self, server: str, tool: str, arguments: dict[str, object]) -> bool:
        """Whether a call of an MCP server's tool may go ahead."""
        auto = bool(self.auto_approve and self.auto_approve(server, tool))
        decision = self.policy.decide_tool(server, tool, arguments, auto_approved=auto)
        request = ApprovalRequest(
            kind="command", tool=f"{server}/{tool}", summary=f"MCP {server}/{tool}"
        )
        if decision.decision != "ask":
            self._tell(request, decision, None, decision.by)
            return decision.decision == "allow"
        grant = self.grants.covers_tool(server, tool, decision)
        if grant is not None:
            self._tell(request, decision, None, "grant")
            return True
        if self.ask_tool is None:
            refused = Decision("deny", decision.destructive, (*decision.reasons, NO_ONE_TO_ASK),
                               decision.rule, "policy")  # fmt: skip
            self._tell(request, refused, None, "policy")
            return False
        answer = await self.ask_tool(server, tool, arguments, decision)
        if answer.kind == "pattern" and answer.pattern:
            self.grants.tool_patterns.append(answer.pattern)
        self._tell(request, decision, answer, "user")
        return answer.allowed


def make_approver(
    policy: Policy,
    ask: Ask | None,
    *,
    on_decision: OnDecision | None = None,
    grants: Grants | None = None,
) -> Callable[[ApprovalRequest], Awaitable[bool]]:
    """The ``approve`` callback for ``ToolEnv``: the policy first, then the session's grants,
    then the interface's ``ask`` (``None``: refused with a reason).

    Args:
        policy: The policy.
        ask: The interface's prompt, or ``None`` when nobody can answer.
        on_decision: Called with ``(request, decision, answer, by)`` for the audit log.
        grants: Grants shared with other approvers of the session.
    """
    return Approver(policy, ask, on_decision=on_decision, grants=grants).approve
