"""Reading shell command lines without running them: what programs a line would start.

The safety policy judges a line by the programs it runs, and a line hides them well: behind
``;``, ``&&``, ``||`` and pipes, inside ``$(...)``, backquotes and ``<(...)``, in the string of
``bash -c`` or ``eval``, behind ``sudo``, ``env``, ``nohup``, ``xargs`` or ``find -exec``, under
an alias defined earlier in the same line, or spelled ``'rm'``, ``\\rm`` or ``/bin/rm``. Two
steps find them:

- ``parse_script(line)`` reads bash's grammar as far as a guard needs it: words (quotes
  removed, ``$'...'`` decoded, variables and substitutions kept as parts), redirections with
  here-documents, pipelines and lists, subshells, and function definitions. It never fails:
  what it cannot read (an unclosed quote) becomes a problem in ``Script.problems``.
- ``expand_line(line)`` walks the parsed line in order and returns every program it would
  run as a ``Unit``: the argument list with wrappers removed, the text it was written as, the
  wrappers it runs under (``sudo``, ``bash -c``, ``xargs``...), and what reaches its standard
  input (a here-document, a here-string, or text piped in from ``echo``). Strings run by
  another shell (``bash -c``, ``eval``, ``su -c``, ``ssh host CMD``, ``watch``, aliases) are
  parsed again, to ``MAX_DEPTH`` levels.

Nothing is ever run, expanded from the environment, or looked up on disk: variables resolve
only to values assigned earlier in the same line, and any other expansion leaves its text
in place and marks the word dynamic.

May import: the standard library only.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

__all__ = [
    "MAX_DEPTH",
    "Expansion",
    "Group",
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

_NESTING_LIMIT = 60
"""Deeper ``$(`` nesting than this is left unread (a problem), never a crash."""


@dataclass(frozen=True, slots=True)
class Variable:
    """A ``$name`` or ``${name...}`` expansion inside a word."""

    name: str
    source: str


@dataclass(frozen=True, slots=True)
class Substitution:
    """A command substitution (``$(...)``, backquotes) or process substitution (``<(...)``).

    Attributes:
        kind: ``"$("``, ``"`"``, ``"<("``, ``">("`` or ``"${"`` (a substitution inside the
            default value of ``${x:-...}``).
        script: The commands inside.
        source: The text as written, delimiters included.
    """

    kind: str
    script: Script
    source: str


Part = str | Variable | Substitution


@dataclass(slots=True)
class Word:
    """One shell word: literal text, variables and substitutions, quotes removed.

    Attributes:
        parts: The pieces in order.
        raw: The word as written.
        quoted: Some part was quoted or escaped (so it is never an alias or keyword).
    """

    parts: list[Part] = field(default_factory=list)
    raw: str = ""
    quoted: bool = False

    def value(self, variables: Mapping[str, str] | None = None) -> str:
        """The word's text: variables from ``variables`` filled in, other expansions as
        written."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, Variable) and variables and part.name in variables:
                out.append(variables[part.name])
            else:
                out.append(part.source)
        return "".join(out)

    def is_dynamic(self, variables: Mapping[str, str] | None = None) -> bool:
        """Whether the value is only known when the line runs."""
        return any(
            isinstance(part, Substitution)
            or (isinstance(part, Variable) and not (variables and part.name in variables))
            for part in self.parts
        )

    def substitutions(self) -> list[Substitution]:
        """The substitutions inside the word."""
        return [part for part in self.parts if isinstance(part, Substitution)]


@dataclass(slots=True)
class Redirect:
    """A redirection: ``>``, ``>>``, ``<``, ``<<EOF`` (with its body), ``<<<``...

    Attributes:
        op: The operator, without the file descriptor number.
        target: The file (or here-document delimiter), if any.
        heredoc: The here-document body or the here-string, for ``<<``, ``<<-`` and ``<<<``.
    """

    op: str
    target: Word | None
    heredoc: str | None = None


@dataclass(slots=True)
class SimpleCommand:
    """Words and redirections between two control operators."""

    words: list[Word]
    redirects: list[Redirect]
    text: str


@dataclass(slots=True)
class Group:
    """A subshell ``( ... )``."""

    script: Script
    text: str


@dataclass(slots=True)
class Pipeline:
    """Commands joined by ``|``: each stage's output is the next one's input."""

    stages: list[SimpleCommand | Group]
    text: str


@dataclass(slots=True)
class Script:
    """A list of pipelines (joined by ``;``, ``&&``, ``||``, ``&`` or newlines).

    Attributes:
        pipelines: In source order.
        problems: What could not be read (only on the outermost script).
    """

    pipelines: list[Pipeline] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_REDIRECT = re.compile(r"(\d*)(<<<|<<-|<<|<>|<&|>>|>&|>\||&>>|&>|<|>)")
_WORD_END = frozenset(" \t\n;&|()<>")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_SPECIAL_PARAMETER = frozenset("0123456789@*#?$!-")
_ANSI_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|.)")
_ANSI_SIMPLE = dict(zip("ntrabeEfv\\'\"?", "\n\t\r\a\b\x1b\x1b\f\v\\'\"?", strict=True))


