"""The model catalog: every model specloom knows, its provider, prices and credit multiplier.

A ``ModelEntry`` says where a model lives (``provider``, the provider's ``model_name``, an
optional ``base_url``), what it can do (``Capabilities``), how big its context is, and what it
costs: USD per million input, output and cached-input tokens, and a credit multiplier (Kiro's
multipliers where Kiro offers the model: Claude Sonnet 1.3x, Opus 2.2x, Haiku 0.4x, DeepSeek
V3.2 0.25x, MiniMax M2.1 0.15x, Qwen3 Coder 0.05x; for the others, the list price relative to
Claude Sonnet's). Prices not written in an entry come from genai-prices' offline data
(``prices_ref``), looked up only when needed, as that data takes half a second to load.

``Catalog.load`` adds the entries of the settings' ``models`` list (user, then project) to the
built-in ones: an entry with a known id overrides the fields it names, a new id adds a model.
Besides catalog ids, ``provider:model-name`` (``ollama:llama3.2``, ``openrouter:qwen/qwen3-coder``)
names any model of a known provider.

May import: the standard library, ``specloom.errors`` and ``specloom.settings``; genai-prices
inside the functions that price.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from specloom.errors import UsageError
from specloom.settings import Settings

__all__ = [
    "PROVIDERS",
    "Capabilities",
    "Catalog",
    "ModelEntry",
    "Prices",
    "ProviderInfo",
]


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """How to reach a provider.

    Attributes:
        name: The provider id used in entries (``anthropic``, ``ollama``...).
        protocol: The wire protocol: ``openai``, ``anthropic``, ``google``, ``bedrock`` or
            ``local`` (the embedded model).
        key_env: Environment variables that can hold the API key, first found wins; empty
            for servers that need none.
        base_url: The default endpoint (settings' ``providers.<name>.base_url`` overrides it).
        local_server: A server the user runs (Ollama, vLLM...): usable when it answers.
        extra: The specloom extra that installs the provider's SDK, if one is needed.
        prices_provider: genai-prices' id for the provider, if it has one.
    """

    name: str
    protocol: str
    key_env: tuple[str, ...] = ()
    base_url: str | None = None
    local_server: bool = False
    extra: str | None = None
    prices_provider: str | None = None


PROVIDERS: dict[str, ProviderInfo] = {
    info.name: info
    for info in (
        ProviderInfo(
            "anthropic", "anthropic", ("ANTHROPIC_API_KEY",), None, prices_provider="anthropic"
        ),
        ProviderInfo("openai", "openai", ("OPENAI_API_KEY",), None, prices_provider="openai"),
        ProviderInfo(
            "google",
            "google",
            ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            None,
            extra="google",
            prices_provider="google",
        ),
        ProviderInfo("bedrock", "bedrock", (), None, extra="bedrock", prices_provider="aws"),
        ProviderInfo(
            "deepseek",
            "openai",
            ("DEEPSEEK_API_KEY",),
            "https://api.deepseek.com/v1",
            prices_provider="deepseek",
        ),
        ProviderInfo(
            "minimax",
            "openai",
            ("MINIMAX_API_KEY",),
            "https://api.minimax.io/v1",
            prices_provider="minimax",
        ),
        ProviderInfo(
            "dashscope",
            "openai",
            ("DASHSCOPE_API_KEY",),
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        ),
        ProviderInfo(
            "openrouter",
            "openai",
            ("OPENROUTER_API_KEY",),
            "https://openrouter.ai/api/v1",
            prices_provider="openrouter",
        ),
        ProviderInfo("ollama", "openai", (), "http://127.0.0.1:11434/v1", local_server=True),
        ProviderInfo("vllm", "openai", (), "http://127.0.0.1:8000/v1", local_server=True),
        ProviderInfo("llamacpp", "openai", (), "http://127.0.0.1:8080/v1", local_server=True),
        ProviderInfo("openai-compatible", "openai", (), None),
        ProviderInfo("local", "local", (), None, extra="local"),
        ProviderInfo("custom", "custom", (), None),
    )
}


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a model can do.

    Attributes:
        tools: Calls tools (function calling).
        structured_output: Answers in a given JSON schema (natively or through a tool).
        vision: Reads images.
    """

    tools: bool = True
    structured_output: bool = True
    vision: bool = False


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per million tokens; ``None`` where unknown.

    Attributes:
        input: Uncached input tokens.
        output: Output tokens.
        cached_input: Input tokens read from the provider's prompt cache.
        source: ``"settings"``, ``"genai-prices"``, ``"free"`` or ``"unknown"``.
    """

    input: float | None = None
    output: float | None = None
    cached_input: float | None = None
    source: str = "unknown"

    @property
    def known(self) -> bool:
        """Whether input and output prices are both known."""
        return self.input is not None and self.output is not None

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float | None:
        """USD for one request; ``input_tokens`` includes the cached ones."""
        if self.input is None or self.output is None:
            return None
        cached_price = self.cached_input if self.cached_input is not None else self.input
        uncached = max(input_tokens - cached_tokens, 0)
        total = uncached * self.input + cached_tokens * cached_price + output_tokens * self.output
        return round(total / 1_000_000, 8)


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model of the catalog.

    Attributes:
        id: The id users type (``--model claude-sonnet-4-5``).
        provider: A key of ``PROVIDERS``.
        model_name: The provider's name for the model.
        description: One line for ``models list``.
        context_window: Tokens the model reads at most, if known.
        credit_multiplier: Credits per unit of work relative to the reference model (1.0).
        capabilities: What the model can do.
        prices: Explicit prices (settings), or empty to look them up in genai-prices.
        prices_ref: genai-prices' model reference, when it differs from ``model_name``.
        base_url: Endpoint override for this model.
        api_key_env: Environment variable holding the key, overriding the provider's.
        options: Provider-specific settings passed on to the model (``max_tokens``...).
    """

    id: str
    provider: str
    model_name: str
    description: str = ""
    context_window: int | None = None
    credit_multiplier: float = 1.0
    capabilities: Capabilities = field(default_factory=Capabilities)
    prices: Prices = field(default_factory=Prices)
    prices_ref: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def provider_info(self) -> ProviderInfo:
        """The entry's provider."""
        return PROVIDERS[self.provider]

    def resolved_prices(self) -> Prices:
        """Explicit prices, else genai-prices' current ones, else unknown; free for local."""
        if self.prices.known:
            return self.prices
        if self.provider in ("local",) or self.provider_info.local_server:
            return Prices(0.0, 0.0, 0.0, source="free")
        looked_up = _genai_prices(
            self.provider_info.prices_provider, self.prices_ref or self.model_name
        )
        return looked_up or self.prices

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float | None:
        """USD for one request, or ``None`` if the prices are unknown."""
        return self.resolved_prices().cost(input_tokens, output_tokens, cached_tokens)

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data (prices resolved)."""
        prices = self.resolved_prices()
        return {
            "id": self.id,
            "provider": self.provider,
            "model_name": self.model_name,
            "description": self.description,
            "context_window": self.context_window,
            "credit_multiplier": self.credit_multiplier,
            "capabilities": dataclasses.asdict(self.capabilities),
            "prices": {
                "input_per_mtok": prices.input,
                "output_per_mtok": prices.output,
                "cached_input_per_mtok": prices.cached_input,
                "source": prices.source,
            },
        }


@functools.lru_cache(maxsize=256)
def _genai_prices(provider_id: str | None, model_ref: str) -> Prices | None:
    """Current prices from genai-prices' offline snapshot, or ``None`` if it does not know."""
    if provider_id is None:
        return None
    try:
        from genai_prices import data_snapshot
    except ImportError:  # the package is a dependency of the model extras only
        return None
    try:
        _, model = data_snapshot.get_snapshot().find_provider_model(
            model_ref, None, provider_id, None
        )
    except LookupError:
        return None
    price = model.get_prices(datetime.now(UTC))

    def base(value: Any) -> float | None:
        if value is None:
            return None
        return float(getattr(value, "base", value))  # tiered prices: the first tier

    return Prices(
        base(price.input_mtok),
        base(price.output_mtok),
        base(price.cache_read_mtok),
        source="genai-prices",
    )


def _entry(
    id: str,
    provider: str,
    model_name: str,
    multiplier: float,
    description: str,
    *,
    context: int | None = None,
    vision: bool = False,
    tools: bool = True,
    prices_ref: str | None = None,
) -> ModelEntry:
    return ModelEntry(
        id=id,
        provider=provider,
        model_name=model_name,
        description=description,
        context_window=context,
        credit_multiplier=multiplier,
        capabilities=Capabilities(tools=tools, structured_output=True, vision=vision),
        prices_ref=prices_ref,
    )


BUILTIN: tuple[ModelEntry, ...] = (
    _entry(
        "claude-opus-4-5",
        "anthropic",
        "claude-opus-4-5",
        2.2,
        "Anthropic's most capable model",
        context=200_000,
        vision=True,
    ),
    _entry(
        "claude-sonnet-4-5",
        "anthropic",
        "claude-sonnet-4-5",
        1.3,
        "Anthropic's balanced coding model",
        context=200_000,
        vision=True,
    ),
    _entry(
        "claude-sonnet-4",
        "anthropic",
        "claude-sonnet-4-0",
        1.3,
        "The previous Claude Sonnet",
        context=200_000,
        vision=True,
    ),
    _entry(
        "claude-haiku-4-5",
        "anthropic",
        "claude-haiku-4-5",
        0.4,
        "Anthropic's fast, cheap model",
        context=200_000,
        vision=True,
    ),
    _entry(
        "gpt-5", "openai", "gpt-5", 0.9, "OpenAI's flagship model", context=400_000, vision=True
    ),
    _entry(
        "gpt-5-mini",
        "openai",
        "gpt-5-mini",
        0.2,
        "OpenAI's small GPT-5",
        context=400_000,
        vision=True,
    ),
    _entry("gpt-4.1", "openai", "gpt-4.1", 0.8, "OpenAI GPT-4.1", context=1_000_000, vision=True),
    _entry(
        "gemini-2.5-pro",
        "google",
        "gemini-2.5-pro",
        0.9,
        "Google's most capable Gemini",
        context=1_048_576,
        vision=True,
    ),
    _entry(
        "gemini-2.5-flash",
        "google",
        "gemini-2.5-flash",
        0.2,
        "Google's fast Gemini",
        context=1_048_576,
        vision=True,
    ),
    _entry(
        "bedrock-claude-sonnet-4-5",
        "bedrock",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        1.3,
        "Claude Sonnet 4.5 on AWS Bedrock",
        context=200_000,
        vision=True,
    ),
    _entry(
        "bedrock-claude-haiku-4-5",
        "bedrock",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        0.4,
        "Claude Haiku 4.5 on AWS Bedrock",
        context=200_000,
        vision=True,
    ),
    _entry(
        "deepseek-v3.2",
        "deepseek",
        "deepseek-chat",
        0.25,
        "DeepSeek V3.2, open weights, OpenAI-style API",
        context=128_000,
    ),
    _entry(
        "minimax-m2.1",
        "minimax",
        "MiniMax-M2.1",
        0.15,
        "MiniMax M2.1, open weights, OpenAI-style API",
        context=204_800,
        prices_ref="MiniMax-M2",
    ),
    _entry(
        "qwen3-coder",
        "dashscope",
        "qwen3-coder-plus",
        0.05,
        "Qwen3 Coder, open weights, OpenAI-style API",
        context=1_000_000,
    ),
    _entry(
        "openrouter-qwen3-coder",
        "openrouter",
        "qwen/qwen3-coder",
        0.05,
        "Qwen3 Coder through OpenRouter",
        context=262_144,
    ),
    _entry(
        "openrouter-claude-sonnet-4-5",
        "openrouter",
        "anthropic/claude-sonnet-4.5",
        1.3,
        "Claude Sonnet 4.5 through OpenRouter",
        context=1_000_000,
        vision=True,
    ),
    _entry(
        "ollama-qwen2.5-coder",
        "ollama",
        "qwen2.5-coder:7b",
        0.0,
        "Qwen2.5 Coder 7B on a local Ollama server",
        context=32_768,
    ),
    _entry(
        "vllm",
        "vllm",
        "Qwen/Qwen2.5-Coder-7B-Instruct",
        0.0,
        "A model served by a local vLLM server",
        context=32_768,
    ),
    _entry(
        "llamacpp-server",
        "llamacpp",
        "default",
        0.0,
        "A model served by a local llama.cpp server",
        context=8_192,
    ),
    _entry(
        "local",
        "local",
        "qwen2.5-coder-1.5b",
        0.0,
        "Embedded Qwen2.5-Coder-1.5B (offline, no key)",
        context=8_192,
    ),
    _entry(
        "local-0.5b",
        "local",
        "qwen2.5-coder-0.5b",
        0.0,
        "Embedded Qwen2.5-Coder-0.5B (offline, fast, no tool calls)",
        context=8_192,
        tools=False,
    ),
)


_ENTRY_FIELDS = {
    "provider", "model_name", "description", "context_window", "credit_multiplier",
    "capabilities", "input_price", "output_price", "cached_input_price", "prices_ref",
    "base_url", "api_key_env", "options", "id",
}  # fmt: skip


class Catalog:
    """The models specloom can use: the built-in entries plus the user's and the project's.

    Args:
        entries: The entries, in display order.
    """

    def __init__(self, entries: Iterable[ModelEntry]) -> None:
        self._entries: dict[str, ModelEntry] = {}
        for entry in entries:
            self._entries[entry.id] = entry

    @classmethod
    def load(cls, settings: Settings | None = None) -> Catalog:
        """The built-in catalog with the settings' ``models`` entries applied.

        Raises:
            SettingsError: An entry with an unknown field, provider or a value of the wrong
                type (the message names the file and line).
        """
        catalog = cls(BUILTIN)
        if settings is None:
            return catalog
        raw = settings.get("models", default=[])
        if not isinstance(raw, list):
            raise settings.error("`models` must be a list of model entries", "models")
        for index, item in enumerate(raw):
            catalog._apply(settings, index, item)
        return catalog

    def _apply(self, settings: Settings, index: int, item: Any) -> None:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise settings.error(f"model entry {index + 1} needs a string `id`", "models", index)
        model_id: str = item["id"]
        unknown = sorted(set(item) - _ENTRY_FIELDS)
        if unknown:
            raise settings.error(
                f"model entry {model_id!r} has unknown field(s) {', '.join(unknown)}",
                "models", index, unknown[0],
                hint=f"Known fields: {', '.join(sorted(_ENTRY_FIELDS))}.",
            )  # fmt: skip
        base = self._entries.get(model_id)
        provider = item.get("provider", base.provider if base else None)
        if provider not in PROVIDERS:
            raise settings.error(
                f"model entry {model_id!r}: unknown provider {provider!r}",
                "models", index, "provider",
                hint=f"Use one of: {', '.join(PROVIDERS)}.",
            )  # fmt: skip
        try:
            entry = _entry_from_settings(model_id, provider, item, base)
        except (TypeError, ValueError) as error:
            raise settings.error(
                f"model entry {model_id!r}: {error}",
                "models",
                index,
                str(error).split("`")[1] if "`" in str(error) else "id",
            ) from None
        self._entries[model_id] = entry

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._entries

    def get(self, model_id: str) -> ModelEntry:
        """The entry for an id, or for ``provider:model-name``.

        Raises:
            UsageError: The id is neither in the catalog nor ``provider:model-name`` with a
                known provider.
        """
        entry = self._entries.get(model_id)
        if entry is not None:
            return entry
        provider, sep, name = model_id.partition(":")
        if sep and name and provider in PROVIDERS and provider not in ("custom", "local"):
            return ModelEntry(id=model_id, provider=provider, model_name=name)
        known = ", ".join(sorted(self._entries))
        raise UsageError(
            f"unknown model {model_id!r}",
            hint=f"Use `auto`, one of {known}, `<provider>:<model name>` "
            "(providers: " + ", ".join(p for p in PROVIDERS if p not in ("custom", "local")) + ")"
            ", or `py:<module-or-file.py>:<attribute>`; `specloom models list` shows them all.",
        )


def _entry_from_settings(
    model_id: str, provider: str, item: Mapping[str, Any], base: ModelEntry | None
) -> ModelEntry:
    def value(name: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if name not in item:
            return default
        found = item[name]
        if found is not None and (
            not isinstance(found, kind) or isinstance(found, bool) and kind is not bool
        ):
            raise TypeError(f"`{name}` must be {_kind_name(kind)}, not {found!r}")
        return found

    number = (int, float)
    base_caps = base.capabilities if base else Capabilities()
    caps_raw = value("capabilities", dict, {})
    for key, flag in caps_raw.items():
        if key not in ("tools", "structured_output", "vision") or not isinstance(flag, bool):
            raise TypeError(
                "`capabilities` takes tools, structured_output and vision as true or false, "
                f"not {key}={flag!r}"
            )
    base_prices = base.prices if base else Prices()
    prices = Prices(
        value("input_price", number, base_prices.input),
        value("output_price", number, base_prices.output),
        value("cached_input_price", number, base_prices.cached_input),
        source="settings",
    )
    multiplier = value("credit_multiplier", number, base.credit_multiplier if base else 1.0)
    if multiplier < 0:
        raise ValueError("`credit_multiplier` must be zero or more")
    return ModelEntry(
        id=model_id,
        provider=provider,
        model_name=value("model_name", str, base.model_name if base else model_id),
        description=value("description", str, base.description if base else ""),
        context_window=value("context_window", int, base.context_window if base else None),
        credit_multiplier=float(multiplier),
        capabilities=dataclasses.replace(base_caps, **caps_raw),
        prices=prices if prices.known or prices != Prices(source="settings") else base_prices,
        prices_ref=value("prices_ref", str, base.prices_ref if base else None),
        base_url=value("base_url", str, base.base_url if base else None),
        api_key_env=value("api_key_env", str, base.api_key_env if base else None),
        options=value("options", dict, dict(base.options) if base else {}),
    )


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        int: "a whole number",
        float: "a number",
        str: "a string",
        dict: "an object",
        bool: "true or false",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return "a number" if float in kinds else " or ".join(names.get(k, k.__name__) for k in kinds)
