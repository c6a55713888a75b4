"""Secret redaction: each key format and assignment removed, look-alikes kept, JSON walked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specloom.agent.redact import (
    REDACTED,
    Redactor,
    dotenv_secrets,
    environment_secrets,
    is_secret_name,
    read_dotenv,
)

ANTHROPIC = "sk-ant-api03-" + "Ab3_" * 10
OPENAI = "sk-proj-" + "x9Y" * 12
AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_" + "a1B2" * 9
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

# (text, the secret that must disappear, what must stay)
SECRETS = [
    (f"export ANTHROPIC_API_KEY={ANTHROPIC}", ANTHROPIC, "ANTHROPIC_API_KEY="),
    (f"client = OpenAI(api_key='{OPENAI}')", OPENAI, "api_key='"),
    (f"the key {OPENAI} leaked", OPENAI, "the key"),
    (f"aws configure set key {AWS_ID}", AWS_ID, "aws configure set key"),
    (f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET, "aws_secret_access_key = "),
    (f'"AWS_SECRET_ACCESS_KEY": "{AWS_SECRET}"', AWS_SECRET, '"AWS_SECRET_ACCESS_KEY": "'),
    (f"git clone https://{GITHUB}@github.com/o/r", GITHUB, "github.com/o/r"),
    ("gho_" + "Z" * 36, "gho_" + "Z" * 36, ""),
    (
        "token github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "",
    ),
    ("SLACK=xoxb-2048-1234567890-AbCdEfGhIj", "xoxb-2048-1234567890-AbCdEfGhIj", "SLACK="),
    ("xoxp-0000000000-1111111111-abc", "xoxp-0000000000-1111111111-abc", ""),
    ("Authorization: Bearer abc.def-ghi_123456", "abc.def-ghi_123456", "Authorization: Bearer"),
    ('"Authorization": "Basic dXNlcjpwYXNzd29yZA=="', "dXNlcjpwYXNzd29yZA==", '"Basic '),
    ("authorization: token 0123456789abcdef", "0123456789abcdef", "authorization: token"),
    (f"cookie session {JWT}", JWT, "cookie session"),
    ("password=hunter22 then", "hunter22", "password="),
    ("DB_PASSWORD: 'correct horse battery'", "correct horse battery", "DB_PASSWORD: '"),
    ("https://api.example.com/v1?token=abc123def&page=2", "abc123def", "&page=2"),
    ('{"api_key": "live-9f8e7d6c"}', "live-9f8e7d6c", '"api_key": "'),
    ('{\\"password\\": \\"s3cr3t!!\\"}', "s3cr3t!!", '{\\"password\\": \\"'),
    ("Server=db;Uid=app;Pwd=Tr0ub4dor;", "Tr0ub4dor", "Uid=app;Pwd="),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----\nafter",
        "MIIEowIBAAKCAQEA7x",
        "after",
    ),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA (cut", "b3BlbnNzaC1", ""),
    ("postgres://admin:s3cr3t-pw@db.internal:5432/app", "s3cr3t-pw", "postgres://admin:"),
    ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSyA-1234567890abcdefghijklmnopqrstu", ""),
    ("stripe sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", ""),
    ("hf_" + "a" * 34, "hf_" + "a" * 34, ""),
]

LOOK_ALIKES = [
    "pip install scikit-learn; import sklearn as sk; sk-learn",
    "task-1234 and disk-usage",
    "max_tokens=2048, input_tokens: 12, tokens = 5",
    "def login(password: str, token: Optional[str] = None) -> None:",
    "password = os.environ['DB_PASSWORD']",
    "secret = getpass.getpass()",
    "api_key=${OPENAI_API_KEY}",
    'token = "<your token here>"',
    "password: None",
    "https://example.com:8080/users/me@home",
    "Bearer of bad news; basic authentication is disabled",
    "AKIAEXAMPLE is too short to be a key",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----",
    "author: Jane Doe",
    "eyJ alone is not a token",
    "The README explains how tokens are counted.",
]


@pytest.mark.parametrize(("text", "secret", "kept"), SECRETS)
def test_each_secret_form_is_redacted_and_its_name_kept(text: str, secret: str, kept: str) -> None:
    redacted = Redactor().text(text)

    assert secret not in redacted
    assert REDACTED in redacted
    assert kept in redacted


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_harmless_look_alikes_are_kept(text: str) -> None:
    assert Redactor().text(text) == text


def test_nested_json_values_are_redacted_and_the_input_is_untouched() -> None:
    value = {
        "tool": "run_command",
        "arguments": {
            "argv": ["curl", "-H", f"Authorization: Bearer {OPENAI}", "https://x.test"],
            "env": {"GITHUB_TOKEN": "plain-looking-value-123", "DEBUG": "1"},
        },
        "headers": [{"x-api-key": "abcdef123456"}, {"Accept": "application/json"}],
        "password": 12345678,
        "settings": {"max_tokens": 4096, "is_secret": True, "token": None, "auth": "${AUTH}"},
        "pair": ("api_key=live123abc", 3.5),
    }
    original = json.dumps(value)

    redacted = Redactor().value(value)

    assert json.dumps(value) == original
    text = json.dumps(redacted)
    for secret in (OPENAI, "plain-looking-value-123", "abcdef123456", "12345678", "live123abc"):
        assert secret not in text
    assert redacted["arguments"]["env"]["DEBUG"] == "1"
    assert redacted["headers"][1] == {"Accept": "application/json"}
    assert redacted["settings"] == {
        "max_tokens": 4096,
        "is_secret": True,
        "token": None,
        "auth": "${AUTH}",
    }
    assert redacted["pair"] == ["api_key=[REDACTED]", 3.5]
    assert redacted["arguments"]["argv"][2] == "Authorization: Bearer [REDACTED]"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("api_key", True),
        ("x-api-key", True),
        ("GITHUB_TOKEN", True),
        ("client_secret", True),
        ("Authorization", True),
        ("max_tokens", False),
        ("token_count", False),
        ("author", False),
        ("cwd", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_environment_secrets_follow_the_name_suffixes_and_a_minimum_length() -> None:
    environ = {
        "MY_SERVICE_KEY": "key-value-1234",
        "DEPLOY_TOKEN": "tok-5678-abcd",
        "APP_SECRET": "shhh-secret",
        "DB_PASSWORD": "pa55word!",
        "SHORT_TOKEN": "abc",
        "HOME": "/home/someone",
        "KEYBOARD": "us-international",
    }

    assert environment_secrets(environ) == {
        "key-value-1234",
        "tok-5678-abcd",
        "shhh-secret",
        "pa55word!",
    }


def test_environment_values_are_redacted_wherever_they_appear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERNAL_GATEWAY_TOKEN", "qwerty-uiop-42")

    redactor = Redactor.from_environment()

    assert redactor.text("ran with qwerty-uiop-42 as flag") == "ran with [REDACTED] as flag"


def test_read_dotenv_understands_quotes_exports_and_comments() -> None:
    text = (
        "# comment\n"
        "export API_KEY=abc123 # trailing comment\n"
        'QUOTED="value with # hash"\n'
        "SINGLE='single value'\n"
        "EMPTY=\n"
        "not a variable line\n"
        "URL=http://localhost:8000/path\n"
    )

    assert read_dotenv(text) == {
        "API_KEY": "abc123",
        "QUOTED": "value with # hash",
        "SINGLE": "single value",
        "EMPTY": "",
        "URL": "http://localhost:8000/path",
    }


def test_dotenv_values_of_the_project_are_redacted_but_plain_settings_kept(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        "STRIPE_KEY=rk_custom_9f8e7d\n"
        "SESSION_SIGNING=Zq8!vX2#mP\n"
        "NODE_ENV=production\n"
        "PORT=8000\n"
        "DEBUG=true\n"
        "DATABASE_HOST=http://localhost:5432/db\n"
        "LOG_DIR=/var/log/app\n",
        encoding="utf-8",
    )
    (tmp_path / ".env.local").write_text('EXTRA_PASSWORD="local-only-pw"\n', encoding="utf-8")
    (tmp_path / ".envrc").write_text("IGNORED_VALUE=not-a-dotenv-file-99\n", encoding="utf-8")

    secrets = dotenv_secrets(tmp_path)
    redacted = Redactor.from_environment(tmp_path, environ={}).text(
        "rk_custom_9f8e7d Zq8!vX2#mP local-only-pw production 8000 /var/log/app "
        "not-a-dotenv-file-99"
    )

    assert secrets == {"rk_custom_9f8e7d", "Zq8!vX2#mP", "local-only-pw"}
    assert redacted == (
        "[REDACTED] [REDACTED] [REDACTED] production 8000 /var/log/app not-a-dotenv-file-99"
    )


def test_a_dotenv_folder_is_not_read(tmp_path: Path) -> None:
    (tmp_path / ".env" / "bin").mkdir(parents=True)

    assert dotenv_secrets(tmp_path) == set()


_FRAGMENTS = [
    "password", "token", "api_key", "Authorization", "Bearer", " ", ":", "=", "\n", '"', "'",
    "\\", "sk-ant-", "abcdefghijklmnopqrstuvwxyz0123", "AKIA", "ABCDEFGHIJKLMNOP", "ghp_",
    "x" * 36, "eyJhbGciOiJIUzI1NiJ9", ".", "https://", "user", "@", "host", "(", "[",
    "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", REDACTED, "None", "hunter22",
    "os.environ", "{", "}", ",", "aws_secret_access_key", AWS_SECRET, "zk93-literal-secret",
]  # fmt: skip


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=16))
def test_redaction_is_idempotent_and_never_lets_a_known_secret_through(parts: list[str]) -> None:
    redactor = Redactor(["zk93-literal-secret"])
    text = "".join(parts)

    once = redactor.text(text)

    assert redactor.text(once) == once
    assert "zk93-literal-secret" not in once


@given(
    st.text(alphabet=" \n,;:()", max_size=5),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=20, max_size=40),
    st.text(alphabet=" \n,;:()", max_size=5),
)
def test_an_anthropic_key_between_any_separators_is_redacted(
    before: str, body: str, after: str
) -> None:
    key = "sk-ant-" + body

    assert key not in Redactor().text(before + key + after)
