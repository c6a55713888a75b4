"""The hook bus with real commands: blocking pre-events (legacy non-zero, v1 exit 2), the event
on stdin and in the environment, standard output into the context, timeouts, the policy, and
the audit log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import pytest

from specloom.agent.audit import AuditLog
from specloom.hooks.bus import HookBus
from specloom.hooks.model import EventKind, HookEvent, HookRun
from specloom.settings import state_dir
from tests.hooks.conftest import legacy_hook, make_project, script, v1_hooks

pytestmark = pytest.mark.anyio


def tool_event(root: Path, tool: str = "write_file", **arguments: object) -> HookEvent:
    return HookEvent(
        EventKind.preToolUse, root, session_id="s-1", tool_name=tool, tool_input=arguments
    )


async def test_a_legacy_command_that_fails_on_a_pre_event_blocks_with_its_output(
    project: Path,
) -> None:
    legacy_hook(
        project,
        "no-env-writes",
        event="preToolUse",
        tools=["write"],
        command=script(
            project,
            "guard.py",
            (
                "import json, sys\n"
                "call = json.load(sys.stdin)\n"
                "if call['tool_input']['path'].endswith('.env'):\n"
                "    print('writing .env files is not allowed', file=sys.stderr)\n"
                "    sys.exit(1)\n"
                "print('path checked')\n"
            ),
        ),
    )
    bus = HookBus.load(project)

    refused = await bus.dispatch(tool_event(project, path="config/.env", content="X=1"))
    allowed = await bus.dispatch(tool_event(project, path="app.py", content="x = 1"))
    other_tool = await bus.dispatch(tool_event(project, "run_command", command="ls"))
    bus.close()

    assert refused.blocked and refused.reason == "writing .env files is not allowed"
    assert [(run.outcome, run.exit_code) for run in refused.runs] == [("blocked", 1)]
    assert not allowed.blocked and allowed.context == ["path checked"]
    assert other_tool.runs == [] and not other_tool.blocked


async def test_a_v1_command_blocks_only_by_exiting_2(project: Path) -> None:
    v1_hooks(
        project,
        "guards",
        [
            {
                "name": "warn",
                "trigger": "PreToolUse",
                "matcher": "execute_bash",
                "action": {"type": "command", "command": "echo just a warning >&2; exit 1"},
            },
            {
                "name": "stop-rm",
                "trigger": "PreToolUse",
                "matcher": "execute_bash",
                "action": {
                    "type": "command",
                    "command": script(
                        project,
                        "stop.py",
                        (
                            "import json, sys\n"
                            "if 'rm ' in json.load(sys.stdin)['tool_input']['command']:\n"
                            "    print('no rm here: use the trash folder', file=sys.stderr)\n"
                            "    sys.exit(2)\n"
                            "print('fine')\n"
                        ),
                    ),
                },
            },
            {
                "name": "after",
                "trigger": "PreToolUse",
                "action": {"type": "command", "command": "echo after"},
            },
        ],
    )
    bus = HookBus.load(project)

    blocked = await bus.dispatch(tool_event(project, "run_command", command="rm -r build"))
    passed = await bus.dispatch(tool_event(project, "run_command", command="ls"))
    bus.close()

    assert blocked.blocked and blocked.reason == "no rm here: use the trash folder"
    assert [(run.hook, run.outcome) for run in blocked.runs] == [
        ("warn", "failed"),
        ("stop-rm", "blocked"),
    ]  # the hook after the block does not run
    assert not passed.blocked
    assert [(run.hook, run.outcome) for run in passed.runs] == [
        ("warn", "failed"),
        ("stop-rm", "ok"),
        ("after", "ok"),
    ]
    assert passed.context == ["fine", "after"]


async def test_the_command_gets_the_event_as_json_on_stdin_and_in_its_environment(
    project: Path,
) -> None:
    recorder = script(
        project,
        "record.py",
        (
            "import json, os, sys\n"
            "event = json.load(sys.stdin)\n"
            "env = {k: v for k, v in os.environ.items() if k.startswith('SPECLOOM_')}\n"
            "seen = {'event': event, 'env': env, 'cwd': os.getcwd()}\n"
            "open('seen.json', 'w').write(json.dumps(seen))\n"
        ),
    )
    v1_hooks(
        project,
        "rec",
        [
            {
                "name": "tool",
                "trigger": "PostToolUse",
                "action": {"type": "command", "command": recorder},
            },
        ],
    )
    legacy_hook(project, "task", event="preTaskExecution", command=recorder)
    bus = HookBus.load(project, session_id="session-7")

    await bus.dispatch(
        HookEvent(
            EventKind.postToolUse,
            project,
            tool_name="edit_file",
            tool_input={"path": "app.py", "old_text": "a", "new_text": "b"},
            tool_response="edited app.py",
            files=("app.py",),
        )
    )
    tool_seen = json.loads((project / "seen.json").read_text())
    await bus.dispatch(HookEvent(EventKind.preTaskExecution, project, task="2.1", spec="auth"))
    task_seen = json.loads((project / "seen.json").read_text())
    bus.close()

    assert tool_seen["event"] == {
        "hook_event_name": "PostToolUse",
        "cwd": str(project.resolve()),
        "session_id": "session-7",
        "file_path": "app.py",
        "file_paths": ["app.py"],
        "tool_name": "edit_file",
        "tool_input": {"path": "app.py", "old_text": "a", "new_text": "b"},
        "tool_response": "edited app.py",
    }
    env = tool_seen["env"]
    assert env["SPECLOOM_EVENT"] == "postToolUse"
    assert env["SPECLOOM_HOOK"] == "tool"
    assert env["SPECLOOM_TOOL"] == "edit_file"
    assert json.loads(env["SPECLOOM_TOOL_INPUT"])["path"] == "app.py"
    assert env["SPECLOOM_FILE"] == env["SPECLOOM_FILES"] == "app.py"
    assert env["SPECLOOM_SESSION"] == "session-7"
    assert env["SPECLOOM_ROOT"] == str(project.resolve())
    assert Path(tool_seen["cwd"]).resolve() == project.resolve()
    assert task_seen["event"]["hook_event_name"] == "preTaskExecution"
    assert (task_seen["event"]["task"], task_seen["event"]["spec"]) == ("2.1", "auth")
    assert (task_seen["env"]["SPECLOOM_TASK"], task_seen["env"]["SPECLOOM_SPEC"]) == ("2.1", "auth")
    assert "SPECLOOM_FILE" not in task_seen["env"]


async def test_a_prompt_can_be_blocked_and_commands_see_it(project: Path) -> None:
    legacy_hook(
        project,
        "no-secrets-in-prompts",
        event="promptSubmit",
        command=script(
            project,
            "prompt.py",
            "import os, sys\n"
            "if 'password' in os.environ['USER_PROMPT']:\n"
            "    sys.exit('no passwords in prompts')\n"
            "print('prompt ok: ' + os.environ['SPECLOOM_PROMPT'])\n",
        ),
    )
    bus = HookBus.load(project)

    refused = await bus.dispatch(
        HookEvent(EventKind.promptSubmit, project, prompt="my password is x")
    )
    passed = await bus.dispatch(HookEvent(EventKind.promptSubmit, project, prompt="add a test"))
    bus.close()

    assert refused.blocked and refused.reason == "no passwords in prompts"
    assert not passed.blocked and passed.context == ["prompt ok: add a test"]


async def test_a_command_past_its_timeout_is_killed(project: Path) -> None:
    legacy_hook(project, "slow-guard", event="preToolUse", command="sleep 30", timeout=1)
    v1_hooks(
        project,
        "slow",
        [
            {
                "name": "slow-v1",
                "trigger": "PostToolUse",
                "timeout": 1,
                "action": {"type": "command", "command": "sleep 30"},
            }
        ],
    )
    bus = HookBus.load(project)
    started = time.monotonic()

    pre = await bus.dispatch(tool_event(project, path="a.py", content=""))
    post = await bus.dispatch(HookEvent(EventKind.postToolUse, project, tool_name="write_file"))
    bus.close()

    assert time.monotonic() - started < 15
    assert pre.blocked and [run.outcome for run in pre.runs] == ["blocked"]
    assert "timed out after 1 s" in pre.runs[0].detail
    assert not post.blocked and [run.outcome for run in post.runs] == ["timeout"]


async def test_the_policy_decides_and_nobody_to_ask_means_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path / "supervised")  # supervised mode, nothing trusted
    legacy_hook(root, "guard", event="preToolUse", command="touch ran-guard")
    v1_hooks(
        root,
        "post",
        [
            {
                "name": "post",
                "trigger": "PostToolUse",
                "action": {"type": "command", "command": "touch ran-post"},
            }
        ],
    )
    bus = HookBus.load(root)

    pre = await bus.dispatch(tool_event(root, path="a.py"))
    post = await bus.dispatch(HookEvent(EventKind.postToolUse, root, tool_name="write_file"))
    bus.close()

    assert not (root / "ran-guard").exists() and not (root / "ran-post").exists()
    assert pre.blocked and "could not run" in pre.reason and "no one can be asked" in pre.reason
    assert [run.outcome for run in pre.runs] == ["refused"]
    assert not post.blocked and [run.outcome for run in post.runs] == ["refused"]


async def test_the_terminal_is_asked_when_the_policy_asks(tmp_path: Path) -> None:
    from specloom.agent.policy import Answer, Decision
    from specloom.agent.tool_env import ApprovalRequest

    root = make_project(tmp_path / "asked")
    legacy_hook(root, "touch", event="agentStop", command="touch ran")
    asked: list[tuple[str | None, str]] = []

    async def ask(request: ApprovalRequest, decision: Decision) -> Answer:
        asked.append((request.command, decision.decision))
        return Answer("once")

    bus = HookBus.load(root, ask=ask)
    outcome = await bus.dispatch(HookEvent(EventKind.agentStop, root))
    bus.close()

    assert asked == [("touch ran", "ask")]
    assert (root / "ran").exists() and [run.outcome for run in outcome.runs] == ["ok"]


async def test_destructive_commands_follow_the_guard_even_when_trusted(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "guarded", settings={"agent": {"mode": "autopilot", "trusted_commands": ["*"]}}
    )
    (root / "keep").mkdir()
    (root / "keep" / "data.txt").write_text("precious")
    legacy_hook(root, "wipe", event="agentStop", command="rm -rf keep")
    bus = HookBus.load(root)

    outcome = await bus.dispatch(HookEvent(EventKind.agentStop, root))
    bus.close()

    assert (root / "keep" / "data.txt").read_text() == "precious"
    assert [run.outcome for run in outcome.runs] == ["refused"]
    assert "destructive" in outcome.runs[0].detail or "rm" in outcome.runs[0].detail


async def test_confirm_hooks_ask_first(project: Path) -> None:
    v1_hooks(
        project,
        "confirm",
        [
            {
                "name": "deploy",
                "trigger": "Stop",
                "confirm": True,
                "action": {"type": "command", "command": "touch deployed"},
            }
        ],
    )
    answers = [False, True]

    async def confirm(hook: object, event: HookEvent) -> bool:
        return answers.pop(0)

    unattended = HookBus.load(project)
    asking = HookBus.load(project, confirm=confirm)
    nobody = await unattended.dispatch(HookEvent(EventKind.agentStop, project))
    declined = await asking.dispatch(HookEvent(EventKind.agentStop, project))
    assert not (project / "deployed").exists()
    accepted = await asking.dispatch(HookEvent(EventKind.agentStop, project))
    unattended.close()
    asking.close()

    assert [run.outcome for run in nobody.runs + declined.runs] == ["refused", "refused"]
    assert [run.outcome for run in accepted.runs] == ["ok"] and (project / "deployed").exists()


async def test_every_run_is_in_the_audit_log(project: Path) -> None:
    legacy_hook(project, "lint", event="fileEdited", patterns=["*.py"], command="exit 3")
    bus = HookBus.load(project)

    outcome = await bus.dispatch(
        HookEvent(EventKind.fileEdited, project, files=("app.py", "notes.md"))
    )
    bus.close()

    (run,) = outcome.runs
    assert (run.outcome, run.exit_code, run.files) == ("failed", 3, ("app.py",))
    log = AuditLog.for_project(project)
    entries = log.entries(run_id=run.run_id)
    log.close()
    assert [entry.kind for entry in entries] == ["run_start", "approval", "run_end"]
    start, approval, end = entries
    assert start.data["command"] == "hook lint"
    assert (start.data["event"], start.data["action"], start.data["files"]) == (
        "fileEdited",
        "runCommand",
        ["app.py"],
    )
    assert approval.data["decision"] == "allow" and approval.data["by"] == "rule"
    assert end.data["outcome"] == "failed" and end.data["exit_code"] == 3
    assert end.data["hook"] == "lint" and end.data["event"] == "fileEdited"
    assert 0 < end.data["duration_s"] < 30


async def test_a_dispatch_nothing_matches_starts_nothing(tmp_path: Path) -> None:
    root = make_project(tmp_path / "quiet", settings={"agent": {"trusted_commands": ["*"]}})
    legacy_hook(root, "docs", event="fileEdited", patterns=["docs/**"], command="touch ran")
    legacy_hook(root, "off", event="agentStop", command="touch ran", enabled=False)
    bus = HookBus.load(root)

    assert not bus.has_hooks("preToolUse") and not bus.has_hooks("agentStop")
    assert bus.has_hooks("fileEdited")
    for _ in range(200):
        assert (await bus.dispatch(tool_event(root, path="a.py"))).runs == []
        assert (await bus.dispatch(HookEvent(EventKind.agentStop, root))).runs == []
        assert (
            await bus.dispatch(HookEvent(EventKind.fileEdited, root, files=("app.py",)))
        ).runs == []
    bus.close()

    assert not (root / "ran").exists()
    assert not (state_dir(root) / "audit.sqlite3").exists()  # no run, so no log opened


async def test_cancelling_a_dispatch_kills_the_hooks_process_group(project: Path) -> None:
    legacy_hook(
        project,
        "long",
        event="agentStop",
        command="(while true; do date +%s%N > tick; sleep 0.05; done) & wait",
    )
    runs: list[HookRun] = []

    class Listener:
        def started(self, hook: object, event: object, run_id: str) -> None:
            pass

        def finished(self, run: HookRun) -> None:
            runs.append(run)

    bus = HookBus.load(project, listener=Listener())
    with anyio.move_on_after(1):
        await bus.dispatch(HookEvent(EventKind.agentStop, project))
    bus.close()

    first = (project / "tick").read_text()
    await anyio.sleep(0.5)
    assert (project / "tick").read_text() == first  # the background loop is gone too
    assert [run.outcome for run in runs] == ["cancelled"]
