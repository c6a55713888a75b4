"""Near-duplicate detection for short texts: normalisation, token sets and a set-similarity join.

``near_duplicate_pairs`` finds every pair of token sets whose Jaccard similarity reaches a
threshold without comparing all pairs, and without missing any. Two algorithms, both exact:

* High thresholds (``>= 0.75``, the lint's case) use a pigeonhole partition join: two sets
  of sizes ``a <= b`` with Jaccard ``>= t`` differ in at most ``k(a)`` tokens, so if the token
  universe is split into ``k(a) + 1`` parts (by a hash of the token), they agree exactly on
  at least one part. Each set is filed under ``(a, part, its tokens in that part)`` for every
  size ``a`` it can pair with; only sets filed together are compared. The work is a few
  signatures per set, so it grows linearly with the number of sets (plus the candidates,
  which are few: a signature is several tokens, not one common word).
* Lower thresholds use the prefix-filtering join (All-Pairs, Bayardo et al. 2007, with the
  positional filter of PPJoin, Xiao et al. 2008): tokens ordered rarest first, two similar
  sets share a token among their first few, so only prefixes are probed. There, the partition
  join would need so many parts that most would be empty and match everything.

``tokens`` drops the EARS boilerplate (``WHEN``, ``THE``, ``SHALL``...) and a few function
words, so two criteria are not called similar only because both are well-formed EARS; it
keeps ``not``/``no``/``never``, which flip a requirement's meaning.

May import: the standard library only.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence, Set

__all__ = ["STOPWORDS", "jaccard", "near_duplicate_pairs", "normalize", "tokens"]

# A word, with inner dots, hyphens, slashes, colons and apostrophes kept (17.3, user-friendly,
# ideas.tags, don't), so that "17.3" and "1.73" stay different tokens.
_TOKEN = re.compile(r"\w+(?:['.\-/:]\w+)*")

STOPWORDS = frozenset(
    "a an the shall when while if where then and or of to in on for with by is are be it its "
    "that this as at from".split()
)

PARTITION_JOIN_THRESHOLD = 0.75
"""From this threshold up, ``near_duplicate_pairs`` uses the partition join."""

# Float slack so that, e.g., 0.85 * 20 (16.999...) still needs 17 shared tokens.
_EPSILON = 1e-9


def normalize(text: str) -> str:
    """Lower-case the text, drop punctuation between words and collapse white space.

    Args:
        text: Any text.

    Returns:
        The words of ``text`` joined by single spaces (``"WHEN x, THE y."`` gives
        ``"when x the y"``).
    """
    return " ".join(_TOKEN.findall(text.lower()))


def tokens(text: str) -> frozenset[str]:
    """The set of content words of a text, lower case, without ``STOPWORDS``.

    Args:
        text: Any text.

    Returns:
        The distinct words that carry meaning.
    """
    return frozenset(_TOKEN.findall(text.lower())) - STOPWORDS


def jaccard(first: Set[str], second: Set[str]) -> float:
    """Jaccard similarity of two sets: shared elements over all elements (0.0 for two empties).

    Args:
        first: A set.
        second: Another set.

    Returns:
        A number between 0.0 and 1.0.
    """
    if not first and not second:
        return 0.0
    shared = len(first & second)
    return shared / (len(first) + len(second) - shared)


def near_duplicate_pairs(
    token_sets: Sequence[Set[str]], threshold: float = 0.85
) -> list[tuple[int, int, float]]:
    """Every pair of sets whose Jaccard similarity is at least ``threshold``.

    Args:
        token_sets: The sets to compare (e.g. ``tokens(text)`` of each criterion). Empty
            sets are never similar to anything.
        threshold: Minimum Jaccard similarity, in ``(0, 1]``.

    Returns:
        ``(i, j, similarity)`` with ``i < j`` indexes into ``token_sets``, sorted by
        ``(i, j)``.

    Raises:
        ValueError: ``threshold`` is not in ``(0, 1]``.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], not {threshold!r}")
    if threshold >= PARTITION_JOIN_THRESHOLD:
        return _partition_join(token_sets, threshold)
    return _prefix_join(token_sets, threshold)


def _max_distance(size: int, threshold: float) -> int:
    """The most tokens a set of ``size`` can differ by from a set at least as large and similar.

    For sizes ``a <= b`` and Jaccard ``>= t``: the overlap is at least ``t (a + b) / (1 + t)``,
    so the symmetric difference is at most ``(a + b) (1 - t) / (1 + t)``, largest at the
    largest partner, ``b = a / t``.
    """
    largest = math.floor(size / threshold + _EPSILON)
    return math.floor((size + largest) * (1.0 - threshold) / (1.0 + threshold) + _EPSILON)


