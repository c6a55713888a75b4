"""Count the words of a text file and print the most frequent ones."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

_EDGE_PUNCTUATION = "\"'.,;:!?()[]{}<>-_*`"


def count_words(text: str) -> Counter[str]:
    """Count words case-insensitively, ignoring punctuation at word edges."""
    words = (word.strip(_EDGE_PUNCTUATION).lower() for word in text.split())
    return Counter(word for word in words if word)


def top_words(counts: Counter[str], n: int | None = None) -> list[tuple[str, int]]:
    """Words by descending count, ties alphabetically; the first ``n`` when given."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ordered if n is None else ordered[:n]
