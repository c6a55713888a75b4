"""Secret redaction: API keys, tokens, passwords and ``.env`` values out of what gets written.

Everything the audit log stores (summaries, tool arguments, tool results, errors) goes
through a ``Redactor`` first. It removes three kinds of secrets:

* Known key formats, wherever they appear: OpenAI (``sk-...``) and Anthropic
  (``sk-ant-...``) keys, AWS access key ids (``AKIA...``) and secret keys written next to
  their name, GitHub (``ghp_``, ``gho_``, ``github_pat_``...), Slack (``xoxb-``...), Google,
  Stripe, Hugging Face, GitLab and npm tokens, ``Bearer``/``Basic`` credentials, JWTs,
  private key blocks, and the password of URLs with ``user:password@``.
* Values assigned to a name that says they are secret: ``password=...``, ``token: ...``,
  ``"api_key": "..."``, and in nested JSON the value of any key so named. Placeholders and
  code that merely names a secret (``password: str``, ``token = os.environ[...]``,
  ``${API_KEY}``) are kept, so the log of an agent writing such code stays readable.
* Literal values the process knows to be secret: the current values of environment
  variables whose names end in ``_KEY``, ``_TOKEN``, ``_SECRET`` or ``PASSWORD`` (at least
  eight characters), and the values of the project's ``.env`` and ``.env.*`` files (values
  of secret-looking names from six characters, others from eight unless they are plainly
  not secret: numbers, booleans, single words such as ``production``, local URLs, paths).

Each secret becomes ``[REDACTED]``; a name written before it (``password=``, ``Bearer``,
the user of a URL) is kept, so a reader still sees what was there.

May import: the standard library only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "REDACTED",
    "Redactor",
    "dotenv_secrets",
    "environment_secrets",
    "is_secret_name",
    "read_dotenv",
]

REDACTED = "[REDACTED]"
"""What a secret is replaced with."""

ENV_SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "PASSWORD")
"""Environment variables whose names end in one of these hold secrets."""
ENV_SECRET_MIN_LENGTH = 8
"""Shorter environment values are not redacted (they would match ordinary text)."""
DOTENV_SECRET_MIN_LENGTH = 6
"""Values of secret-looking names in ``.env`` files are redacted from this length."""

_Replace = Callable[[re.Match[str]], str]

# Names that say their value is secret, as the end of a longer name (DB_PASSWORD,
# github_token, x-api-key) or on their own. `pwd` only in assignments (ODBC's `PWD=`): as a
# key it is as often the working directory.
_SECRET_WORDS = (
    r"password|passwd|passphrase|secret|token|api[_\-]?key|apikey|access[_\-]?key|"
    r"private[_\-]?key|auth|credentials?|authorization|cookie"
)
_SECRET_NAME = re.compile(rf"(?:{_SECRET_WORDS})$", re.IGNORECASE)

# Values that name or stand for a secret rather than being one.
_PLACEHOLDER = re.compile(
    r"""(?ix)
    ^(?:
        none|null|nil|undefined|true|false|required|optional|
        str|string|bytes|int|bool|any|secretstr|secretbytes|optional\[.*|
        \*+|x{3,}|\.{3}|…|
        <[^>]*>|\$\{?[a-z_][a-z0-9_]*\}?|\{\{.*\}\}|%\(?[a-z_]*\)?s|
        \[redacted\]
    )$
    """
)
# `os.environ`, `self.password`, `settings.api_key`: code that reads a secret.
_REFERENCE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")

_PLAIN_VALUE = re.compile(
    r"""(?ix)
    ^(?:
        true|false|yes|no|on|off|none|null|
        [\d.:_\-+]+|
        [a-z]+(?:[\-_][a-z]+)*|
        (?:[a-z][a-z0-9+.\-]*://)?(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::\d+)?(?:/\S*)?|
        [~.]?/[\w./\-]*
    )$
    """
)

_KEY_PATTERNS: tuple[str, ...] = (
    # Private key blocks, terminated or cut off (a truncated tool result).
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
    r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    # JSON Web Tokens: base64url header and payload of JSON objects, then the signature.
    r"(?<![\w\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
    r"sk-ant-[A-Za-z0-9_\-]{16,}",  # distinctive enough to match glued to other text
    r"(?<![\w\-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
    r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
    r"(?<![A-Za-z0-9_])(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}",
    r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,}",
    r"(?<![A-Za-z0-9_])xox[abposr]-[A-Za-z0-9\-]{10,}",
    r"(?<![A-Za-z0-9_])AIza[0-9A-Za-z_\-]{35}",
    r"(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
    r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}",
    r"(?<![A-Za-z0-9_])glpat-[A-Za-z0-9_\-]{20,}",
    r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}",
)

_URL_CREDENTIALS = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://)([^\s:/?#@\"']+):([^\s/?#@\"']+)@")
_AWS_SECRET = re.compile(
    r"(?i)(aws[_\-. ]?secret[_\-. ]?(?:access[_\-. ]?)?key(?:[_\-. ]?id)?[\"'\\]*[ \t]*[:=][ \t]*"
    r"[\"'\\]*)([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
_AUTHORIZATION_HEADER = re.compile(
    r"(?i)((?<![A-Za-z0-9])(?:proxy-)?authorization[\"'\\]*[ \t]*[:=][ \t]*[\"'\\]*)"
    r"(?:([A-Za-z]+)([ \t]+))?([^\s\"'\\,;]+)"
)
_HTTP_CREDENTIALS = re.compile(r"(?i)\b(bearer|basic)([ \t]+)([A-Za-z0-9\-._~+/]+=*)")
_ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?<![A-Za-z0-9])
    (?P<name>[A-Za-z0-9_.\-]*(?:{_SECRET_WORDS}|pwd))
    (?P<separator>(?:\\?["'])?[ \t]*(?::=|=>|:|=)[ \t]*)
    (?:
        (?P<quote>\\?["'])(?P<quoted>[^"'\\\n]*)(?P=quote)
        |(?P<bare>[^\s"'\\,;&<>(){{}}\[\]]++)
    )
    """
)


def is_secret_name(name: str) -> bool:
    """Whether a variable, key or field name says its value is secret.

    Args:
        name: ``DB_PASSWORD``, ``api_key``, ``x-api-key``, ``max_tokens``...

    Returns:
        ``True`` for names ending in a secret word (``password``, ``token``, ``api_key``,
        ``secret``, ``authorization``...), ``False`` otherwise (``max_tokens`` is not one).
    """
    return bool(_SECRET_NAME.search(name.strip().strip("\"'")))


def _is_placeholder(value: str) -> bool:
    value = value.strip()
    return not value or bool(_PLACEHOLDER.match(value)) or bool(_REFERENCE.match(value))


def environment_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """The values of environment variables whose names say they are secret.

    Args:
        environ: The environment (default: ``os.environ`` now).

    Returns:
        Values of variables named ``*_KEY``, ``*_TOKEN``, ``*_SECRET`` or ``*PASSWORD`` that
        are at least ``ENV_SECRET_MIN_LENGTH`` characters long.
    """
    environ = os.environ if environ is None else environ
    return {
        value
        for name, value in environ.items()
        if name.upper().endswith(ENV_SECRET_SUFFIXES) and len(value) >= ENV_SECRET_MIN_LENGTH
    }


def read_dotenv(text: str) -> dict[str, str]:
    """The variables of a ``.env`` file.

    Reads ``NAME=value`` lines, with ``export`` in front or not, values in single or double
    quotes or bare (a `` #`` after a bare value starts a comment); other lines are skipped.

    Args:
        text: The file's text.

    Returns:
        Each name and its value, in file order.
    """
    variables: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", name):
            continue
        value = value.strip()
        if value[:1] in ("'", '"'):
            end = value.find(value[0], 1)
            value = value[1:end] if end > 0 else value[1:]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
        variables[name] = value
    return variables


def dotenv_secrets(root: Path) -> set[str]:
    """The values in a project's ``.env`` and ``.env.*`` files worth redacting.

    Args:
        root: The project root.

    Returns:
        Values of secret-looking names from ``DOTENV_SECRET_MIN_LENGTH`` characters, and
        values of other names from ``ENV_SECRET_MIN_LENGTH`` characters unless they are
        plainly not secret (numbers, booleans, single words, local URLs, paths). Files that
        cannot be read are skipped.
    """
    secrets: set[str] = set()
    for path in sorted(root.glob(".env*")):
        if not (path.name == ".env" or path.name.startswith(".env.")) or not path.is_file():
            continue
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            continue
        for name, value in read_dotenv(text).items():
            if is_secret_name(name) or name.upper().endswith(ENV_SECRET_SUFFIXES):
                if len(value) >= DOTENV_SECRET_MIN_LENGTH and not _is_placeholder(value):
                    secrets.add(value)
            elif len(value) >= ENV_SECRET_MIN_LENGTH and not _PLAIN_VALUE.match(value):
                secrets.add(value)
    return secrets


def _keep_name(group: int) -> _Replace:
    def replace(match: re.Match[str]) -> str:
        return match.group(group) + REDACTED

    return replace


def _authorization_header(match: re.Match[str]) -> str:
    name, scheme, space, credential = match.group(1, 2, 3, 4)
    if _is_placeholder(credential) or credential.startswith(REDACTED):
        return match.group(0)
    return name + (scheme + space if scheme else "") + REDACTED


def _http_credentials(match: re.Match[str]) -> str:
    value = match.group(3)
    if len(value) < 8 or (len(value) < 20 and not re.search(r"[\d+/=_\-.]", value)):
        return match.group(0)  # "Bearer of bad news", "basic authentication"
    return match.group(1) + match.group(2) + REDACTED


def _assignment(match: re.Match[str]) -> str:
    quoted = match.group("quoted")
    value = quoted if quoted is not None else match.group("bare")
    if value is None or _is_placeholder(value) or REDACTED in value:
        return match.group(0)
    if quoted is None:
        following = match.string[match.end() : match.end() + len(REDACTED) + 2]
        if following[:1] in ("(", "[") or len(value) < 3:
            return match.group(0)  # a call or subscript (`getpass()`, `env["X"]`), or prose
        if following.lstrip(" \t").startswith(REDACTED):
            return match.group(0)  # an auth scheme (`Bearer`) whose credential is gone already
        return match.group("name") + match.group("separator") + REDACTED
    quote = match.group("quote")
    return match.group("name") + match.group("separator") + quote + REDACTED + quote


class Redactor:
    """Replaces secrets in text and in nested JSON-like values with ``[REDACTED]``.

    Args:
        secrets: Literal values to redact wherever they appear (shorter than four
            characters are ignored: they would match ordinary text).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(value for value in secrets if len(value) >= 4)
        self._literal = (
            re.compile("|".join(re.escape(v) for v in sorted(self.secrets, key=len, reverse=True)))
            if self.secrets
            else None
        )
        self._rules: list[tuple[re.Pattern[str], str | _Replace]] = [
            (re.compile(pattern), REDACTED) for pattern in _KEY_PATTERNS
        ]
        self._rules += [
            (_URL_CREDENTIALS, lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@"),
            (_AWS_SECRET, _keep_name(1)),
            (_AUTHORIZATION_HEADER, _authorization_header),
            (_HTTP_CREDENTIALS, _http_credentials),
            (_ASSIGNMENT, _assignment),
        ]

    @classmethod
    def from_environment(
        cls, root: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> Redactor:
        """A redactor for the secrets this process can see.

        Args:
            root: The project root, whose ``.env`` files are read (``None``: none).
            environ: The environment (default: ``os.environ`` now).
        """
        secrets = environment_secrets(environ)
        if root is not None:
            secrets |= dotenv_secrets(root)
        return cls(secrets)

    def text(self, text: str) -> str:
        """``text`` with every secret replaced."""
        if self._literal is not None:
            text = self._literal.sub(REDACTED, text)
        for pattern, replacement in self._rules:
            text = pattern.sub(replacement, text)
        return text

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value (dicts, lists, strings, numbers) with secrets replaced.

        Strings are redacted as text; the string or number under a key with a secret name
        (``"password"``, ``"api_key"``, ``"Authorization"``...) is replaced whole unless it is
        a placeholder. Tuples and sets become lists; keys are kept as they are.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            redacted: dict[Any, Any] = {}
            for key, item in value.items():
                if (
                    isinstance(key, str)
                    and is_secret_name(key)
                    and isinstance(item, str | int | float)
                    and not isinstance(item, bool)
                    and not _is_placeholder(str(item))
                ):
                    redacted[key] = REDACTED
                else:
                    redacted[key] = self.value(item)
            return redacted
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(item) for item in value]
        return value

    def __call__(self, text: str) -> str:
        """Same as ``text``."""
        return self.text(text)