def _partition_join(
    token_sets: Sequence[Set[str]], threshold: float
) -> list[tuple[int, int, float]]:
    """The pigeonhole partition join (see the module docstring); exact for any threshold."""
    token_ids: dict[str, int] = {}
    # Part of a token for a given number of parts, from a multiplicative hash of its id.
    mixed: list[int] = []
    buckets: defaultdict[tuple[int, int, tuple[int, ...]], list[int]] = defaultdict(list)
    parts_for: dict[int, int] = {}
    for index, token_set in enumerate(token_sets):
        size = len(token_set)
        if not size:
            continue
        ids = []
        for token in token_set:
            token_id = token_ids.get(token)
            if token_id is None:
                token_id = token_ids[token] = len(mixed)
                mixed.append((token_id * 2_654_435_761 >> 7) & 0xFFFF_FFFF)
            ids.append(token_id)
        ids.sort()
        for partner_size in range(max(1, math.ceil(threshold * size - _EPSILON)), size + 1):
            parts = parts_for.get(partner_size)
            if parts is None:
                parts = parts_for[partner_size] = _max_distance(partner_size, threshold) + 1
            if parts == 1:
                buckets[(partner_size, 0, tuple(ids))].append(index)
                continue
            groups: list[list[int]] = [[] for _ in range(parts)]
            for token_id in ids:
                groups[mixed[token_id] % parts].append(token_id)
            for part, group in enumerate(groups):
                buckets[(partner_size, part, tuple(group))].append(index)
    checked: set[tuple[int, int]] = set()
    pairs: list[tuple[int, int, float]] = []
    for members in buckets.values():
        if len(members) < 2:
            continue
        for position, first in enumerate(members):
            mine = token_sets[first]
            for second in members[position + 1 :]:
                if (first, second) in checked:
                    continue
                checked.add((first, second))
                theirs = token_sets[second]
                shared = len(mine & theirs)
                similarity = shared / (len(mine) + len(theirs) - shared)
                if similarity >= threshold - _EPSILON:
                    pairs.append((first, second, similarity))
    pairs.sort()
    return pairs


def _prefix_join(token_sets: Sequence[Set[str]], threshold: float) -> list[tuple[int, int, float]]:
    """The prefix-filtering join with the length and positional filters (module docstring)."""
    frequency = Counter(token for token_set in token_sets for token in token_set)
    rank = {
        token: position
        for position, token in enumerate(sorted(frequency, key=lambda t: (frequency[t], t)))
    }
    # Shortest first: every indexed set is then at most as long as the one being probed, so
    # the length filter needs only a lower bound and the index prefix can be shorter.
    records = sorted(
        (
            (sorted(rank[token] for token in token_set), original)
            for original, token_set in enumerate(token_sets)
            if token_set
        ),
        key=lambda record: len(record[0]),
    )
    sizes = [len(ranked) for ranked, _ in records]
    rank_sets = [frozenset(ranked) for ranked, _ in records]
    overlap_share = threshold / (1.0 + threshold)
    # token -> [(record position, position of the token in that record)], sizes ascending.
    index: dict[int, list[tuple[int, int]]] = {}
    skipped: dict[int, int] = {}  # token -> how many leading postings are too short for good
    pairs: list[tuple[int, int, float]] = []
    for position, (ranked, original) in enumerate(records):
        size = sizes[position]
        min_size = math.ceil(threshold * size - _EPSILON)
        overlaps: dict[int, int] = {}
        for offset, token in enumerate(ranked[: size - min_size + 1]):
            postings = index.get(token)
            if postings is None:
                continue
            first = skipped.get(token, 0)
            while first < len(postings) and sizes[postings[first][0]] < min_size:
                first += 1
            skipped[token] = first
            for other, other_offset in postings[first:]:
                seen = overlaps.get(other, 0)
                if seen < 0:
                    continue
                other_size = sizes[other]
                needed = math.ceil(overlap_share * (size + other_size) - _EPSILON)
                # Positional filter: even if every later token matched, could it reach `needed`?
                rest = min(size - offset, other_size - other_offset) - 1
                overlaps[other] = seen + 1 if seen + 1 + rest >= needed else -1
        mine = rank_sets[position]
        for other, seen in overlaps.items():
            if seen <= 0:
                continue
            theirs = rank_sets[other]
            shared = len(mine & theirs)
            similarity = shared / (size + len(theirs) - shared)
            if similarity >= threshold - _EPSILON:
                low, high = sorted((original, records[other][1]))
                pairs.append((low, high, similarity))
        index_length = size - math.ceil(2.0 * overlap_share * size - _EPSILON) + 1
        for offset, token in enumerate(ranked[:index_length]):
            index.setdefault(token, []).append((position, offset))
    pairs.sort()
    return pairs
