"""Word error rate: word-level edit distance over the reference's length, after normalising."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation: "Hand-cranked, isn't it?" -> hand cranked isn't it."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def edits(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions, deletions and insertions that turn ``reference`` into ``hypothesis``."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref = words(reference)
    if not ref:
        raise ValueError("the reference has no words")
    return edits(ref, words(hypothesis)) / len(ref)
