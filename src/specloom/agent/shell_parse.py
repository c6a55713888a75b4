"""Reading bash's grammar without running anything: a command line as pipelines, commands
and words.

``parse_script(line)`` reads bash's grammar as far as the safety policy needs it: words
(quotes removed, ``$'...'`` decoded, variables and substitutions kept as parts),
redirections with here-documents, pipelines and lists, subshells, and function definitions.
It never fails: what it cannot read (an unclosed quote) becomes a problem in
``Script.problems``. The result is the syntax only; ``specloom.agent.shell`` walks it to find
the programs a line would run.

May import: the standard library only.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "VARIABLE_NAME",
    "Group",
    "Part",
    "Pipeline",
    "Redirect",
    "Script",
    "SimpleCommand",
    "Substitution",
    "Variable",
    "Word",
    "parse_script",
]

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
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
"""A shell variable's name (``$name``, ``name=value``)."""
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
            match = VARIABLE_NAME.match(s, self.i + 1)
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
