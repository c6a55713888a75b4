"""Keeping the tests that passed when a test file is written again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from specloom.agent.whole_files import FileBlock
from specloom.workflows.kept_tests import keep_earlier, keep_passing, with_passing_tests
from specloom.workflows.verify import failed_test_names

OLD = '''\
"""Tests of the counter."""
import pytest
from wordcount import count_words, read_file

WORDS = "a b a"


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text(WORDS)
    return path


def test_count_words():
    assert count_words(WORDS) == {"a": 2, "b": 1}


@pytest.mark.parametrize("text", ["", " "])
def test_blank(text):
    assert count_words(text) == {}


def test_read(sample):
    assert read_file(sample) == WORDS


def test_empty_file(tmp_path):
    assert read_file(tmp_path / "e.txt") == ""
'''

NEW = """\
from wordcount import count_words, read_file


def test_count_words():
    assert count_words("x") == {"y": 1}


def test_empty_file(tmp_path):
    empty = tmp_path / "e.txt"
    empty.write_text("")
    assert read_file(empty) == ""
"""


def test_the_tests_that_passed_go_back_with_what_they_use() -> None:
    text, kept = with_passing_tests(NEW, OLD, {"test_empty_file"})

    assert kept == ["test_count_words", "test_blank", "test_read"]
    # The passing version replaces the one written blind; the failed one is the new one.
    assert 'assert count_words(WORDS) == {"a": 2, "b": 1}' in text
    assert '{"y": 1}' not in text
    assert 'empty.write_text("")' in text and 'read_file(tmp_path / "e.txt")' not in text
    # What the kept tests use: the import, the constant, the fixture, the decorator.
    assert "import pytest\n" in text and 'WORDS = "a b a"' in text
    assert "@pytest.fixture\ndef sample(tmp_path):" in text
    assert '@pytest.mark.parametrize("text", ["", " "])\ndef test_blank(text):' in text
    assert text.index("WORDS =") < text.index("def test_count_words")
    assert text.count("def test_count_words") == 1 and text.count("def test_empty_file") == 1
    compile(text, "test_file.py", "exec")


def test_nothing_is_kept_when_nothing_passed_or_a_file_does_not_parse() -> None:
    every = {"test_count_words", "test_blank", "test_read", "test_empty_file"}
    assert with_passing_tests(NEW, OLD, every) == (NEW, [])
    assert with_passing_tests("def test_x(:\n", OLD, set()) == ("def test_x(:\n", [])
    assert with_passing_tests(NEW, "def test_x(:\n", set()) == (NEW, [])
    # Test classes are left to the answer.
    old = "class TestCount:\n    def test_one(self):\n        assert True\n"
    assert with_passing_tests(NEW, old, set()) == (NEW, [])


def test_the_edit_changes_only_its_file_and_says_what_it_kept() -> None:
    edit = keep_passing("tests/test_wc.py", OLD, {"test_empty_file", "test_blank"})

    other = FileBlock("wordcount.py", "x = 1\n", 1)
    assert edit(other) == (other, "")
    block, note = edit(FileBlock("tests/test_wc.py", NEW, 3))
    assert block.path == "tests/test_wc.py" and block.line == 3
    assert "def test_read(sample)" in block.content and "def test_blank" not in block.content
    assert note == "Kept the 2 test(s) that passed before: test_count_words, test_read."


def test_a_task_keeps_the_tests_earlier_tasks_wrote_and_its_own_win_by_name() -> None:
    edit = keep_earlier("tests/test_wc.py", OLD)

    block, note = edit(FileBlock("tests/test_wc.py", NEW, 1))

    # The answer's own test_count_words and test_empty_file stay; the others come back.
    assert note == "Kept the 2 test(s) earlier tasks wrote: test_blank, test_read."
    assert '{"y": 1}' in block.content and "empty.write_text" in block.content
    assert "def test_blank(text):" in block.content and "def test_read(sample):" in block.content
    assert block.content.count("def test_count_words") == 1
    compile(block.content, "test_wc.py", "exec")
    other = FileBlock("wordcount.py", "x = 1\n", 1)
    assert edit(other) == (other, "")
    # Nothing to keep: an answer holding every earlier test, or one that does not parse.
    assert edit(FileBlock("tests/test_wc.py", OLD, 1)) == (
        FileBlock("tests/test_wc.py", OLD, 1),
        "",
    )
    broken = FileBlock("tests/test_wc.py", "def test_x(:\n", 1)
    assert edit(broken) == (broken, "")


def test_failed_test_names_come_from_real_pytest_output(tmp_path: Path) -> None:
    (tmp_path / "test_some.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.parametrize('n', [1, 2])\ndef test_even(n):\n    assert n % 2 == 0\n\n\n"
        "class TestWords:\n    def test_upper(self):\n        assert 'a'.upper() == 'a'\n\n\n"
        "def test_fine():\n    assert True\n"
    )
    for style in ("long", "short", "line"):
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--tb={style}"],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert failed_test_names(run.stdout) == {"test_even", "test_upper"}, style
