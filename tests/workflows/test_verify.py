"""Finding and running the test command: settings first, then steering, then what the
project's files say; real subprocesses for pass, fail and timeout; failure signatures."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from specloom.errors import SettingsError
from specloom.settings import load_settings
from specloom.workflows.verify import (
    DEFAULT_TIMEOUT_S,
    NO_TEST_COMMAND,
    UNWRITTEN_INPUT,
    TestCommand,
    failed_assertions,
    failing_tests,
    failure_signature,
    find_test_command,
    first_error_line,
    output_tail,
    pytest_prefix,
    run_verification,
)

PYTHON = shlex.quote(sys.executable)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def settings_file(root: Path, data: object) -> Path:
    path = root / ".kiro" / "settings" / "specloom.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def found(root: Path, steering_root: Path | None = None) -> TestCommand | None:
    return find_test_command(root, settings=load_settings(root), steering_root=steering_root)


def test_the_settings_command_comes_first(tmp_path: Path) -> None:
    write(tmp_path, {"tests/test_a.py": "", ".kiro/steering/tech.md": "Test command: `make t`\n"})
    path = settings_file(tmp_path, {"verify": {"command": "tox -e py311", "timeout_s": 90}})

    command = found(tmp_path)

    assert command is not None
    assert (command.command, command.source, command.timeout_s) == ("tox -e py311", "settings", 90)
    assert command.origin == f"{path}:3"


def test_a_settings_command_may_be_an_argument_list(tmp_path: Path) -> None:
    settings_file(tmp_path, {"verify": {"command": ["pytest", "-q", "tests dir"]}})

    command = found(tmp_path)

    assert command is not None
    assert command.command == ("pytest", "-q", "tests dir")
    assert command.shown == "pytest -q 'tests dir'"


@pytest.mark.parametrize(
    ("verify", "key", "line"),
    [({"command": 3}, "verify.command", 3), ({"timeout_s": 0}, "verify.timeout_s", 3)],
)
def test_bad_verify_settings_name_the_file_and_line(
    tmp_path: Path, verify: dict[str, object], key: str, line: int
) -> None:
    path = settings_file(tmp_path, {"verify": verify})

    with pytest.raises(SettingsError) as caught:
        found(tmp_path)

    assert caught.value.file == str(path) and caught.value.line == line
    assert key in caught.value.message


def test_steering_names_the_command_tech_md_first(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "tests/test_a.py": "",
            ".kiro/steering/a-testing.md": "# Testing\n\nTest command: `make check`\n",
            ".kiro/steering/tech.md": "# Tech\n\nPython.\n\n- **Test command:** `nox -s tests`\n",
        },
    )

    command = found(tmp_path)

    assert command is not None
    assert (command.command, command.source) == ("nox -s tests", "steering")
    assert command.origin == ".kiro/steering/tech.md:5"
    assert command.timeout_s == DEFAULT_TIMEOUT_S


def test_steering_in_any_file_counts(tmp_path: Path) -> None:
    write(tmp_path, {".kiro/steering/testing.md": "Run tests.\nTest command: `npm run test:ci`\n"})

    command = found(tmp_path)

    assert command is not None and command.command == "npm run test:ci"
    assert command.origin == ".kiro/steering/testing.md:2"


def test_steering_is_read_from_the_project_root_for_a_worktree(tmp_path: Path) -> None:
    root = write(tmp_path / "root", {".kiro/steering/tech.md": "Test command: `make test-all`\n"})
    tree = write(tmp_path / "tree", {"README.md": "a checkout\n"})

    command = found(tree, steering_root=root)

    assert command is not None and command.command == "make test-all"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"tests/unit/test_parser.py": ""}, "-m pytest -q"),
        ({"test/parser_test.py": ""}, "-m pytest -q"),
        ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"}, "-m pytest -q"),
        ({"setup.cfg": "[tool:pytest]\n"}, "-m pytest -q"),
        ({"package.json": json.dumps({"scripts": {"test": "vitest run"}})}, "npm test"),
        ({"Cargo.toml": "[package]\nname = 'x'\n"}, "cargo test"),
        ({"go.mod": "module example.com/x\n"}, "go test ./..."),
        ({"Makefile": "build:\n\tcc x.c\n\ntest: build\n\t./x --self-test\n"}, "make test"),
    ],
)
def test_the_command_is_discovered_from_the_project(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    write(tmp_path, {**files, ".venv/bin/python": ""})

    command = found(tmp_path)

    assert command is not None and command.source == "discovered"
    shown = command.shown
    if "pytest" in expected:
        assert shown == f".venv/bin/python {expected}"
    else:
        assert shown == expected


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"README.md": "no tests here\n"},
        {"package.json": json.dumps({"scripts": {"test": 'echo "Error: no test specified"'}})},
        {"Makefile": "VAR := 1\nbuild:\n\tcc x.c\n"},
        {"tests/data.json": "{}"},
    ],
)
def test_nothing_to_run_finds_no_command(tmp_path: Path, files: dict[str, str]) -> None:
    write(tmp_path, files)

    assert found(tmp_path) is None
    assert "verify.command" in NO_TEST_COMMAND


def test_pytest_runs_with_the_project_s_environment_where_it_has_one(tmp_path: Path) -> None:
    root = write(tmp_path / "root", {"venv/bin/python": ""})
    tree = write(tmp_path / "tree", {})

    assert pytest_prefix(root) == "venv/bin/python -m pytest"
    assert pytest_prefix(tree, project_root=root) == f"{root}/venv/bin/python -m pytest"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_discovered_pytest_really_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    # `pytest` on PATH is this environment's, as in a project whose tools are installed.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    write(tmp_path, {"tests/test_ok.py": "def test_ok():\n    assert 1 + 1 == 2\n"})
    command = found(tmp_path)
    assert command is not None and command.shown == "pytest -q"

    verification = await run_verification(tmp_path, command, settings=load_settings(tmp_path))

    assert verification.passed, verification.output
    assert "1 passed" in verification.output
    assert verification.source == "discovered"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_failing_run_reports_its_exit_code_and_output(
    tmp_path: Path, anyio_backend: str
) -> None:
    script = "import sys; print('checking'); print('AssertionError: 2 != 3'); sys.exit(3)"
    command = TestCommand(f"{PYTHON} -c {shlex.quote(script)}", "settings", "here")

    verification = await run_verification(tmp_path, command, settings=load_settings(tmp_path))

    assert not verification.passed and verification.exit_code == 3
    assert verification.tail == "checking\nAssertionError: 2 != 3"
    assert verification.summary().endswith("failed with exit code 3: AssertionError: 2 != 3")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_run_past_its_timeout_is_killed(tmp_path: Path, anyio_backend: str) -> None:
    command = TestCommand(f"{PYTHON} -c 'import time; time.sleep(30)'", "settings", "here", 0.5)

    verification = await run_verification(tmp_path, command, settings=load_settings(tmp_path))

    assert not verification.passed and verification.timed_out
    assert verification.duration_s < 10
    assert "timed out" in verification.summary()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_argument_list_runs_without_a_shell(tmp_path: Path, anyio_backend: str) -> None:
    command = TestCommand((sys.executable, "-c", "print('$HOME stays literal')"), "settings", "")

    verification = await run_verification(tmp_path, command, settings=load_settings(tmp_path))

    assert verification.passed and verification.output.strip() == "$HOME stays literal"


PYTEST_FAILURE = """\
F.                                                                       [100%]
=================================== FAILURES ===================================
___________________________________ test_add ___________________________________

    def test_add():
