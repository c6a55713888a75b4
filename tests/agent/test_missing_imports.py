"""Missing imports: names a module uses and never binds, resolved from the standard library,
test libraries and the project's own modules, and put after the module's header."""

from __future__ import annotations

import pytest

from specloom.agent.missing_imports import (
    add_fixtures,
    add_imports,
    missing_imports,
    module_name,
    top_level_names,
    without_disabled_capture,
)

WORDCOUNT = """\
def count_words(text):
    return Counter(re.findall(r"\\w+", text.lower()))


def main(argv):
    path = Path(argv[1])
    for word, count in count_words(path.read_text()).most_common():
        print(word, count)
"""

TEST = """\
def test_counts(tmp_path):
    assert count_words("a a b") == {"a": 2, "b": 1}


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        main(["wordcount", "nope.txt"])
"""


def test_standard_library_names_and_modules_are_imported() -> None:
    assert missing_imports(WORDCOUNT, this_module="wordcount") == [
        "from collections import Counter",
        "from pathlib import Path",
        "import re",
    ]


def test_tests_import_the_project_s_names_and_pytest() -> None:
    project = {"wordcount": top_level_names(WORDCOUNT), "other": frozenset({"helper"})}
    assert missing_imports(TEST, project=project) == [
        "from wordcount import count_words",
        "from wordcount import main",
        "import pytest",
    ]


def test_names_bound_anywhere_or_builtin_or_ambiguous_are_left_alone() -> None:
    source = """\
import os.path
from typing import *  # noqa
"""
    assert missing_imports(source) == []  # a star import could bind anything
    source = """\
import os.path as osp
try:
    value = int("x")
except ValueError as error:
    print(error, __file__, osp, len([n for n in range(3)]))


class Box:
    def get(self, *args, key=None, **kwargs):
        global seen
        seen = lambda item: item
        match args:
            case [first, *rest]:
                return first, rest
            case {"k": k, **others}:
                return k, others
        return unknown_name, shared
"""
    project = {"a": frozenset({"shared"}), "b": frozenset({"shared"})}
    assert missing_imports(source, project=project) == []  # unknown or defined twice
    assert missing_imports("def broken(:\n") == []  # does not parse: the tests will say


def test_a_module_never_imports_from_itself() -> None:
    project = {"calc": frozenset({"add"})}
    assert (
        missing_imports("def f():\n    return add(1, 2)\n", project=project, this_module="calc")
        == []
    )


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("wordcount.py", "wordcount"),
        ("src/pkg/core.py", "pkg.core"),
        ("pkg/__init__.py", "pkg"),
        ("tests/test_core.py", None),
        ("test_core.py", None),
        ("my-tool.py", None),
        ("README.md", None),
    ],
)
def test_module_names_follow_the_import_system(path: str, name: str | None) -> None:
    assert module_name(path) == name


def test_top_level_names_are_the_public_definitions() -> None:
    source = (
        "import os\nLIMIT = 3\n_private = 1\nx: int = 2\n\n\n"
        "class A:\n    inner = 1\n\n\ndef f():\n    local = 1\n"
    )
    assert top_level_names(source) == {"LIMIT", "x", "A", "f"}


def test_imports_go_after_the_docstring_future_and_leading_imports() -> None:
    source = '"""Doc."""\n\nfrom __future__ import annotations\nimport sys\n\nX = Counter()\n'
    assert add_imports(source, ["from collections import Counter"]) == (
        '"""Doc."""\n\nfrom __future__ import annotations\nimport sys\n'
        "from collections import Counter\n\nX = Counter()\n"
    )
    assert add_imports("X = Counter()\n", ["from collections import Counter"]) == (
        "from collections import Counter\n\nX = Counter()\n"
    )
    assert add_imports("X = 1\n", []) == "X = 1\n"
    fixed = add_imports(WORDCOUNT, missing_imports(WORDCOUNT))
    assert missing_imports(fixed) == []
    compile(fixed, "wordcount.py", "exec")


