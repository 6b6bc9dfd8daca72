"""Which languages a model folder says it can do, read the way CTranslate2 decides it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from live_progress.plugins.audio.parameters import check_language, model_languages
from live_progress.plugins.audio.shared import default_model_path
from live_progress.web.errors import InputError


def _model(folder: Path, vocabulary: int, languages: list[str]) -> str:
    """A model folder's vocabulary.txt and config.json (no weights: the web never reads them)."""
    folder.mkdir()
    tokens = [f"t{n}" for n in range(vocabulary)]
    first = 50259
    for offset, code in enumerate(languages):
        tokens[first + offset] = f"<|{code}|>"
    (folder / "vocabulary.txt").write_text("\n".join(tokens) + "\n")
    (folder / "config.json").write_text(json.dumps({"lang_ids": list(range(first, first + len(languages)))}))
    return str(folder)


def test_the_default_tiny_en_model_knows_english_only() -> None:
    assert (default_model_path() / "model.bin").exists()
    assert model_languages(None) == frozenset({"en"})


def test_a_multilingual_folder_knows_the_languages_of_its_lang_ids(tmp_path: Path) -> None:
    model = _model(tmp_path / "small", 51_865, ["en", "zh", "de", "haw"])

    assert model_languages(model) == frozenset({"en", "zh", "de", "haw"})
    check_language("haw", model)
    with pytest.raises(InputError, match="'xx'"):
        check_language("xx", model)


def test_an_english_only_folder_has_a_smaller_vocabulary(tmp_path: Path) -> None:
    model = _model(tmp_path / "base.en", 51_864, ["en", "zh", "de"])

    assert model_languages(model) == frozenset({"en"})
    with pytest.raises(InputError, match="parameters.language has value 'de'"):
        check_language("de", model)


@pytest.mark.parametrize(("name", "known"), [("small.en", frozenset({"en"})), ("large-v3", None)])
def test_a_model_name_is_judged_by_its_name_alone(name: str, known: frozenset[str] | None) -> None:
    assert model_languages(name) == known


def test_auto_is_always_allowed() -> None:
    check_language("auto", None)