>       assert add(2, 3) == 5
E       assert -1 == 5
E        +  where -1 = add(2, 3)

{root}/tests/test_calc.py:{line}: AssertionError
=========================== short test summary info ============================
FAILED tests/test_calc.py::test_add - assert -1 == 5
1 failed, 1 passed in {seconds}s
"""


_COUNT = "def count(text):\n    return len(text.split())\n"
_RAISES = "def count(text):\n    return len(text.split()) + None\n"
_READS = (
    "def count(path):\n    with open(path) as source:\n        return len(source.read().split())\n"
)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # The code returned; the tests expected other values: where they stopped is named.
        ({"count.py": _COUNT, "tests/test_count.py": "from count import count\n\n\n"
          "def test_two():\n    assert count('a b') == 3\n\n\n"
          "def test_lists():\n    assert [count('a')] == [2]\n\n\n"
          "def test_one():\n    assert count('a') == 1\n"}, ["tests/test_count.py"]),
        # The code raised: not the tests' assertions.
        ({"count.py": _RAISES, "tests/test_count.py": "from count import count\n\n\n"
          "def test_two():\n    assert count('a b') == 2\n"}, None),
        # The test itself raised something else.
        ({"count.py": _COUNT, "tests/test_count.py": "from count import count\n\n\n"
          "def test_two():\n    assert count('a', 'b') == 2\n"}, None),
        # An import that fails is a collection error.
        ({"count.py": _COUNT, "tests/test_count.py": "from count import total\n\n\n"
          "def test_two():\n    assert total('a b') == 2\n"}, None),
        # A test mixing a failed assertion and an error.
        ({"count.py": _RAISES, "tests/test_count.py": "from count import count\n\n\n"
          "def test_two():\n    assert 1 == 2\n\n\n"
          "def test_three():\n    assert count('a') == 1\n"}, None),
        # The code read a file in the test's tmp_path that the test never wrote: the test's.
        ({"count.py": _READS, "tests/test_count.py": "from count import count\n\n\n"
          "def test_empty(tmp_path):\n    assert count(tmp_path / 'empty.txt') == 0\n\n\n"
          "def test_two():\n    assert count(__file__) == 2\n"}, ["tests/test_count.py"]),
        # A test about a missing file may be right: the code's turn.
        ({"count.py": _READS, "tests/test_count.py": "from count import count\n\n\n"
          "def test_missing_file(tmp_path):\n    assert count(tmp_path / 'gone.txt') == 0\n"},
         None),
        # A missing file outside pytest's temporary folders is the code's to handle.
        ({"count.py": _READS, "tests/test_count.py": "from count import count\n\n\n"
          "def test_empty():\n    assert count('empty.txt') == 0\n"}, None),
    ],
    ids=["assertions", "code-raises", "test-raises", "import-fails", "mixed", "unwritten-input",
         "about-a-missing-file", "relative-path"],
)  # fmt: skip
def test_failed_assertions_are_told_from_errors_in_real_pytest_output(
    tmp_path: Path, files: dict[str, str], expected: list[str] | None
) -> None:
    write(tmp_path, files)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode in (1, 2), run.stdout
    assert failed_assertions(run.stdout + run.stderr) == expected


def test_failing_tests_are_shown_short_from_real_pytest_output(tmp_path: Path) -> None:
    write(tmp_path, {"count.py": _COUNT, "tests/test_count.py": (
        "from count import count\n\n\n"
        "def test_words(tmp_path):\n    source = tmp_path / 'in.txt'\n"
        "    source.write_text('a b a')\n\n    assert count(source.read_text()) == 2\n\n\n"
        "def test_dict():\n    assert {'a': count('a a'), 'b': 1} == {'a': 3, 'b': 1}\n\n\n"
        "def test_fine():\n    assert count('a') == 1\n")})  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip

    shown = failing_tests(run.stdout)

    words, dictionary = shown.split("\n\n")
    assert words.splitlines()[:8] == [
        "# test_words",
        "    def test_words(tmp_path):",
        "        source = tmp_path / 'in.txt'",
        "        source.write_text('a b a')",
        ">       assert count(source.read_text()) == 2",
        "E       AssertionError: assert 3 == 2",
        "E        +  where 3 = count('a b a')",
        "E        +    where 'a b a' = read_text()",
    ]
    assert "tmp_path = PosixPath" not in shown and "test_fine" not in shown
    assert dictionary.startswith("# test_dict\n    def test_dict():\n>       assert {'a': ")
    assert "-v" not in shown  # pytest's advice to run it verbosely is left out
    assert len(failing_tests(run.stdout, limit=80)) <= 80


def test_a_test_that_never_wrote_its_input_is_shown_with_what_to_do(tmp_path: Path) -> None:
    write(tmp_path, {"count.py": _READS, "tests/test_count.py": (
        "from count import count\n\n\n"
        "def test_empty(tmp_path):\n    empty = tmp_path / 'empty.txt'\n\n"
        "    assert count(empty) == 0\n")})  # fmt: skip
    for style in ("long", "short"):
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--tb={style}"],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip

        shown = failing_tests(run.stdout).splitlines()

        assert failed_assertions(run.stdout) == ["tests/test_count.py"], style
        assert shown[0] == "# test_empty" and shown[-1] == UNWRITTEN_INPUT
        assert any(line.strip().endswith("count(empty) == 0") for line in shown), style
        assert shown[-2].startswith("E   ") and "FileNotFoundError" in shown[-2]
        assert shown[-2].endswith("/test_empty0/empty.txt'")
        assert "open(path)" not in "\n".join(shown)  # the code's frame is left out


def test_the_same_failure_has_the_same_signature_whatever_the_noise() -> None:
    first = PYTEST_FAILURE.format(root="/tmp/pytest-1/a", line=6, seconds="0.05")
    second = PYTEST_FAILURE.format(root="/tmp/pytest-9/b", line=9, seconds="1.37")
    other = first.replace("-1 == 5", "6 == 5")

    assert failure_signature(first, 1) == failure_signature(second, 1)
    assert failure_signature(first, 1) != failure_signature(other, 1)
    assert failure_signature(first, 1) != failure_signature(first, 2)
    assert failure_signature(first, 1) != failure_signature(first, 1, timed_out=True)


def test_output_without_error_lines_is_signed_by_its_last_lines() -> None:
    assert failure_signature("building\nstep 1\n", 1) == failure_signature("building\nstep 1", 1)
    assert failure_signature("building\nstep 1\n", 1) != failure_signature("building\nstep 2", 1)


def test_the_first_error_line_prefers_what_the_runner_says_failed() -> None:
    output = PYTEST_FAILURE.format(root="/r", line=6, seconds="0.1")

    assert first_error_line(output) == "E assert -1 == 5"
    assert first_error_line("compiling\nerror[E0308]: mismatched types\n") == (
        "error[E0308]: mismatched types"
    )
    assert first_error_line("all good\nbut exit 1\n") == "but exit 1"


def test_the_tail_keeps_the_end_of_long_output() -> None:
    output = "".join(f"line {n}\n" for n in range(200))

    tail = output_tail(output, lines=5)

    assert tail == "line 195\nline 196\nline 197\nline 198\nline 199"
    assert len(output_tail("x" * 10_000 + "\nend", chars=100)) <= 100