def test_tests_get_the_pytest_fixtures_their_body_uses_as_parameters() -> None:
    source = (
        "import pytest\n\n\n"
        "def test_prints():\n    show(1)\n    assert capsys.readouterr().out == '1\\n'\n\n\n"
        "async def test_reads(tmp_path):\n    (tmp_path / 'a').write_text('x')\n"
        "    monkeypatch.chdir(tmp_path)\n\n\n"
        "class TestShow:\n    def test_method(self, ):\n        capsys.readouterr()\n\n\n"
        "def test_own(capsys):\n    capsys.readouterr()\n\n\n"
        "def test_bound():\n    caplog = []\n    caplog.append(1)\n\n\n"
        "def helper():\n    return capsys\n"
    )
    fixed, changed = add_fixtures(source)
    assert changed == [
        "test_prints takes capsys",
        "test_reads takes monkeypatch",
        "test_method takes capsys",
    ]
    assert "def test_prints(capsys):\n" in fixed
    assert "async def test_reads(tmp_path, monkeypatch):\n" in fixed
    assert "    def test_method(self, capsys):\n" in fixed
    # Its own parameters, names it binds itself and functions that are no tests are left alone.
    assert "def test_own(capsys):\n" in fixed and "def test_bound():\n" in fixed
    assert "def helper():\n" in fixed
    compile(fixed, "test_show.py", "exec")
    # A module-level name of the same name is what the test meant; defaults and signatures
    # over several lines are not rewritten; code that does not parse is returned as it is.
    assert add_fixtures("capsys = 1\n\n\ndef test_a():\n    assert capsys\n") == (
        "capsys = 1\n\n\ndef test_a():\n    assert capsys\n",
        [],
    )
    assert add_fixtures("def test_a(x=1):\n    capsys\n")[1] == []
    assert add_fixtures("def test_a(\n    x,\n):\n    capsys\n")[1] == []
    assert add_fixtures("def test_a(:\n") == ("def test_a(:\n", [])


def test_output_run_with_capture_disabled_is_captured_when_the_test_reads_it() -> None:
    # What the demo's model wrote: the output goes past capsys, so readouterr() reads "".
    source = (
        "def test_prints(capsys):\n"
        "    counts = {'a': 1}\n"
        "    with capsys.disabled():\n"
        "        show(counts)\n"
        "        show(counts)\n"
        "\n"
        "    assert capsys.readouterr().out == 'a: 1\\na: 1\\n'\n"
        "\n\n"
        "def test_shows(capsys):\n"
        "    with capsys.disabled():\n"
        "        print('for the person watching')\n"
        "\n\n"
        "def test_fd(capfd):\n"
        "    if True:\n"
        "        with capfd.disabled():\n"
        "            show({})\n"
        "    assert capfd.readouterr().err == ''\n"
    )
    fixed, changed = without_disabled_capture(source)
    assert changed == ["test_prints reads what it captures", "test_fd reads what it captures"]
    assert "    counts = {'a': 1}\n    show(counts)\n    show(counts)\n\n    assert capsys" in fixed
    assert "    if True:\n        show({})\n    assert capfd" in fixed
    # A test that reads nothing keeps its uncaptured output (it is for the person watching).
    assert "    with capsys.disabled():\n        print('for the person watching')\n" in fixed
    compile(fixed, "test_show.py", "exec")
    # Other context managers, a bound name and code that does not parse are left alone.
    for kept in (
        "def test_a(capsys):\n    with open('x') as f, capsys.disabled():\n        show()\n"
        "    capsys.readouterr()\n",
        "def test_a(capsys):\n    with capsys.disabled() as off:\n        show()\n"
        "    capsys.readouterr()\n",
        "def test_a(:\n",
    ):
        assert without_disabled_capture(kept) == (kept, [])
