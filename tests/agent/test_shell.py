"""Reading shell lines without running them: the parser and the expansion into programs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specloom.agent.shell import (
    MAX_DEPTH,
    Group,
    SimpleCommand,
    Substitution,
    Variable,
    expand_line,
    find_targets,
    parse_script,
    program_name,
)


def programs(line: str) -> list[tuple[str, ...]]:
    return [unit.argv for unit in expand_line(line).units]


def test_lists_and_pipelines_split_into_commands() -> None:
    script = parse_script("a 1 && b 2 || c; d | e\nf &")

    assert [pipeline.text for pipeline in script.pipelines] == ["a 1", "b 2", "c", "d | e", "f"]
    stages = script.pipelines[3].stages
    assert [stage.text for stage in stages if isinstance(stage, SimpleCommand)] == ["d", "e"]
    assert script.problems == []


def test_words_lose_their_quotes_and_keep_variables_and_substitutions() -> None:
    (pipeline,) = parse_script("""echo 'a b' "c $HOME" $'x\\ty' $(date) `id`""").pipelines
    command = pipeline.stages[0]
    assert isinstance(command, SimpleCommand)
    words = command.words

    assert [word.value() for word in words[:4]] == ["echo", "a b", "c $HOME", "x\ty"]
    assert any(isinstance(part, Variable) and part.name == "HOME" for part in words[2].parts)
    assert [part.kind for part in words[4].parts if isinstance(part, Substitution)] == ["$("]
    assert [part.kind for part in words[5].parts if isinstance(part, Substitution)] == ["`"]
    assert words[1].quoted and not words[0].quoted


def test_redirections_and_here_documents() -> None:
    (pipeline,) = parse_script("psql db <<EOF > out.txt 2>&1\nDROP TABLE t;\nEOF").pipelines
    command = pipeline.stages[0]
    assert isinstance(command, SimpleCommand)

    ops = [(r.op, r.target.value() if r.target else None) for r in command.redirects]
    assert ops == [("<<", "EOF"), (">", "out.txt"), (">&", "1")]
    assert command.redirects[0].heredoc == "DROP TABLE t;"


def test_subshells_are_groups() -> None:
    (pipeline,) = parse_script("(cd / && rm -rf x)").pipelines

    assert isinstance(pipeline.stages[0], Group)
    assert programs("(cd / && rm -rf x)") == [("cd", "/"), ("rm", "-rf", "x")]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("echo 'open", "a single quote is never closed"),
        ('echo "open', "a double quote is never closed"),
        ("echo `open", "a backquote is never closed"),
        ("(echo hi", "a `(` is never closed"),
        ("echo hi)", "a `)` has no matching `(`"),
        ("cat >", "the redirection `>` has no target"),
    ],
)
def test_unreadable_lines_are_problems_not_errors(line: str, problem: str) -> None:
    assert problem in parse_script(line).problems
    assert problem in expand_line(line).problems


def test_wrappers_are_removed_and_remembered() -> None:
    (unit,) = expand_line("sudo -u root env A=1 nice -n 5 timeout 10 rm -rf /x").units

    assert unit.argv == ("rm", "-rf", "/x")
    assert unit.wrappers == ("sudo", "env", "nice", "timeout")
    assert unit.privileged
    assert unit.program == "rm"


def test_strings_run_by_another_shell_are_read_again() -> None:
    units = expand_line("""bash -c "sh -c 'eval git reset --hard'" """).units

    assert [unit.argv for unit in units] == [("git", "reset", "--hard")]
    assert units[0].wrappers == ("bash -c", "sh -c", "eval")


def test_substitutions_aliases_and_variables_are_followed() -> None:
    assert programs("echo $(rm -rf ~)") == [("rm", "-rf", "~"), ("echo", "$(rm -rf ~)")]
    assert programs("alias g=git; g push -f") == [("alias", "g=git"), ("git", "push", "-f")]
    assert programs("X=rm; $X -rf /") == [("rm", "-rf", "/")]
    assert programs("'rm' -rf /")[0][0] == "rm"
    assert program_name("/usr/bin/rm") == "rm"


def test_xargs_and_find_exec_get_their_arguments_when_the_line_runs() -> None:
    piped = expand_line("echo / | xargs rm -rf").units[1]
    assert (piped.argv, piped.extra_arguments, piped.stdin) == (("rm", "-rf"), True, "/")
    found = expand_line("find . -name '*.tmp' -exec rm {} +").units[0]
    assert found.argv == ("rm", "./**/*.tmp")
    assert found.wrappers == ("find -exec",)


def test_find_targets() -> None:
    assert find_targets(["find"]) == ["./**"]
    assert find_targets(["find", "src", "-name", "*.pyc"]) == ["src/**/*.pyc"]
    assert find_targets(["find", "/", "-path", "x"]) == ["/**"]


def test_a_dynamic_program_is_marked() -> None:
    (unit,) = expand_line("$CMD --all").units

    assert unit.dynamic_program
    assert not expand_line("ls $DIR").units[0].dynamic_program


def test_nesting_deeper_than_the_limit_is_a_problem() -> None:
    line = "bash -c 'true'"
    for _ in range(MAX_DEPTH + 2):
        line = "eval " + line
    expansion = expand_line(line)

    assert "commands are nested too deeply to follow" in expansion.problems


def test_deep_substitution_nesting_never_crashes() -> None:
    line = "echo " + "$(" * 200 + "x" + ")" * 200

    assert "substitutions are nested too deeply to read" in parse_script(line).problems


@given(st.text(alphabet=" \t\n;&|()<>'\"`$\\{}abc-=*!#", max_size=60))
def test_any_text_is_read_without_an_exception(line: str) -> None:
    expansion = expand_line(line)

    assert all(isinstance(problem, str) for problem in expansion.problems)
