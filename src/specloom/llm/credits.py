"""Credits: a provider-neutral unit of model spend, the way Kiro bills its plans.

A request's credits are its token volume, weighted the way providers price tokens (cached
input reads at a tenth of fresh input, output at five times input), per 10,000 tokens, times the
model's credit multiplier (1.0 for the reference models; 0.25 for DeepSeek V3.2, 0.15 for MiniMax
M2.1, 0.05 for Qwen3 Coder; 0 for the embedded model, which costs nothing to run).

May import: the standard library only.
"""

from __future__ import annotations

__all__ = ["CACHED_WEIGHT", "OUTPUT_WEIGHT", "TOKENS_PER_CREDIT", "credits_for"]

TOKENS_PER_CREDIT = 10_000
"""Weighted tokens that make one credit at multiplier 1.0."""
CACHED_WEIGHT = 0.1
"""Weight of an input token read from the provider's cache."""
OUTPUT_WEIGHT = 5.0
"""Weight of an output token."""


def credits_for(
    input_tokens: int, output_tokens: int, cached_tokens: int = 0, multiplier: float = 1.0
) -> float:
    """Credits one request costs.

    Args:
        input_tokens: Input tokens, cached ones included.
        output_tokens: Output tokens.
        cached_tokens: The part of ``input_tokens`` read from the provider's cache.
        multiplier: The model's credit multiplier.

    Returns:
        The credits, rounded to 6 decimals; 0 for a zero multiplier.
    """
    cached = min(max(cached_tokens, 0), max(input_tokens, 0))
    fresh = max(input_tokens, 0) - cached
    weighted = fresh + CACHED_WEIGHT * cached + OUTPUT_WEIGHT * max(output_tokens, 0)
    return round(weighted / TOKENS_PER_CREDIT * multiplier, 6)
