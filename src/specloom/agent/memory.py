"""Persistent memory: short rules learned from review feedback, added to later prompts.

A rule is one imperative sentence of at most ``MAX_RULE_CHARS`` characters ("Use pathlib
instead of os.path."). Rules live in two scopes: ``project`` (``.kiro/.specloom/memory.sqlite3``,
for this project only) and ``user`` (``memory.sqlite3`` in the user data dir, for every
project). Prompts get the project's rules, then the user's, oldest first (a stable order
keeps the prompt's prefix cacheable), up to a size cap (``memory_for_prompt``).

Storage is sqlite, like the rest of specloom's state, rather than a markdown file: rules are
added by parallel workers and by ``memory learn`` while the user edits them, so adds must be
atomic across processes (WAL, one ``BEGIN IMMEDIATE`` per add, which also makes the duplicate
check race-free); ids must stay stable for ``memory remove``; and each rule keeps its source
and date. What a team wants reviewed and shared through git belongs in a steering file
(``.kiro/steering/``), which every prompt already reads; ``memory list`` shows the rules in
full and ``--json`` exports them.

A rule is not added twice: an exact duplicate (same words, case and punctuation aside) or a
near duplicate (Jaccard similarity of content words at least ``NEAR_DUPLICATE``, and both
or neither negated) of a rule in either scope is reported instead.

``learn_from_review`` distils review comments (a GitHub pull-request review export, as from
``gh api repos/OWNER/REPO/pulls/N/comments`` or ``gh pr view N --json reviews,comments``, or
plain text or markdown) into rules with a model, through ``specloom.llm.structured``, and
adds the new, generalizable ones with the file as their source. Secrets are redacted from
the comments before they reach the model and from rules before they are stored.

May import: the standard library, pydantic, ``specloom.errors``, ``specloom.settings``,
``specloom.workspace``, ``specloom.spec.similarity``, ``specloom.agent.redact`` and (inside
``learn_from_review``) ``specloom.llm.structured``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from specloom.agent.redact import Redactor
from specloom.errors import SpecNotFoundError, UsageError, WorkspaceError
from specloom.settings import STATE_DIR, state_dir, user_data_dir
from specloom.spec.similarity import jaccard, normalize, tokens
from specloom.statedb import SqliteStore
from specloom.workspace import read_text

if TYPE_CHECKING:
    from pydantic_ai.models import Model

__all__ = [
    "MAX_RULE_CHARS",
    "MEMORY_NAME",
    "NEAR_DUPLICATE",
    "PROMPT_CAP",
    "SCOPES",
    "AddResult",
    "LearnResult",
    "LearnedRule",
    "LearnedRules",
    "Memory",
    "MemoryRule",
    "MemoryScope",
    "MemoryStore",
    "ReviewComment",
    "clean_rule",
    "format_memory",
    "learn_from_review",
    "learn_rules",
    "memory_block",
    "memory_for_prompt",
    "read_review_file",
    "review_chunks",
]

MemoryScope = Literal["project", "user"]
SCOPES: tuple[MemoryScope, ...] = ("project", "user")
MEMORY_NAME = "memory.sqlite3"
SCHEMA_VERSION = 1
MAX_RULE_CHARS = 200
"""The longest rule; longer guidance belongs in a steering file."""
NEAR_DUPLICATE = 0.75
"""Jaccard similarity of content words from which two rules are the same rule."""
PROMPT_CAP = 2_000
"""Characters of rules ``memory_for_prompt`` returns at most."""
REVIEW_CHUNK_CHARS = 6_000
"""Characters of review comments sent to the model per request (fits a 4k-token context)."""

_NEGATIONS = frozenset({"not", "no", "never", "don't", "dont", "avoid", "without", "nor"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    normalized TEXT NOT NULL,
    source TEXT,
    created TEXT NOT NULL
);
"""

_DAMAGED_HINT = (
    "Move the file aside (specloom starts an empty memory) and keep the old one if you need "
    "its rules."
)


