"""The model catalog: built-in entries, prices, settings overrides, ids and availability."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from specloom.errors import SettingsError, UsageError
from specloom.llm.catalog import PROVIDERS, Catalog, Prices
from specloom.llm.providers import availability, base_url_for
from specloom.settings import PROJECT_SETTINGS, load_settings


def _settings(tmp_path: Path, data: object):  # noqa: ANN202 - Settings
    path = tmp_path / PROJECT_SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return load_settings(tmp_path, user_dir=tmp_path / "no-user-settings")


def test_builtin_catalog_has_every_provider_family_and_kiro_multipliers() -> None:
    catalog = Catalog.load()
    providers = {entry.provider for entry in catalog}
    assert {"anthropic", "openai", "google", "bedrock", "deepseek", "minimax", "openrouter",
            "ollama", "vllm", "llamacpp", "local"} <= providers  # fmt: skip
    multipliers = {entry.id: entry.credit_multiplier for entry in catalog}
    assert multipliers["claude-sonnet-4-5"] == 1.3
    assert multipliers["deepseek-v3.2"] == 0.25
    assert multipliers["minimax-m2.1"] == 0.15
    assert multipliers["qwen3-coder"] == 0.05
    assert multipliers["local"] == 0.0
    assert all(entry.provider in PROVIDERS for entry in catalog)


def test_prices_come_from_genai_prices_and_cost_counts_cached_tokens() -> None:
    sonnet = Catalog.load().get("claude-sonnet-4-5")
    prices = sonnet.resolved_prices()
    assert prices.source == "genai-prices"
    assert (prices.input, prices.output, prices.cached_input) == (3.0, 15.0, 0.3)
    # 1,000 input of which 400 cached, 100 output: 600*3 + 400*0.3 + 100*15 per million.
    assert sonnet.cost(1_000, 100, 400) == pytest.approx((600 * 3 + 400 * 0.3 + 100 * 15) / 1e6)
    assert Catalog.load().get("local").cost(5_000, 500) == 0.0
    assert Prices().cost(10, 10) is None


def test_settings_add_and_override_entries(tmp_path: Path) -> None:
    settings = _settings(tmp_path, {"models": [
        {"id": "gateway", "provider": "openai-compatible", "model_name": "internal-large",
         "base_url": "http://gateway.internal/v1", "api_key_env": "GATEWAY_KEY",
         "input_price": 1, "output_price": 2, "credit_multiplier": 0.5},
        {"id": "gpt-5", "credit_multiplier": 2, "capabilities": {"vision": False}},
    ]})  # fmt: skip
    catalog = Catalog.load(settings)
    gateway = catalog.get("gateway")
    assert (gateway.provider, gateway.model_name, gateway.credit_multiplier) == (
        "openai-compatible", "internal-large", 0.5
    )  # fmt: skip
    assert gateway.cost(1_000_000, 1_000_000) == 3.0
    assert gateway.resolved_prices().source == "settings"
    gpt5 = catalog.get("gpt-5")
    assert gpt5.credit_multiplier == 2.0
    assert gpt5.capabilities.vision is False and gpt5.capabilities.tools is True
    assert gpt5.resolved_prices().source == "genai-prices", "an override without prices keeps them"


@pytest.mark.parametrize(
    ("entry", "message", "key"),
    [
        ({"id": "x", "provider": "nowhere"}, "unknown provider", "provider"),
        ({"id": "x", "provider": "openai", "colour": "red"}, "unknown field", "colour"),
        ({"id": "x", "provider": "openai", "credit_multiplier": "cheap"}, "must be a number",
         "credit_multiplier"),
        ({"id": "x", "provider": "openai", "context_window": 1.5}, "whole number",
         "context_window"),
    ],
)  # fmt: skip
def test_bad_entries_name_the_file_and_line(
    tmp_path: Path, entry: dict[str, object], message: str, key: str
) -> None:
    settings = _settings(tmp_path, {"models": [entry]})
    with pytest.raises(SettingsError, match=message) as caught:
        Catalog.load(settings)
    path = tmp_path / PROJECT_SETTINGS
    assert caught.value.file == str(path)
    line = caught.value.line
    assert line is not None and f'"{key}"' in path.read_text().splitlines()[line - 1]


def test_provider_model_ids_and_unknown_ids() -> None:
    catalog = Catalog.load()
    entry = catalog.get("ollama:llama3.2")
    assert (entry.provider, entry.model_name) == ("ollama", "llama3.2")
    with pytest.raises(UsageError, match="unknown model") as caught:
        catalog.get("gpt-17")
    assert "specloom models list" in caught.value.render()
    with pytest.raises(UsageError):
        catalog.get("nowhere:model")


def test_availability_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = Catalog.load()
    sonnet = catalog.get("claude-sonnet-4-5")
    assert availability(sonnet) == availability(sonnet)  # no side effects
    state = availability(sonnet)
    assert not state.available and "ANTHROPIC_API_KEY" in state.reason
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert availability(sonnet).available

    # A local server: reachable only while something listens on its port.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    settings = _settings(
        tmp_path, {"providers": {"ollama": {"base_url": f"http://127.0.0.1:{port}/v1"}}}
    )
    ollama = catalog.get("ollama-qwen2.5-coder")
    assert base_url_for(ollama, settings) == f"http://127.0.0.1:{port}/v1"
    assert "not reachable" in availability(ollama, settings).reason
    listener.listen()
    try:
        assert availability(ollama, settings).available
    finally:
        listener.close()

    bedrock = catalog.get("bedrock-claude-sonnet-4-5")
    reason = availability(bedrock).reason
    assert "AWS" in reason or "specloom[bedrock]" in reason
