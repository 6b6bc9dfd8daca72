"""The benchmark's word error rate, against cases worked out by hand."""

from __future__ import annotations

import pytest

from bench.wer import edits, word_error_rate, words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("A hand-cranked generator.", ["a", "hand", "cranked", "generator"]),
        ("Isn't it? It\u2019s fine.", ["isn't", "it", "it's", "fine"]),
        ("  ", []),
    ],
)
def test_words_are_lower_case_without_punctuation(text: str, expected: list[str]) -> None:
    assert words(text) == expected


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("a b c", "a b c", 0),
        ("a b c", "a x c", 1),  # substitution
        ("a b c", "a c", 1),  # deletion
        ("a b c", "a b b c", 1),  # insertion
        ("a b c", "", 3),
        ("", "a b", 2),
        ("the cat sat on the mat", "cat sat on a mat today", 3),
    ],
)
def test_edits_counts_substitutions_deletions_and_insertions(reference: str, hypothesis: str, expected: int) -> None:
    assert edits(reference.split(), hypothesis.split()) == expected


def test_word_error_rate_is_edits_over_reference_words() -> None:
    assert word_error_rate("The cat sat on the mat.", "the cat sat on a mat") == pytest.approx(1 / 6)


def test_word_error_rate_needs_a_reference() -> None:
    with pytest.raises(ValueError, match="no words"):
        word_error_rate(" . ", "anything")