@dataclass(frozen=True, slots=True)
class MemoryRule:
    """One remembered rule.

    Attributes:
        id: Its id within its scope (stable; never reused).
        scope: ``project`` or ``user``.
        text: The rule, one imperative sentence.
        source: Where it came from (a review file), or ``None`` when added by hand.
        created: When it was added (UTC).
    """

    id: int
    scope: MemoryScope
    text: str
    source: str | None
    created: datetime

    def to_dict(self) -> dict[str, object]:
        """The rule as a JSON-ready mapping."""
        return {
            "id": self.id,
            "scope": self.scope,
            "text": self.text,
            "source": self.source,
            "created": self.created.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class AddResult:
    """What adding a rule did.

    Attributes:
        text: The rule as it was to be added (cleaned and redacted).
        rule: The rule stored, or ``None`` when it was a duplicate.
        duplicate_of: The existing rule it repeats, or ``None`` when it was added.
        similarity: Jaccard similarity to ``duplicate_of`` (1.0 for an exact duplicate).
    """

    text: str
    rule: MemoryRule | None = None
    duplicate_of: MemoryRule | None = None
    similarity: float = 0.0

    @property
    def added(self) -> bool:
        """Whether the rule was stored."""
        return self.rule is not None

    def to_dict(self) -> dict[str, object]:
        """The result as a JSON-ready mapping."""
        return {
            "text": self.text,
            "added": self.added,
            "rule": self.rule.to_dict() if self.rule else None,
            "duplicate_of": self.duplicate_of.to_dict() if self.duplicate_of else None,
            "similarity": round(self.similarity, 3),
        }


def clean_rule(text: str) -> str:
    """A rule as it is stored: one line, white space collapsed, no list bullet.

    Raises:
        UsageError: The rule is empty or longer than ``MAX_RULE_CHARS``.
    """
    rule = " ".join(text.split())
    rule = re.sub(r"^(?:[-*+]|\d+[.)])(?:\s+|$)", "", rule)
    if not rule:
        raise UsageError("a memory rule cannot be empty.", hint='Give the rule: "Use ...".')
    if len(rule) > MAX_RULE_CHARS:
        raise UsageError(
            f"a memory rule is at most {MAX_RULE_CHARS} characters (this one has {len(rule)}).",
            hint="Split it into shorter rules, or put longer guidance in a steering file "
            "(.kiro/steering/).",
        )
    return rule


def _similarity(first: str, second: str) -> float:
    if normalize(first) == normalize(second):
        return 1.0
    mine, theirs = tokens(first), tokens(second)
    if bool(mine & _NEGATIONS) != bool(theirs & _NEGATIONS):
        return 0.0  # "Use print" and "Never use print" share words, not meaning
    return jaccard(mine, theirs)


def _closest(text: str, rules: Sequence[MemoryRule]) -> tuple[MemoryRule, float] | None:
    best: tuple[MemoryRule, float] | None = None
    for rule in rules:
        similarity = _similarity(text, rule.text)
        if similarity >= NEAR_DUPLICATE and (best is None or similarity > best[1]):
            best = (rule, similarity)
    return best


class MemoryStore(SqliteStore):
    """The rules of one scope, in one sqlite file (created on the first add).

    Args:
        path: The sqlite file.
        scope: The scope it holds.

    Raises:
        StateFileError: (on use) the file is not a memory file, is damaged, or was written
            by a newer specloom.
    """

    schema = _SCHEMA
    schema_version = SCHEMA_VERSION
    damaged_hint = _DAMAGED_HINT
    newer_hint = "Upgrade specloom, or move the file aside to start an empty memory."

    def __init__(self, path: Path, scope: MemoryScope) -> None:
        super().__init__(path)
        self.scope: MemoryScope = scope

    @property
    def what(self) -> str:
        """ "The project memory" or "the user memory", for messages."""
        return f"the {self.scope} memory"

    def _rule_of(self, row: tuple[Any, ...]) -> MemoryRule:
        rule_id, text, source, created = row
        return MemoryRule(
            int(rule_id), self.scope, str(text), source, datetime.fromisoformat(str(created))
        )

    def rules(self) -> list[MemoryRule]:
        """The rules, oldest first (none if the file does not exist yet)."""
        if self._connection is None and not self.path.exists():
            return []
        with self._cursor() as connection:
            rows = connection.execute(
                "SELECT id, text, source, created FROM rules ORDER BY id"
            ).fetchall()
        return [self._rule_of(row) for row in rows]

    def add(
        self, text: str, *, source: str | None = None, others: Sequence[MemoryRule] = ()
    ) -> AddResult:
        """Add a rule unless it repeats one of this store's or one of ``others``.

        The check and the insert are one transaction, so two processes adding the same rule
        at once store it once.

        Args:
            text: The rule, already cleaned (``clean_rule``).
            source: Where it came from.
            others: Rules of other scopes to check against too.
        """
        with self._cursor() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                rows = connection.execute(
                    "SELECT id, text, source, created FROM rules ORDER BY id"
                ).fetchall()
                closest = _closest(text, [*others, *(self._rule_of(row) for row in rows)])
                if closest is not None:
                    connection.execute("COMMIT")
                    return AddResult(text, None, closest[0], closest[1])
                created = datetime.now(UTC)
                cursor = connection.execute(
                    "INSERT INTO rules (text, normalized, source, created) VALUES (?, ?, ?, ?)",
                    (text, normalize(text), source, created.isoformat()),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        rule = MemoryRule(int(cursor.lastrowid or 0), self.scope, text, source, created)
        return AddResult(text, rule)

    def remove(self, rule_id: int) -> MemoryRule:
        """Remove a rule and return it.

        Raises:
            SpecNotFoundError: No rule has this id.
        """
        missing = SpecNotFoundError(
            f"the {self.scope} memory has no rule {rule_id}.",
            hint="`specloom memory list` shows the rules and their ids.",
        )
        if self._connection is None and not self.path.exists():
            raise missing
        with self._cursor() as connection:
            row = connection.execute(
                "SELECT id, text, source, created FROM rules WHERE id = ?", (rule_id,)
            ).fetchone()
            if row is None:
                raise missing
            connection.execute("DELETE FROM rules WHERE id = ?", (rule_id,))
        return self._rule_of(row)


class Memory:
    """The rules of both scopes: the project's (when there is a project) and the user's.

    Args:
        root: The project root, or ``None`` outside a project (user scope only).
        user_dir: Where the user's memory lives (default: the user data dir).
        redactor: What removes secrets from rules (default: this process's environment
            and the project's ``.env`` files).
    """

    def __init__(
        self,
        root: Path | None,
        *,
        user_dir: Path | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.root = root
        self._redactor = redactor
        self._stores: dict[MemoryScope, MemoryStore] = {
            "user": MemoryStore((user_dir or user_data_dir()) / MEMORY_NAME, "user")
        }
        if root is not None:
            self._stores["project"] = MemoryStore(root / STATE_DIR / MEMORY_NAME, "project")

    @property
    def redactor(self) -> Redactor:
        """The redactor rules pass through (made on first use)."""
        if self._redactor is None:
            self._redactor = Redactor.from_environment(self.root)
        return self._redactor

    def close(self) -> None:
        """Close both stores."""
        for store in self._stores.values():
            store.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def default_scope(self) -> MemoryScope:
        """``project`` inside a project, ``user`` outside."""
        return "project" if self.root is not None else "user"

    def store(self, scope: MemoryScope) -> MemoryStore:
        """The store of one scope.

        Raises:
            UsageError: An unknown scope.
            WorkspaceError: ``project`` outside a project.
        """
        if scope not in SCOPES:
            raise UsageError(f"unknown memory scope {scope!r}.", hint="Use project or user.")
        store = self._stores.get(scope)
        if store is None:
            raise WorkspaceError(
                "there is no project here for project memory.",
                hint="Run the command inside a project (a folder with .kiro/), or use "
                "--scope user.",
            )
        return store

    def rules(self, scope: MemoryScope | None = None) -> list[MemoryRule]:
        """The rules of one scope, or of both (project first), oldest first."""
        scopes: list[MemoryScope] = (
            [scope] if scope is not None else [name for name in SCOPES if name in self._stores]
        )
        return [rule for name in scopes for rule in self.store(name).rules()]

    def add(
        self, text: str, *, scope: MemoryScope | None = None, source: str | None = None
    ) -> AddResult:
        """Add a rule unless it repeats one in either scope.

        Args:
            text: The rule (cleaned and redacted here).
            scope: Where to add it (default: ``default_scope``).
            source: Where it came from.

        Raises:
            UsageError: An empty or overlong rule, or an unknown scope.
            WorkspaceError: ``project`` outside a project.
        """
        target = scope or self.default_scope
        store = self.store(target)
        rule = clean_rule(self.redactor.text(text))
        others = [
            other
            for name in SCOPES
            if name in self._stores and name != target
            for other in self._stores[name].rules()
        ]
        if target == "project" and self.root is not None:
            state_dir(self.root)  # the folder with its .gitignore, before the file appears
        return store.add(rule, source=source, others=others)

    def remove(self, rule_id: int, *, scope: MemoryScope | None = None) -> MemoryRule:
        """Remove a rule of one scope (default: ``default_scope``) and return it.

        Raises:
            SpecNotFoundError: The scope has no rule with this id.
        """
        return self.store(scope or self.default_scope).remove(rule_id)

    def for_prompt(self, max_chars: int = PROMPT_CAP) -> list[MemoryRule]:
        """The rules a prompt includes: project then user, oldest first, while they fit.

        Args:
            max_chars: The most characters of rule text (plus a bullet and newline each).
        """
        chosen: list[MemoryRule] = []
        used = 0
        for rule in self.rules():
            cost = len(rule.text) + 3
            if used + cost > max_chars:
                break
            chosen.append(rule)
            used += cost
        return chosen


def memory_for_prompt(
    root: Path | None, *, max_chars: int = PROMPT_CAP, user_dir: Path | None = None
) -> list[MemoryRule]:
    """The remembered rules a prompt for a project includes (see ``Memory.for_prompt``).

    Raises:
        StateFileError: A memory file is damaged.
    """
    with Memory(root, user_dir=user_dir) as memory:
        return memory.for_prompt(max_chars)


def format_memory(rules: Sequence[MemoryRule]) -> str:
    """The rules as a block for a prompt, or ``""`` when there are none."""
    if not rules:
        return ""
    lines = ["Rules learned from earlier reviews of this work (follow them):"]
    lines += [f"- {rule.text}" for rule in rules]
    return "\n".join(lines) + "\n"


def memory_block(
    root: Path | None, *, max_chars: int = PROMPT_CAP, user_dir: Path | None = None
) -> str:
    """``format_memory(memory_for_prompt(root))``: the block later prompts include."""
    return format_memory(memory_for_prompt(root, max_chars=max_chars, user_dir=user_dir))


# --- learning from review comments -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewComment:
    """One review comment.

    Attributes:
        body: What the reviewer wrote.
        author: Who wrote it, if known.
        path: The file it is about, if any.
        line: The line it is about, if known.
    """

    body: str
    author: str | None = None
    path: str | None = None
    line: int | None = None

    def render(self) -> str:
        """The comment as the model reads it: a location line, then the text."""
        where = f"{self.path}:{self.line}" if self.path and self.line else self.path or ""
        who = f"({self.author})" if self.author else ""
        head = " ".join(part for part in (where, who) if part)
        return f"[{head}]\n{self.body}" if head else self.body


class LearnedRule(BaseModel):
    """A rule distilled from review comments."""

    text: str = Field(
        min_length=3,
        max_length=MAX_RULE_CHARS,
        description="One short imperative sentence a coding agent can follow in future "
        "changes, e.g. 'Use pathlib instead of os.path for file paths.'",
    )
    generalizable: bool = Field(
        description="True if the rule applies to future changes of the project; false if it "
        "only concerns the reviewed change (a typo, one variable's name, a question)."
    )


class LearnedRules(BaseModel):
    """The rules that review comments teach."""

    rules: list[LearnedRule] = Field(
        default_factory=list,
        max_length=30,
        description="The rules, one per distinct lesson; empty if the comments teach none.",
    )


_INSTRUCTIONS = (
    "You turn code review comments into short rules that a coding agent must follow in "
    "future changes of the same project. Each rule is one imperative sentence of at most "
    f"{MAX_RULE_CHARS} characters about how to write code, tests or documentation here "
    "(for example: 'Use pathlib instead of os.path for file paths.'). Merge comments that "
    "teach the same lesson into one rule. Leave out praise, thanks, questions and replies. "
    "Mark a rule generalizable=false when it only concerns the reviewed change (a typo, the "
    "name of one variable). Return an empty list if the comments teach nothing."
)


@dataclass(slots=True)
class LearnResult:
    """What ``learn_from_review`` did.

    Attributes:
        source: The review file, as stored with the rules.
        comments: How many comments were read.
        added: The rules added.
        duplicates: Rules the model proposed that memory already held.
        specific: Rules the model marked as specific to the reviewed change (not added).
        requests: Model requests made.
    """

    source: str
    comments: int
    added: list[MemoryRule] = field(default_factory=list)
    duplicates: list[AddResult] = field(default_factory=list)
    specific: list[str] = field(default_factory=list)
    requests: int = 0

    def to_dict(self) -> dict[str, object]:
        """The result as a JSON-ready mapping."""
        return {
            "source": self.source,
            "comments": self.comments,
            "added": [rule.to_dict() for rule in self.added],
            "duplicates": [result.to_dict() for result in self.duplicates],
            "specific": list(self.specific),
            "requests": self.requests,
        }


def _comments_in(value: Any, found: list[ReviewComment]) -> None:
    if isinstance(value, list):
        for item in value:
            _comments_in(item, found)
        return
    if not isinstance(value, dict):
        return
    body = value.get("body")
    if isinstance(body, str) and body.strip():
        author = value.get("user") or value.get("author")
        login = author.get("login") if isinstance(author, dict) else author
        line = value.get("line") or value.get("original_line")
        path = value.get("path")
        found.append(
            ReviewComment(
                body.strip(),
                login if isinstance(login, str) else None,
                path if isinstance(path, str) else None,
                line if isinstance(line, int) and not isinstance(line, bool) else None,
            )
        )
    for key, item in value.items():
        if key != "body":
            _comments_in(item, found)


_EXPORT_HINT = (
    "Give a review export (gh api repos/OWNER/REPO/pulls/N/comments > review.json, or "
    "gh pr view N --json reviews,comments > review.json) or a text or markdown file."
)


def read_review_file(path: Path) -> list[ReviewComment]:
    """The comments of a review export (JSON) or of a text or markdown file.

    JSON is read when the file ends in ``.json`` or its text parses as JSON: every object
    with a non-empty ``body`` is a comment (its author from ``user.login`` or
    ``author.login``, its ``path`` and ``line``), at any depth, so REST exports, ``gh pr
    view`` exports and GraphQL review threads all work. Other files are split into
    paragraphs.

    Raises:
        SpecNotFoundError: The file does not exist.
        UsageError: The file is not valid JSON (for ``.json``) or holds no comments.
        SpecSyntaxError: The file is not UTF-8 text.
    """
    if not path.is_file():
        raise SpecNotFoundError(
            "the review file does not exist." if not path.exists() else "this is not a file.",
            file=path,
            hint=_EXPORT_HINT,
        )
    text = read_text(path)
    comments: list[ReviewComment] = []
    data: Any = None
    is_json = False
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        try:
            data, is_json = json.loads(text), True
        except json.JSONDecodeError as error:
            if path.suffix.lower() == ".json":
                raise UsageError(
                    f"the review export is not valid JSON: {error.msg}.",
                    file=path,
                    line=error.lineno,
                    column=error.colno,
                    hint=_EXPORT_HINT,
                ) from None
    if is_json:
        _comments_in(data, comments)
        unique = list(dict.fromkeys(comments))
        if not unique:
            raise UsageError(
                "the review export holds no comments (no object with a non-empty `body`).",
                file=path,
                hint=_EXPORT_HINT,
            )
        return unique
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", text) if part.strip()]
    if not paragraphs:
        raise UsageError("the review file is empty.", file=path, hint=_EXPORT_HINT)
    return [ReviewComment(paragraph) for paragraph in paragraphs]


def review_chunks(
    comments: Sequence[ReviewComment], max_chars: int = REVIEW_CHUNK_CHARS
) -> list[str]:
    """The comments as prompt texts of at most about ``max_chars`` characters each.

    A comment longer than ``max_chars`` is cut to it; comments are never split between
    two chunks.
    """
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for comment in comments:
        text = comment.render()[:max_chars]
        if current and size + len(text) + 2 > max_chars:
            chunks.append("\n\n".join(current))
            current, size = [], 0
        current.append(text)
        size += len(text) + 2
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def _check_rules(value: LearnedRules) -> list[str]:
    problems: list[str] = []
    for index, rule in enumerate(value.rules, 1):
        if "\n" in rule.text.strip():
            problems.append(f"rule {index} spans several lines; write one sentence")
    return problems


def learn_rules(
    comments: Sequence[ReviewComment],
    memory: Memory,
    *,
    model: Model,
    source: str,
    scope: MemoryScope | None = None,
) -> LearnResult:
    """Distil review comments into rules with ``model`` and add the new, general ones.

    Args:
        comments: The comments (from ``read_review_file``).
        memory: Where the rules go.
        model: The model (from ``specloom.llm.session.open_model_session``).
        source: Where the comments came from, stored with each rule.
        scope: The scope to add to (default: ``memory.default_scope``).

    Raises:
        ModelRequestError: The model gave no valid answer.
        BudgetExceededError: A spending cap was reached.
        WorkspaceError: ``project`` scope outside a project (before any request).
    """
    from specloom.llm.structured import generate_sync

    memory.store(scope or memory.default_scope)
    result = LearnResult(source, len(comments))
    proposed: list[str] = []
    for chunk in review_chunks(comments):
        prompt = (
            "Review comments, one per paragraph (a bracketed line says where and who):\n\n"
            + memory.redactor.text(chunk)
        )
        generated = generate_sync(
            LearnedRules, prompt, model=model, instructions=_INSTRUCTIONS, check=_check_rules
        )
        result.requests += generated.requests
        for learned in generated.value.rules:
            if learned.generalizable:
                proposed.append(learned.text)
            else:
                result.specific.append(" ".join(learned.text.split()))
    for text in proposed:
        try:
            outcome = memory.add(text, scope=scope, source=source)
        except UsageError:
            continue  # empty once cleaned, or too long once redacted: not a usable rule
        if outcome.rule is not None:
            result.added.append(outcome.rule)
        else:
            result.duplicates.append(outcome)
    return result


def learn_from_review(
    path: Path,
    memory: Memory,
    *,
    model: Model,
    scope: MemoryScope | None = None,
    source: str | None = None,
) -> LearnResult:
    """``learn_rules`` over the comments of a review file.

    Args:
        path: The review export or text file.
        memory: Where the rules go.
        model: The model.
        scope: The scope to add to (default: ``memory.default_scope``).
        source: The source stored with the rules (default: ``str(path)``).

    Raises:
        SpecNotFoundError: The file does not exist.
        UsageError: The file cannot be read as review comments.
        ModelRequestError: The model gave no valid answer.
        BudgetExceededError: A spending cap was reached.
    """
    comments = read_review_file(path)
    return learn_rules(comments, memory, model=model, source=source or str(path), scope=scope)
