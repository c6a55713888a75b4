"""Tests for wordfreq. Feature: word-frequency"""

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from wordfreq import count_words, top_words


def test_counts_words_case_insensitively():
    """Validates: Requirements 1.1, 1.2"""
    assert count_words("The cat saw the dog") == Counter(
        {"the": 2, "cat": 1, "saw": 1, "dog": 1}
    )


def test_strips_edge_punctuation():
    # Validates: Requirements 1.3
    assert count_words('"Hello," she said. Hello!') == Counter({"hello": 2, "she": 1, "said": 1})


def test_empty_text_gives_empty_count():
    # Validates: Requirements 1.4
    assert count_words("") == Counter()


@given(st.text())
def test_property_counts_add_up(text):
    """Property 1: Counts add up. Validates: Requirements 1.1, 1.4"""
    words = [w for w in text.split() if w.strip("\"'.,;:!?()[]{}<>-_*`")]
    assert sum(count_words(text).values()) == len(words)


@given(st.dictionaries(st.text(min_size=1), st.integers(min_value=1), max_size=20),
       st.none() | st.integers(min_value=0, max_value=25))
def test_property_ordering_is_total(counts, n):
    """Property 3: Ordering is total. Validates: Requirements 2.1, 2.2"""
    result = top_words(Counter(counts), n)
    keys = [(-count, word) for word, count in result]
    assert keys == sorted(keys)
    assert len(result) == (len(counts) if n is None else min(n, len(counts)))
