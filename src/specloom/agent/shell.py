"""Which programs a shell command line would start, without running it.

A line hides its programs well: behind ``;``, ``&&``, ``||`` and pipes, inside ``$(...)``,
backquotes and ``<(...)``, in the string of ``bash -c`` or ``eval``, behind ``sudo``, ``env``,
``xargs`` or ``find -exec``, under an alias defined earlier in the line, or spelled ``'rm'``,
``\\rm`` or ``/bin/rm``. ``expand_line(line)`` parses it (``specloom.agent.shell_parse``,
whose public names are re-exported here), walks it in order and returns every program it
would run as a ``Unit``: the arguments with wrappers removed, the text as written, the
wrappers it runs under, and what reaches its standard input (a here-document, a here-string,
text piped in from ``echo``). Strings run by another shell (``bash -c``, ``eval``, ``su -c``,
``ssh host CMD``, ``watch``, aliases) are parsed again, to ``MAX_DEPTH`` levels. Nothing is
run, expanded from the environment, or looked up on disk: variables resolve only to values
assigned earlier in the line; any other expansion keeps its text and marks the word dynamic.

May import: the standard library and ``specloom.agent.shell_parse``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from specloom.agent.shell_parse import (
    VARIABLE_NAME,
    Group,
    Part,
    Pipeline,
    Redirect,
    Script,
    SimpleCommand,
    Substitution,
    Variable,
    Word,
    parse_script,
)

__all__ = [
    "MAX_DEPTH",
    "Expansion",
    "Group",
    "Part",
    "Pipeline",
    "Redirect",
    "Script",
    "SimpleCommand",
    "Substitution",
    "Unit",
    "Variable",
    "Word",
    "expand_line",
    "find_targets",
    "parse_script",
    "program_name",
]

MAX_DEPTH = 8
"""How many times a string run by another shell (``bash -c``, ``eval``...) is followed."""


def program_name(word: str) -> str:
    """The program a command word names: ``/usr/bin/rm`` and ``./rm`` are ``rm``."""
    return word.rstrip("/").rsplit("/", 1)[-1] if "/" in word.rstrip("/") else word


@dataclass(frozen=True, slots=True)
class Unit:
    """One program the line would run.

    Attributes:
        argv: The program and its arguments: wrappers and leading assignments removed,
            quotes removed, variables assigned earlier in the line filled in.
        text: The simple command as written, at the level it was found (inside a
            ``bash -c`` string, the text inside the string).
        outer_text: The outermost simple command it came from, as written in the line.
        wrappers: What it runs under, outermost first (``sudo``, ``bash -c``, ``xargs``,
            ``find -exec``, ``alias x``, ``$(``...).
        privileged: It runs as another user, on another machine or in a container (``sudo``,
            ``su``, ``ssh``, ``docker exec``...).
        dynamic: Per item of ``argv``: whether its value is only known when the line runs.
        extra_arguments: More arguments arrive when the line runs (``xargs``, ``find -exec``).
        redirects: ``(operator, target)`` pairs.
        stdin: Text fed on its standard input, when the line holds it (a here-document, a
            here-string, or the text of an ``echo``/``printf`` piped into it).
        piped_from: The argument list of the pipeline stage before it, if any.
    """

    argv: tuple[str, ...]
    text: str
    outer_text: str
    wrappers: tuple[str, ...] = ()
    privileged: bool = False
    dynamic: tuple[bool, ...] = ()
    extra_arguments: bool = False
    redirects: tuple[tuple[str, str], ...] = ()
    stdin: str | None = None
    piped_from: tuple[str, ...] = ()

    @property
    def program(self) -> str:
        """The program's name (``rm`` for ``/bin/rm``)."""
        return program_name(self.argv[0]) if self.argv else ""

    @property
    def dynamic_program(self) -> bool:
        """Whether the program itself is only known when the line runs (``$CMD -rf``)."""
        return bool(self.dynamic and self.dynamic[0])

    @property
    def args(self) -> tuple[str, ...]:
        """The arguments after the program."""
        return self.argv[1:]


@dataclass(frozen=True, slots=True)
class Expansion:
    """Every program a line would run, in the order the shell would start them.

    Attributes:
        line: The line.
        units: The programs.
        problems: What could not be read or followed.
    """

    line: str
    units: tuple[Unit, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Arg:
    value: str
    dynamic: bool
    raw: str
    plain: bool  # unquoted literal: may be an alias or a keyword


@dataclass(frozen=True, slots=True)
class _Context:
    depth: int = 0
    wrappers: tuple[str, ...] = ()
    privileged: bool = False
    outer: str | None = None
    extra_arguments: bool = False
    aliases_in_use: frozenset[str] = frozenset()

    def inner(self, wrapper: str, *, privileged: bool = False, outer: str = "") -> _Context:
        return replace(
            self,
            depth=self.depth + 1,
            wrappers=(*self.wrappers, wrapper),
            privileged=self.privileged or privileged,
            outer=self.outer if self.outer is not None else outer,
        )


@dataclass(slots=True)
class _State:
    variables: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    units: list[Unit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def expand_line(line: str) -> Expansion:
    """Every program ``line`` would run, wrappers and hiding places followed.

    Args:
        line: A shell command line (bash).

    Returns:
        The units in order, and the problems met (an unreadable line, nesting deeper than
        ``MAX_DEPTH``).
    """
    state = _State()
    _expand_source(line, state, _Context())
    return Expansion(line, tuple(state.units), tuple(state.problems))


def _expand_source(source: str, state: _State, context: _Context) -> None:
    if context.depth > MAX_DEPTH:
        message = "commands are nested too deeply to follow"
        if message not in state.problems:
            state.problems.append(message)
        return
    script = parse_script(source)
    for problem in script.problems:
        if problem not in state.problems:
            state.problems.append(problem)
    _expand_script(script, state, context)


def _expand_script(script: Script, state: _State, context: _Context) -> None:
    for pipeline in script.pipelines:
        piped_from: tuple[str, ...] = ()
        piped_text: str | None = None
        for stage in pipeline.stages:
            if isinstance(stage, Group):
                _expand_script(stage.script, state, context)
                piped_from, piped_text = (), None
                continue
            unit = _expand_command(stage, state, context, piped_from, piped_text)
            piped_from = unit.argv if unit is not None else ()
            piped_text = _output_text(unit) if unit is not None else None


def _output_text(unit: Unit) -> str | None:
    """What a stage writes, when the line itself holds it (``echo``, ``printf``, ``cat <<``)."""
    if unit.program == "echo":
        words = list(unit.args)
        while words and re.fullmatch(r"-[neE]+", words[0]):
            words.pop(0)
        return " ".join(words)
    if unit.program == "printf" and unit.args:
        return " ".join(unit.args)
    if unit.program == "cat" and not unit.args:
        return unit.stdin
    return None


def _expand_command(
    command: SimpleCommand,
    state: _State,
    context: _Context,
    piped_from: tuple[str, ...],
    piped_text: str | None,
) -> Unit | None:
    inner = replace(context, depth=context.depth + 1)
    for word in command.words:
        for substitution in word.substitutions():
            _expand_script(substitution.script, state, inner.inner(substitution.kind + "..."))
    redirects: list[tuple[str, str]] = []
    stdin = piped_text
    for redirect in command.redirects:
        if redirect.target is not None:
            for substitution in redirect.target.substitutions():
                _expand_script(substitution.script, state, inner.inner(substitution.kind + "..."))
        if redirect.heredoc is not None:
            stdin = redirect.heredoc
        elif redirect.target is not None:
            redirects.append((redirect.op, redirect.target.value(state.variables)))
    args = [
        _Arg(
            word.value(state.variables),
            word.is_dynamic(state.variables),
            word.raw,
            not word.quoted and not word.is_dynamic(),
        )
        for word in command.words
    ]
    if args and all(_assignment(arg) for arg in args):
        for arg in args:
            name, _, value = arg.value.partition("=")
            state.variables[name.rstrip("+")] = value
        return None
    outer = context.outer if context.outer is not None else command.text
    if not args:
        unit = Unit((), command.text, outer, context.wrappers, context.privileged,
                    redirects=tuple(redirects), stdin=stdin)  # fmt: skip
        state.units.append(unit)
        return unit
    return _resolve(
        args,
        state,
        context,
        text=command.text,
        outer=outer,
        redirects=tuple(redirects),
        stdin=stdin,
        piped_from=piped_from,
    )


def _assignment(arg: _Arg) -> bool:
    return bool(re.match(r"[A-Za-z_]\w*\+?=", arg.raw))


_DROP_KEYWORDS = frozenset(
    {"!", "{", "}", "then", "do", "else", "elif", "if", "while", "until", "fi", "done", "esac"}
)
_HEADER_KEYWORDS = frozenset({"for", "select", "case", "[[", "((", "]]"})
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh"})
_PRIVILEGE = {"sudo": "ugCDhprtUTc", "doas": "uC", "pkexec": "", "run0": "uDg"}
_RUNNERS = {  # program -> subcommands that run the program named next
    "npm": ("exec", "x"),
    "pnpm": ("dlx", "exec"),
    "yarn": ("dlx", "exec"),
    "uv": ("run",),
    "poetry": ("run",),
    "pipenv": ("run",),
    "pdm": ("run",),
    "hatch": ("run",),
    "rye": ("run",),
    "bundle": ("exec",),
    "conda": ("run",),
    "mamba": ("run",),
    "micromamba": ("run",),
}
_VALUE_OPTIONS = {  # wrapper -> options that take the next argument as their value
    "env": {"-u", "--unset", "-C", "--chdir", "-P"},
    "nice": {"-n", "--adjustment"},
    "ionice": {"-c", "-n", "--class", "--classdata"},
    "timeout": {"-s", "--signal", "-k", "--kill-after"},
    "setsid": set(),
    "stdbuf": {"-i", "-o", "-e"},
    "strace": {"-o", "-e", "-p", "-s", "-u", "-E", "-a", "-O", "-S", "-X", "-P"},
    "ltrace": {"-o", "-e", "-p", "-s", "-u", "-a", "-n"},
    "exec": {"-a"},
    "chroot": {"--userspec", "--groups"},
    "xargs": set(
        "-n -L -P -s -I -d -a -E --delimiter --arg-file --max-args --max-lines --max-procs "
        "--max-chars --replace".split()
    ),
    "npx": {"-p", "--package", "-c", "--call"},
    "uvx": {"--from", "--with", "-p", "--python"},
    "uv": set(
        "--with -p --python --project --directory --env-file --extra --group --package "
        "--with-requirements".split()
    ),
    "conda": {"-n", "--name", "-p", "--prefix"},
    "ssh": {"-" + letter for letter in "bcDEeFIiJLlmOopQRSWw"},
    "docker exec": set("-e --env -u --user -w --workdir --env-file --detach-keys".split()),
    "watch": {"-n", "--interval", "-q", "--equexit"},
    "flock": {"-w", "--timeout", "-E", "--conflict-exit-code"},
    "taskset": set(),
}
_SIMPLE_WRAPPERS = frozenset(
    "nohup builtin unbuffer nice ionice setsid stdbuf strace ltrace exec timeout taskset chroot "
    "npx bunx pnpx uvx busybox flock caffeinate catchsegv env command".split()
)


def _skip_options(
    args: Sequence[_Arg], value_options: set[str] | frozenset[str], start: int = 1
) -> int:
    """The index of the first argument after ``args[start:]``'s options."""
    i = start
    while i < len(args):
        value = args[i].value
        if value == "--":
            return i + 1
        if not value.startswith("-") or value == "-":
            return i
        if value in value_options:
            i += 2
            continue
        i += 1
    return i


def _resolve(
    args: list[_Arg],
    state: _State,
    context: _Context,
    *,
    text: str,
    outer: str,
    redirects: tuple[tuple[str, str], ...],
    stdin: str | None,
    piped_from: tuple[str, ...],
) -> Unit | None:
    wrappers = list(context.wrappers)
    privileged = context.privileged
    extra = context.extra_arguments

    def nested(source: str, wrapper: str, *, elevated: bool = False) -> None:
        inner = replace(
            context,
            wrappers=tuple(wrappers),
            privileged=privileged,
            extra_arguments=extra,
        ).inner(wrapper, privileged=elevated, outer=outer)
        _expand_source(source, state, inner)

    while True:
        while args and _assignment(args[0]):
            args = args[1:]
        if not args:
            return None
        head = args[0]
        name = head.value
        program = program_name(name) if not head.dynamic else name
        if head.plain and name in state.aliases and name not in context.aliases_in_use:
            source = state.aliases[name] + " " + " ".join(arg.raw for arg in args[1:])
            inner = replace(context, aliases_in_use=context.aliases_in_use | {name})
            _expand_source(source, state, inner.inner(f"alias {name}", outer=outer))
            return None
        if head.plain and program in _DROP_KEYWORDS:
            args = args[1:]
            continue
        if head.plain and program == "time":
            args = args[1:]
            while args and args[0].value in ("-p", "--"):
                args = args[1:]
            continue
        if head.plain and program == "function":
            args = args[2:]
            continue
        if head.plain and program in _HEADER_KEYWORDS:
            return None
        if program in _PRIVILEGE and not head.dynamic:
            with_values = {"-" + letter for letter in _PRIVILEGE[program]}
            index = _skip_options(args, with_values)
            wrappers.append(program)
            privileged = True
            args = args[index:]
            continue
        if program == "su" and not head.dynamic:
            values = [arg.value for arg in args]
            for flag in ("-c", "--command"):
                if flag in values[:-1]:
                    nested(values[values.index(flag) + 1], "su -c", elevated=True)
                    return None
        if program == "env" and not head.dynamic:
            index = 1
            while index < len(args) and args[index].value.startswith("-"):
                value = args[index].value
                if value in ("-S", "--split-string") and index + 1 < len(args):
                    rest = " ".join(arg.raw for arg in args[index + 2 :])
                    nested(args[index + 1].value + " " + rest, "env -S")
                    return None
                if value.startswith(("-S", "--split-string=")) and len(value) > 2:
                    split = value.split("=", 1)[1] if value.startswith("--") else value[2:]
                    nested(split + " " + " ".join(arg.raw for arg in args[index + 1 :]), "env -S")
                    return None
                index += 2 if value in _VALUE_OPTIONS["env"] else 1
                if value == "--":
                    break
            wrappers.append("env")
            args = args[index:]
            continue
        if program == "command" and not head.dynamic:
            if any(arg.value in ("-v", "-V") for arg in args[1:2]):
                break
            args = args[_skip_options(args, set()) :]
            continue
        if program in ("timeout", "taskset", "flock", "chroot") and not head.dynamic:
            index = _skip_options(args, _VALUE_OPTIONS.get(program, set()))
            values = [arg.value for arg in args]
            if program == "flock" and ("-c" in values or "--command" in values):
                flag = "-c" if "-c" in values else "--command"
                position = values.index(flag)
                if position + 1 < len(values):
                    nested(values[position + 1], "flock -c")
                return None
            wrappers.append(program)
            privileged = privileged or program == "chroot"
            args = args[index + 1 :]  # past the duration, mask, lock file or new root
            continue
        if program in _SIMPLE_WRAPPERS and not head.dynamic:
            if program == "busybox" and len(args) > 1 and args[1].value in SHELLS:
                args = args[1:]
                continue
            wrappers.append(program)
            args = args[_skip_options(args, _VALUE_OPTIONS.get(program, set())) :]
            continue
        if program in _RUNNERS and len(args) > 1 and args[1].value in _RUNNERS[program]:
            wrappers.append(f"{program} {args[1].value}")
            args = args[_skip_options(args, _VALUE_OPTIONS.get(program, set()), 2) :]
            continue
        if program in SHELLS and not head.dynamic:
            script_index = None
            has_command = False
            index = 1
            while index < len(args):
                value = args[index].value
                if value == "--":
                    index += 1
                    break
                if value in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
                    index += 2
                    continue
                if value.startswith(("-", "+")) and len(value) > 1:
                    if not value.startswith("--") and "c" in value[1:]:
                        has_command = True
                    index += 1
                    continue
                break
            if index < len(args):
                script_index = index
            if has_command and script_index is not None:
                nested(args[script_index].value, f"{program} -c")
                return None
            if script_index is None and stdin is not None:
                nested(stdin, f"{program} <stdin")
            break
        if program == "eval" and not head.dynamic:
            nested(" ".join(arg.value for arg in args[1:]), "eval")
            return None
        if program == "watch" and not head.dynamic:
            index = _skip_options(args, _VALUE_OPTIONS["watch"])
            if any(arg.value in ("-x", "--exec") for arg in args[1:index]):
                wrappers.append("watch")
                args = args[index:]
                continue
            nested(" ".join(arg.value for arg in args[index:]), "watch")
            return None
        if program == "ssh" and not head.dynamic:
            index = _skip_options(args, _VALUE_OPTIONS["ssh"])
            if index + 1 < len(args):
                host = args[index].value
                remote = " ".join(arg.value for arg in args[index + 1 :])
                nested(remote, f"ssh {host}", elevated=True)
                return None
            break
        if program in ("docker", "podman", "nerdctl", "docker-compose") and not head.dynamic:
            values = [arg.value for arg in args]
            if "exec" in values[1:4]:
                index = values.index("exec")
                index = _skip_options(args, _VALUE_OPTIONS["docker exec"], index + 1)
                if index + 1 < len(args):
                    wrappers.append(f"{program} exec {values[index]}")
                    privileged = True
                    args = args[index + 1 :]
                    continue
            break
        if program in ("kubectl", "oc") and not head.dynamic:
            values = [arg.value for arg in args]
            if "exec" in values and "--" in values:
                wrappers.append(f"{program} exec")
                privileged = True
                args = args[values.index("--") + 1 :]
                continue
            break
        if program == "xargs" and not head.dynamic:
            index = _skip_options(args, _VALUE_OPTIONS["xargs"])
            wrappers.append("xargs")
            extra = True
            args = args[index:] or [_Arg("echo", False, "echo", True)]
            continue
        if program == "find" and not head.dynamic:
            _expand_find(args, state, context, outer=outer, wrappers=tuple(wrappers),
                         privileged=privileged)  # fmt: skip
            break
        if program == "alias" and not head.dynamic:
            for arg in args[1:]:
                alias, equals, value = arg.value.partition("=")
                if equals:
                    state.aliases[alias] = value
            break
        if program == "unalias" and not head.dynamic:
            for arg in args[1:]:
                state.aliases.pop(arg.value, None)
            break
        if program in ("export", "declare", "typeset", "local", "readonly") and not head.dynamic:
            for arg in args[1:]:
                variable, equals, value = arg.value.partition("=")
                if equals and VARIABLE_NAME.fullmatch(variable):
                    state.variables[variable] = value
            break
        break
    unit = Unit(
        argv=tuple(arg.value for arg in args),
        text=text,
        outer_text=outer,
        wrappers=tuple(wrappers),
        privileged=privileged,
        dynamic=tuple(arg.dynamic for arg in args),
        extra_arguments=extra,
        redirects=redirects,
        stdin=stdin,
        piped_from=piped_from,
    )
    state.units.append(unit)
    return unit


_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})


def _expand_find(
    args: list[_Arg],
    state: _State,
    context: _Context,
    *,
    outer: str,
    wrappers: tuple[str, ...],
    privileged: bool,
) -> None:
    """Add a unit for each ``-exec`` of a ``find``, ``{}`` standing for what find matches."""
    values = [arg.value for arg in args]
    targets = find_targets(values)
    index = 0
    while index < len(args):
        if values[index] in _FIND_EXEC:
            end = index + 1
            while end < len(args) and values[end] not in (";", "+"):
                end += 1
            inner: list[_Arg] = []
            for arg in args[index + 1 : end]:
                if "{}" in arg.value:
                    inner.extend(
                        _Arg(arg.value.replace("{}", target), False, target, False)
                        for target in targets
                    )
                else:
                    inner.append(arg)
            if inner:
                inner_context = replace(
                    context, wrappers=wrappers, privileged=privileged, extra_arguments=True
                ).inner(f"find {values[index]}", outer=outer)
                text = " ".join(arg.raw for arg in args[index + 1 : end])
                _resolve(
                    inner,
                    state,
                    inner_context,
                    text=text,
                    outer=inner_context.outer or outer,
                    redirects=(),
                    stdin=None,
                    piped_from=(),
                )
            index = end + 1
            continue
        index += 1


def find_targets(argv: Sequence[str]) -> list[str]:
    """What a ``find`` command matches, as glob paths (``./**/__pycache__``).

    The start folders (``.`` when none is given) joined with each ``-name``/``-iname``
    pattern; without a name filter (or with ``-path``, ``-regex``), everything under the
    start folders (``./**``).
    """
    index = 1
    while index < len(argv) and (argv[index] in ("-H", "-L", "-P") or argv[index].startswith("-O")):
        index += 1
    starts: list[str] = []
    while index < len(argv) and not argv[index].startswith(("-", "(", "!", ")")):
        starts.append(argv[index])
        index += 1
    starts = starts or ["."]
    names: list[str] = []
    broad = False
    rest = list(argv[index:])
    for position, value in enumerate(rest):
        if value in ("-name", "-iname") and position + 1 < len(rest):
            names.append(rest[position + 1])
        elif value in ("-path", "-ipath", "-wholename", "-regex", "-iregex"):
            broad = True
        elif value in _FIND_EXEC:
            break
    if not names or broad:
        return [start.rstrip("/") + "/**" if start != "/" else "/**" for start in starts]
    return [
        (start.rstrip("/") or "") + "/**/" + name
        for start in starts
        for name in names
        if "/" not in name
    ] or [start.rstrip("/") + "/**" for start in starts]