def _decode_ansi(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "xuU" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8))
        return _ANSI_SIMPLE.get(code, "\\" + code)

    try:
        return _ANSI_ESCAPE.sub(one, text)
    except (ValueError, OverflowError):
        return codecs.decode(text, "unicode_escape", errors="replace")


class _WordBuilder:
    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.buffer: list[str] = []
        self.quoted = False

    def text(self, value: str) -> None:
        self.buffer.append(value)

    def add(self, part: Variable | Substitution) -> None:
        self._flush()
        self.parts.append(part)

    def _flush(self) -> None:
        if self.buffer:
            self.parts.append("".join(self.buffer))
            self.buffer.clear()

    def word(self, raw: str) -> Word:
        self._flush()
        return Word(self.parts, raw, self.quoted)

    def current(self) -> str:
        return "".join(part if isinstance(part, str) else part.source for part in self.parts) + (
            "".join(self.buffer)
        )


class _Parser:
    def __init__(self, source: str, problems: list[str], nesting: int = 0) -> None:
        self.s = source
        self.i = 0
        self.problems = problems
        self.nesting = nesting
        self.pending: list[tuple[Redirect, str, bool]] = []

    def problem(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def parse(self, closer: str | None) -> Script:
        script = Script()
        stages: list[SimpleCommand | Group] = []
        words: list[Word] = []
        redirects: list[Redirect] = []
        starts = {"command": -1, "pipeline": -1}
        s = self.s

        def mark() -> None:
            if starts["pipeline"] < 0:
                starts["pipeline"] = self.i
            if starts["command"] < 0:
                starts["command"] = self.i

        def end_command() -> None:
            if words or redirects:
                text = s[starts["command"] : self.i].strip()
                stages.append(SimpleCommand(list(words), list(redirects), text))
            words.clear()
            redirects.clear()
            starts["command"] = -1

        def end_pipeline() -> None:
            end_command()
            if stages:
                text = s[starts["pipeline"] : self.i].strip()
                script.pipelines.append(Pipeline(list(stages), text))
            stages.clear()
            starts["pipeline"] = -1

        while True:
            self._skip_blanks()
            if self.i >= len(s):
                if closer is not None:
                    self.problem("a `(` is never closed")
                end_pipeline()
                return script
            c = s[self.i]
            if c == "#" and (self.i == 0 or s[self.i - 1] in " \t\n;&|()"):
                newline = s.find("\n", self.i)
                self.i = len(s) if newline == -1 else newline
                continue
            if c == "\n":
                end_pipeline()
                self.i += 1
                self._read_heredocs()
                continue
            if c == ")":
                end_pipeline()
                self.i += 1
                if closer == ")":
                    return script
                self.problem("a `)` has no matching `(`")
                continue
            if c == "(":
                if not words and not redirects:
                    mark()
                    if s.startswith("((", self.i):
                        self.i = self._skip_balanced(self.i)
                        continue
                    start = self.i
                    group = self._nested()
                    stages.append(Group(group, s[start : self.i]))
                    starts["command"] = -1
                    continue
                after = self.i + 1
                while after < len(s) and s[after] in " \t":
                    after += 1
                if after < len(s) and s[after] == ")":  # `name ()`: a function definition
                    self.i = after + 1
                    words.clear()
                    redirects.clear()
                    starts["command"] = -1
                    continue
                self.problem("a `(` appears where bash does not allow one")
                self.i += 1
                continue
            redirect = self._redirect(mark)
            if redirect is not None:
                redirects.append(redirect)
                continue
            if c in ";&|":
                if s.startswith(("|", "|&"), self.i) and not s.startswith("||", self.i):
                    end_command()
                    self._operator()
                    continue
                end_pipeline()
                self._operator()
                continue
            mark()
            words.append(self._word())

    def _skip_blanks(self) -> None:
        s = self.s
        while self.i < len(s):
            if s[self.i] in " \t":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            else:
                break

    def _operator(self) -> str:
        for operator in ("&&", "||", ";;&", ";;", ";&", "|&", ";", "&", "|"):
            if self.s.startswith(operator, self.i):
                self.i += len(operator)
                return operator
        self.i += 1  # pragma: no cover - the caller checked the first character
        return self.s[self.i - 1]

    def _skip_balanced(self, start: int) -> int:
        """The index after the `)` that closes the `(` at ``start`` (quotes skipped)."""
        depth = 0
        i = start
        s = self.s
        while i < len(s):
            c = s[i]
            if c == "\\":
                i += 2
                continue
            if c == "'":
                end = s.find("'", i + 1)
                i = len(s) if end == -1 else end + 1
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        self.problem("a `(` is never closed")
        return len(s)

    def _nested(self) -> Script:
        """The commands from the `(` at the current position to its `)`."""
        if self.nesting >= _NESTING_LIMIT:
            self.problem("substitutions are nested too deeply to read")
            self.i = self._skip_balanced(self.i)
            return Script()
        self.i += 1
        self.nesting += 1
        try:
            return self.parse(")")
        finally:
            self.nesting -= 1

    def _redirect(self, mark: Callable[[], None]) -> Redirect | None:
        match = _REDIRECT.match(self.s, self.i)
        if match is None:
            return None
        fd, op = match.group(1), match.group(2)
        if op in ("<", ">") and self.s.startswith("(", match.end()):
            return None  # a process substitution: a word
        if fd and self.i > 0 and self.s[self.i - 1] not in " \t\n;&|()":
            return None
        mark()
        self.i = match.end()
        self._skip_blanks()
        if self.i >= len(self.s) or self.s[self.i] in "\n;&|()":
            self.problem(f"the redirection `{op}` has no target")
            return Redirect(op, None)
        target = self._word()
        redirect = Redirect(op, target)
        if op in ("<<", "<<-"):
            redirect.heredoc = ""
            self.pending.append((redirect, target.value(), op == "<<-"))
        elif op == "<<<":
            redirect.heredoc = target.value()
        return redirect

    def _read_heredocs(self) -> None:
        s = self.s
        while self.pending:
            redirect, delimiter, strip_tabs = self.pending.pop(0)
            lines: list[str] = []
            while self.i < len(s):
                end = s.find("\n", self.i)
                end = len(s) if end == -1 else end
                line = s[self.i : end]
                self.i = min(end + 1, len(s))
                if strip_tabs:
                    line = line.lstrip("\t")
                if line == delimiter:
                    break
                lines.append(line)
            redirect.heredoc = "\n".join(lines)

    def _word(self) -> Word:
        s = self.s
        start = self.i
        builder = _WordBuilder()
        while self.i < len(s):
            c = s[self.i]
            if c in "<>" and s.startswith("(", self.i + 1):
                source_start = self.i
                self.i += 1
                script = self._nested()
                builder.add(Substitution(c + "(", script, s[source_start : self.i]))
                continue
            if c == "(":
                so_far = builder.current()
                if (so_far and so_far[-1] in "@!+*?") or re.fullmatch(r"[A-Za-z_]\w*\+?=", so_far):
                    end = self._skip_balanced(self.i)  # an extended glob or an array
                    builder.text(s[self.i : end])
                    self.i = end
                    continue
            if c in _WORD_END:
                break
            if c == "\\":
                if s.startswith("\\\n", self.i):
                    self.i += 2
                    continue
                builder.quoted = True
                builder.text(s[self.i + 1 : self.i + 2])
                self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                builder.quoted = True
                if end == -1:
                    self.problem("a single quote is never closed")
                    builder.text(s[self.i + 1 :])
                    self.i = len(s)
                else:
                    builder.text(s[self.i + 1 : end])
                    self.i = end + 1
            elif c == '"':
                builder.quoted = True
                self.i += 1
                self._double_quoted(builder)
            elif c == "$":
                self._dollar(builder)
            elif c == "`":
                self._backquote(builder)
            else:
                builder.text(c)
                self.i += 1
        return builder.word(s[start : self.i])

    def _double_quoted(self, builder: _WordBuilder) -> None:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == '"':
                self.i += 1
                return
            if c == "\\" and self.i + 1 < len(s):
                following = s[self.i + 1]
                if following == "\n":
                    pass
                elif following in '$`"\\':
                    builder.text(following)
                else:
                    builder.text("\\" + following)
                self.i += 2
            elif c == "$":
                self._dollar(builder)
            elif c == "`":
                self._backquote(builder)
            else:
                builder.text(c)
                self.i += 1
        self.problem("a double quote is never closed")

    def _dollar(self, builder: _WordBuilder) -> None:
        s = self.s
        start = self.i
        following = s[self.i + 1 : self.i + 2]
        if following == "(":
            if s.startswith("$((", self.i):
                end = self._skip_balanced(self.i + 1)
                builder.text(s[start:end])
                self.i = end
                return
            self.i += 1
            script = self._nested()
            builder.add(Substitution("$(", script, s[start : self.i]))
        elif following == "{":
            depth = 0
            end = self.i + 1
            while end < len(s):
                if s[end] == "{":
                    depth += 1
                elif s[end] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                end += 1
            if end >= len(s):
                self.problem("a `${` is never closed")
            inner = s[self.i + 2 : end]
            self.i = min(end + 1, len(s))
            name = re.match(r"[#!]?([A-Za-z_]\w*|\d+|[@*#?$!-])", inner)
            if "$(" in inner or "`" in inner:
                nested = _Parser(inner, self.problems, self.nesting + 1).parse(None)
                builder.add(Substitution("${", nested, s[start : self.i]))
            builder.add(Variable(name.group(1) if name else inner, s[start : self.i]))
        elif following == "'":
            builder.quoted = True
            i = self.i + 2
            while i < len(s) and s[i] != "'":
                i += 2 if s[i] == "\\" else 1
            if i >= len(s):
                self.problem("a single quote is never closed")
            builder.text(_decode_ansi(s[self.i + 2 : min(i, len(s))]))
            self.i = min(i + 1, len(s))
        elif following == '"':
            builder.quoted = True
            self.i += 2
            self._double_quoted(builder)
        elif following and (following == "_" or following.isalpha()):
            match = _NAME.match(s, self.i + 1)
            assert match is not None
            self.i = match.end()
            builder.add(Variable(match.group(), s[start : self.i]))
        elif following and following in _SPECIAL_PARAMETER:
            self.i += 2
            builder.add(Variable(following, s[start : self.i]))
        else:
            builder.text("$")
            self.i += 1

    def _backquote(self, builder: _WordBuilder) -> None:
        s = self.s
        start = self.i
        self.i += 1
        inner: list[str] = []
        while self.i < len(s) and s[self.i] != "`":
            if s[self.i] == "\\" and s[self.i + 1 : self.i + 2] in ("`", "$", "\\"):
                inner.append(s[self.i + 1])
                self.i += 2
                continue
            inner.append(s[self.i])
            self.i += 1
        if self.i >= len(s):
            self.problem("a backquote is never closed")
        self.i = min(self.i + 1, len(s))
        script = _Parser("".join(inner), self.problems, self.nesting + 1).parse(None)
        builder.add(Substitution("`", script, s[start : self.i]))


def parse_script(line: str) -> Script:
    """Read a shell line (bash grammar) into pipelines, commands and words; never fails.

    Args:
        line: The command line, possibly several lines long (here-documents included).

    Returns:
        The script; ``problems`` lists what could not be read (an unclosed quote, a stray
        parenthesis), in which case the commands are a best effort.
    """
    problems: list[str] = []
    script = _Parser(line, problems).parse(None)
    script.problems = problems
    return script


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
                if equals and _NAME.fullmatch(variable):
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
