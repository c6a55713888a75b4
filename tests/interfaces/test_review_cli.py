"""``specloom analyze --llm`` and ``--fix`` as a user runs them: the real CLI with a scripted
reviewer loaded with ``--model py:...``, on a copy of the word-frequency example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from specloom.interfaces.cli import app, spec_commands

REQUIREMENTS = Path(".kiro/specs/word-frequency/requirements.md")
TASKS = Path(".kiro/specs/word-frequency/tasks.md")
SPEED = "3. THE CLI SHALL print the results within 1 second for a 10 MB file"
CASE = "2. THE Counter SHALL compare words after Unicode case folding"

REVIEWER = """
import json
from pathlib import Path
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import FunctionModel

FINDINGS = json.loads({findings!r})
CALLS = Path({calls!r})


def answer(messages, info):
    with CALLS.open("a") as log:
        log.write("called\\n")
    payload = {{"findings": FINDINGS}}
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, payload)])
    return ModelResponse(parts=[TextPart(json.dumps(payload))])


model = FunctionModel(answer, model_name="reviewer")
"""

FINDINGS = [
    {"file": "requirements.md", "line": 33, "kind": "ambiguity", "message": "No bound.",
     "rewrite": SPEED},
    {"file": "requirements.md", "line": 21, "kind": "ambiguity", "message": "Case rules?",
     "rewrite": CASE},
    {"file": "tasks.md", "line": 10, "kind": "inconsistency", "message": "2.1 needs main.",
     "rewrite": "    - _Depends on: 2.2_"},
    {"file": "design.md", "line": 4000, "kind": "gap", "message": "Nowhere."},
]  # fmt: skip


def write_reviewer(project: Path, findings: list[dict[str, Any]] = FINDINGS) -> str:
    script = project.parent / "reviewer_model.py"
    calls = project.parent / "reviewer_calls.txt"
    script.write_text(REVIEWER.format(findings=json.dumps(findings), calls=str(calls)))
    return f"py:{script}:model"


def calls(project: Path) -> int:
    log = project.parent / "reviewer_calls.txt"
    return len(log.read_text().splitlines()) if log.exists() else 0


def analyze(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specloom", "analyze", "word-frequency", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
        check=False,
    )


def test_llm_merges_model_findings_with_rule_findings(example_project: Path) -> None:
    model = write_reviewer(example_project)

    result = analyze(example_project, "--llm", "--model", model, "--json")

    assert result.returncode == 0, result.stderr  # model findings are warnings
    data = json.loads(result.stdout)
    shown = {(f["file"].rsplit("/", 1)[-1], f["line"], f["rule"], f["source"])
             for f in data["findings"]}  # fmt: skip
    assert ("requirements.md", 33, "AMB001", "rules") in shown
    assert ("requirements.md", 33, "LLM-AMBIGUITY", "model") not in shown  # a repeat
    assert ("requirements.md", 21, "LLM-AMBIGUITY", "model") in shown
    assert ("tasks.md", 10, "LLM-INCONSISTENCY", "model") in shown
    assert not any(f["line"] == 4000 for f in data["findings"])
    assert data["model"]["repeats"] == 1
    assert data["model"]["dropped"] == 1  # design.md line 4000, still wrong after repairs
    assert [(r["line"], r["new"]) for r in data["rewrites"]][:2] == [(21, CASE), (33, SPEED)]
    assert data["fix"] is None
    assert calls(example_project) == 3  # the first answer and two repairs


def test_text_output_shows_locations_and_rewrites(example_project: Path) -> None:
    model = write_reviewer(example_project, FINDINGS[1:2])

    result = analyze(example_project, "--llm", "--model", model)

    assert result.returncode == 0, result.stderr
    assert (
        f"{REQUIREMENTS}:21:1: warning LLM-AMBIGUITY Case rules?\n    suggestion: {CASE}\n"
        in result.stdout
    )
    assert f"{REQUIREMENTS}:33:32: warning AMB001" in result.stdout
    assert "model review: 1 finding(s) added, 0 repeating a rule finding, 0 dropped" in (
        result.stdout
    )


def test_fix_yes_applies_rewrites_and_refuses_one_that_breaks_the_spec(
    example_project: Path,
) -> None:
    tasks_before = (example_project / TASKS).read_text()
    requirements_before = (example_project / REQUIREMENTS).read_text()
    model = write_reviewer(example_project)

    result = analyze(example_project, "--llm", "--fix", "--yes", "--model", model)

    assert result.returncode == 0, result.stderr
    assert f"applied {REQUIREMENTS}:21" in result.stdout
    assert f"applied {REQUIREMENTS}:33" in result.stdout
    assert f"refused {TASKS}:10: it would break the spec:" in result.stdout
    assert "task dependencies form a cycle" in result.stdout
    assert "2 applied, 0 declined, 1 refused" in result.stdout
    assert (example_project / TASKS).read_text() == tasks_before
    expected = requirements_before.replace(
        "2. THE Counter SHALL treat words case-insensitively, so that \"The\" and \"the\" are "
        "one word", CASE).replace("3. THE CLI SHALL print results quickly", SPEED)  # fmt: skip
    assert (example_project / REQUIREMENTS).read_text() == expected


def test_fix_without_a_terminal_or_yes_asks_nothing_of_the_model(example_project: Path) -> None:
    model = write_reviewer(example_project)

    result = analyze(example_project, "--llm", "--fix", "--model", model)

    assert result.returncode == 2
    assert "--fix asks about each rewrite" in result.stderr
    assert "Add --yes" in result.stderr
    assert calls(example_project) == 0


def test_model_options_need_llm_and_plain_analyze_is_unchanged(example_project: Path) -> None:
    refused = analyze(example_project, "--fix")
    assert refused.returncode == 2
    assert "Add --llm" in refused.stderr

    plain = analyze(example_project, "--json")
    assert plain.returncode == 0, plain.stderr
    assert [f["rule"] for f in json.loads(plain.stdout)] == ["ANA001", "AMB001", "ANA006"]


def test_fix_on_a_terminal_asks_for_each_rewrite(
    example_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = write_reviewer(example_project, FINDINGS[:2])
    requirements_before = (example_project / REQUIREMENTS).read_text()
    monkeypatch.setattr(spec_commands, "is_terminal", lambda stream=None: True)

    result = CliRunner().invoke(
        app,
        ["analyze", "word-frequency", "--llm", "--fix", "--model", model,
         "--root", str(example_project)],
        input="maybe\nn\ny\n",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert f"{REQUIREMENTS}:21: LLM-AMBIGUITY Case rules?" in result.output
    assert "  - 2. THE Counter SHALL treat words case-insensitively" in result.output
    assert f"  + {CASE}" in result.output
    assert result.output.count("Apply? [y]es, [n]o, [a]ll the rest, [q]uit") == 3
    assert "1 applied, 1 declined, 0 refused" in result.output
    expected = requirements_before.replace("3. THE CLI SHALL print results quickly", SPEED)
    assert (example_project / REQUIREMENTS).read_text() == expected
