"""Foundation steering from a real small repository: facts gathered without a model, the
three files written from them by a scripted model (with Kiro's front matter and the test
command the task runner reads back), existing files skipped unless forced, and
``specloom init --steering`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from specloom.settings import load_settings
from specloom.workflows.steering_foundation import (
    FRONT_MATTER,
    detect_test_command,
    gather_facts,
    write_foundation_steering,
)
from specloom.workflows.verify import find_test_command
from tests.agent.test_checkpoints import git

pytestmark = pytest.mark.anyio

PYPROJECT = """\
[project]
name = "tallyho"
description = "Counts votes from CSV ballots and prints the winner."
requires-python = ">=3.11"
dependencies = ["click>=8", "rich"]

[project.scripts]
tallyho = "tallyho.cli:main"

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# tallyho

[![ci](https://example.invalid/badge.svg)](https://example.invalid)

Tallyho reads ranked-choice ballots from CSV files and runs an instant-runoff count.

## Usage

    tallyho ballots.csv
"""

BODIES = {
    "product.md": "# Product Overview\n\nTallyho counts ranked-choice ballots.\n",
    "tech.md": (
        "# Technology Stack\n\n- Python 3.11, click, rich\n- Test command: `make everything`\n"
    ),
    "structure.md": "# Project Structure\n\n- `src/tallyho/`: the package\n- `tests/`: pytest\n",
}


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "tallyho"
    (root / "src" / "tallyho").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "README.md").write_text(README)
    (root / "src" / "tallyho" / "__init__.py").write_text("")
    (root / "src" / "tallyho" / "count.py").write_text(
        "def instant_runoff(ballots: list[list[str]]) -> str:\n    return ballots[0][0]\n"
    )
    (root / "tests" / "test_count.py").write_text(
        "from tallyho.count import instant_runoff\n\n\ndef test_one():\n"
        "    assert instant_runoff([['a']]) == 'a'\n"
    )
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


def first_prompt(messages: list[ModelMessage]) -> str:
    first = messages[0]
    assert isinstance(first, ModelRequest)
    return next(str(p.content) for p in first.parts if isinstance(p, UserPromptPart))


def which_file(messages: list[ModelMessage]) -> str:
    prompt = first_prompt(messages)
    return next(name for name in BODIES if f"Write {name}" in prompt)


def writer(prompts: dict[str, str], bodies: dict[str, str] = BODIES) -> FunctionModel:
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        name = which_file(messages)
        prompts[name] = first_prompt(messages)
        payload = {"markdown": bodies[name]}
        if info.output_tools:
            return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, payload)])
        return ModelResponse(parts=[TextPart(json.dumps(payload))])

    return FunctionModel(answer, model_name="writer")


def test_facts_come_from_the_repository_without_a_model(repository: Path) -> None:
    facts = gather_facts(repository, settings=load_settings(repository))

    assert facts.name == "tallyho"
    assert facts.description == "Counts votes from CSV ballots and prints the winner."
    assert facts.readme.startswith("# tallyho")
    assert "- dependencies: click>=8, rich" in facts.manifests["pyproject.toml"]
    assert "- console scripts: tallyho" in facts.manifests["pyproject.toml"]
    assert facts.languages == [("Python", 3)]
    assert facts.top_level == [("src", 2), ("tests", 1)]
    assert facts.root_files == ["README.md", "pyproject.toml"]
    assert "instant_runoff" in facts.repo_map
    expected = find_test_command(repository, settings=load_settings(repository))
    assert expected is not None and "pytest" in expected.shown
    assert facts.test_command == expected.shown


def test_readme_paragraph_describes_a_project_without_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "ballot"\nedition = "2021"\n'
                                         "[dependencies]\nserde = \"1\"\n")  # fmt: skip
    (tmp_path / "pom.xml").write_text("<project/>")

    facts = gather_facts(tmp_path)

    assert facts.name == "ballot"
    assert facts.description.startswith("Tallyho reads ranked-choice ballots")
    assert (
        facts.manifests["Cargo.toml"]
        == "- name: ballot\n- Rust edition 2021\n- dependencies: serde"
    )
    assert facts.test_command == "cargo test"
    (tmp_path / "Cargo.toml").unlink()
    assert detect_test_command(tmp_path) == ("mvn test", "discovered: pom.xml")


async def test_writes_the_three_files_from_the_facts(repository: Path) -> None:
    prompts: dict[str, str] = {}
    settings = load_settings(repository)
    progress: list[str] = []

    result = await write_foundation_steering(
        repository, model=writer(prompts), settings=settings, on_progress=progress.append
    )

    folder = repository / ".kiro" / "steering"
    assert result.written == [folder / "product.md", folder / "tech.md", folder / "structure.md"]
    assert result.skipped == [] and result.requests == 3
    assert progress == ["writing product.md ...", "writing tech.md ...", "writing structure.md ..."]
    assert (folder / "product.md").read_text() == FRONT_MATTER + BODIES["product.md"]
    assert (folder / "structure.md").read_text() == FRONT_MATTER + BODIES["structure.md"]
    tech = (folder / "tech.md").read_text()
    assert tech.startswith(FRONT_MATTER + "# Technology Stack\n\n- Python 3.11, click, rich\n")
    assert "make everything" not in tech  # the model's guess gives way to the real command
    command = result.facts.test_command if result.facts else None
    assert command is not None and tech.endswith(f"\n\nTest command: `{command}`\n")
    found = find_test_command(repository, settings=settings)
    assert found is not None and found.source == "steering" and found.shown == command
    assert "instant-runoff" in prompts["product.md"] and "tallyho" in prompts["product.md"]
    assert "click>=8" in prompts["tech.md"] and "Python (3)" in prompts["tech.md"]
    assert f"Test command: {command}" in prompts["tech.md"]
    assert "src/ (2 files)" in prompts["structure.md"]
    assert "instant_runoff" in prompts["structure.md"]  # the repository map
    assert "README (opening)" not in prompts["structure.md"]  # only the facts it needs


async def test_existing_files_are_skipped_unless_forced(repository: Path) -> None:
    folder = repository / ".kiro" / "steering"
    folder.mkdir(parents=True)
    (folder / "product.md").write_text("# Mine\n")
    prompts: dict[str, str] = {}

    result = await write_foundation_steering(repository, model=writer(prompts))

    assert result.skipped == [folder / "product.md"]
    assert [path.name for path in result.written] == ["tech.md", "structure.md"]
    assert sorted(prompts) == ["structure.md", "tech.md"]
    assert (folder / "product.md").read_text() == "# Mine\n"

    again = await write_foundation_steering(repository, model=writer(prompts))
    assert again.written == [] and again.requests == 0 and len(again.skipped) == 3

    forced = await write_foundation_steering(repository, model=writer(prompts), force=True)
    assert len(forced.written) == 3
    assert (folder / "product.md").read_text() == FRONT_MATTER + BODIES["product.md"]


async def test_fenced_or_empty_answers_are_cleaned_or_sent_back(repository: Path) -> None:
    answers = iter(["", "```markdown\n---\ninclusion: manual\n---\n# Product Overview\n\n"
                        "Tallyho counts ranked-choice ballots from CSV files.\n```"])  # fmt: skip

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        name = which_file(messages)
        text = next(answers) if name == "product.md" else BODIES[name]
        return ModelResponse(parts=[TextPart(json.dumps({"markdown": text}))])

    result = await write_foundation_steering(repository, model=FunctionModel(answer))

    product = (repository / ".kiro" / "steering" / "product.md").read_text()
    assert product == FRONT_MATTER + (
        "# Product Overview\n\nTallyho counts ranked-choice ballots from CSV files.\n"
    )
    assert result.requests == 4  # the empty answer was sent back once


SCRIPT = """
import json
from pathlib import Path
from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.models.function import FunctionModel

BODIES = json.loads({bodies!r})
CALLS = Path({calls!r})


def answer(messages, info):
    prompt = str(messages[0].parts[-1].content)
    name = next(name for name in BODIES if "Write " + name in prompt)
    with CALLS.open("a") as log:
        log.write(name + "\\n")
    return ModelResponse(parts=[TextPart(json.dumps({{"markdown": BODIES[name]}}))])


model = FunctionModel(answer, model_name="writer")
"""


def test_init_steering_from_the_command_line(repository: Path) -> None:
    script = repository.parent / "writer_model.py"
    calls = repository.parent / "writer_calls.txt"
    script.write_text(SCRIPT.format(bodies=json.dumps(BODIES), calls=str(calls)))
    (repository / ".kiro" / "steering").mkdir(parents=True)
    (repository / ".kiro" / "steering" / "tech.md").write_text("# Our stack\n")

    def init(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "specloom", "init", "--steering", "--model",
             f"py:{script}:model", *args],
            cwd=repository, capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip

    first = init("--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["steering"]["written"] == [".kiro/steering/product.md",
                                           ".kiro/steering/structure.md"]  # fmt: skip
    assert data["steering"]["skipped"] == [".kiro/steering/tech.md"]
    assert data["steering"]["facts"]["name"] == "tallyho"
    assert calls.read_text().split() == ["product.md", "structure.md"]
    assert (repository / ".kiro" / "steering" / "tech.md").read_text() == "# Our stack\n"
    assert (repository / ".kiro" / "hooks").is_dir()

    second = init()
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("it exists (use --force to replace it)") == 3
    assert calls.read_text().split() == ["product.md", "structure.md"]  # no new requests

    forced = init("--force")
    assert forced.returncode == 0, forced.stderr
    assert "wrote .kiro/steering/tech.md" in forced.stdout
    assert "test command: " in forced.stdout
    assert "Test command: `" in (repository / ".kiro" / "steering" / "tech.md").read_text()
