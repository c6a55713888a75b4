"""``specloom policy check`` and ``specloom policy show`` through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.interfaces.cli_helpers import json_output, specloom


@pytest.fixture
def project(tmp_path: Path) -> Path:
    settings = tmp_path / ".kiro" / "settings"
    settings.mkdir(parents=True)
    (tmp_path / ".kiro" / "specs").mkdir()
    (settings / "specloom.json").write_text(
        json.dumps(
            {
                "agent": {
                    "trusted_commands": ["pytest*", "git status"],
                    "sandbox": {"enabled": False},
                }
            }
        )
    )
    (settings / "permissions.yaml").write_text(
        "rules:\n"
        "  - capability: shell\n    match: 'terraform destroy -target=module.dev*'\n"
        "    effect: allow\n"
        "  - capability: shell\n    match: [npm publish*]\n    effect: deny\n"
    )
    return tmp_path


def test_check_reports_a_destructive_command_as_asked_in_json(project: Path) -> None:
    data = json_output(
        specloom(
            "policy", "check", "pytest -q && rm -rf /", "--mode", "autopilot", "--json", cwd=project
        )  # fmt: skip
    )

    assert data["decision"] == "ask"
    assert data["destructive"] is True
    assert data["rule"] is None
    assert data["reasons"][0] == "`rm -rf /` deletes recursively outside build folders (/)"


def test_check_allows_trusted_commands_and_explicitly_named_ones(project: Path) -> None:
    trusted = json_output(specloom("policy", "check", "pytest -q", "--json", cwd=project))
    named = json_output(
        specloom(
            "policy", "check", "terraform destroy -target=module.dev.db", "--json", cwd=project
        )  # fmt: skip
    )

    assert (trusted["decision"], trusted["destructive"]) == ("allow", False)
    assert "pytest*" in trusted["rule"]
    # The rule naming it is in the project's own permissions.yaml: a cloned repository could
    # have written it, so it does not approve a destructive command on its own.
    assert (named["decision"], named["destructive"]) == ("ask", True)
    assert "a file of the project itself" in named["reasons"][-1]

    # The same rule in the user's own ~/.kiro/settings/permissions.yaml does.
    user = Path.home() / ".kiro" / "settings"
    user.mkdir(parents=True)
    (user / "permissions.yaml").write_text(
        "rules:\n  - capability: shell\n    match: 'terraform destroy -target=module.dev*'\n"
        "    effect: allow\n"
    )
    mine = json_output(
        specloom(
            "policy", "check", "terraform destroy -target=module.dev.db", "--json", cwd=project
        )  # fmt: skip
    )
    assert (mine["decision"], mine["destructive"]) == ("allow", True)
    assert f"{user}/permissions.yaml:2" in mine["rule"]


def test_check_denies_by_rule_and_still_exits_zero(project: Path) -> None:
    result = specloom("policy", "check", "npm publish", "--root", str(project), cwd=project.parent)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("deny in supervised mode: npm publish")
    assert "permissions.yaml:5" in result.stdout


def test_check_in_autopilot_without_a_sandbox_asks(project: Path) -> None:
    data = json_output(specloom("policy", "check", "make", "--mode", "autopilot", "--json",
                                cwd=project))  # fmt: skip

    assert data["decision"] == "ask"
    assert any("without a sandbox" in reason for reason in data["reasons"])


def test_show_lists_mode_patterns_rules_with_sources_and_the_sandbox(project: Path) -> None:
    data = json_output(specloom("policy", "show", "--json", cwd=project))

    assert data["mode"] == "supervised"
    assert data["trusted_commands"] == ["pytest*", "git status"]
    assert [rule["effect"] for rule in data["rules"]] == ["allow", "deny"]
    assert data["rules"][1]["source"].endswith(".kiro/settings/permissions.yaml:5")
    assert data["sandbox"]["available"] is False

    text = specloom("policy", "show", cwd=project)
    assert text.returncode == 0
    assert "Mode: supervised" in text.stdout
    assert "Sandbox: not available" in text.stdout


def test_a_bad_permissions_file_is_one_paragraph_with_file_and_line(project: Path) -> None:
    path = project / ".kiro" / "settings" / "permissions.yaml"
    path.write_text("rules:\n  - capability: shell\n    effect: sometimes\n")

    result = specloom("policy", "show", cwd=project)

    assert result.returncode == 2
    assert f"{path}:2" in result.stderr
    assert "effect: deny" in result.stderr
    assert "Traceback" not in result.stderr
