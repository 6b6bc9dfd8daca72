"""The parameters of ``POST /audio/transcribe``: how they are checked and described.

The web never loads the speech model, so the languages it knows are read from the model
folder's files the way faster-whisper decides them (``WhisperModel.supported_languages``):
every Whisper language when the model is multilingual, else English only.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from live_progress import InputError
from live_progress.plugins.audio.shared import FORMATS, Format, Mode, default_model_path

# CTranslate2 takes a Whisper model for multilingual when its vocabulary has at least this
# many tokens (whisper.cc: is_multilingual); English-only models have 51864.
_MULTILINGUAL_VOCABULARY = 51_865


class TranscribeParameters(BaseModel):
    """RescueBox ``parameters`` of a transcription; every one optional."""

    model_config = ConfigDict(extra="forbid", strict=True)

    formats: list[Format] = ["txt"]
    language: str = "auto"
    mode: Mode = "accurate"
    vad: bool = False
    word_timestamps: bool = False

    @field_validator("formats", mode="before")
    @classmethod
    def _split_text(cls, value: Any) -> Any:
        # A RescueBox client sends a text parameter: "srt, vtt" is ["srt", "vtt"].
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("formats")
    @classmethod
    def _some_once(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f"give at least one of {', '.join(FORMATS)}")
        return list(dict.fromkeys(value))

    @field_validator("vad", "word_timestamps", mode="before")
    @classmethod
    def _enum_bool(cls, value: Any) -> Any:
        # RescueBox has no boolean parameter type: its clients send the enum's key.
        return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value

    @field_validator("language")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    def task_kwargs(self) -> dict[str, Any]:
        """What the task is sent besides its input: only what differs from the defaults, so a
        plain request still runs on a worker that predates these parameters."""
        return self.model_dump(exclude_defaults=True)


def check_language(language: str, model: str | None) -> None:
    """422 naming the code when the model cannot transcribe that language."""
    if language == "auto":
        return
    known = model_languages(model)
    if known is not None and language not in known:
        listed = ", ".join(sorted(known)) if len(known) <= 10 else f"{len(known)} codes such as en, de, fr"
        raise InputError(
            f"parameters.language has value {language!r}, which the model {_name(model)} cannot transcribe "
            f"(it knows: auto, {listed})"
        )


@functools.cache
def model_languages(model: str | None) -> frozenset[str] | None:
    """The language codes ``model`` (a folder, a name, or None for the default) can transcribe.

    A folder is read: multilingual models know the languages of their ``lang_ids``. A model
    name is not downloaded here: names ending in ``.en`` are English only; for other names
    nothing is known (None) and the worker decides.
    """
    folder = default_model_path() if model is None else Path(model)
    if not folder.is_dir():
        return frozenset({"en"}) if model is not None and model.endswith(".en") else None
    vocabulary = (folder / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    if len(vocabulary) < _MULTILINGUAL_VOCABULARY:
        return frozenset({"en"})
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    # Each language is a token <|xx|>; the vocabulary's line n is token n.
    return frozenset(vocabulary[token].strip("<|>") for token in config["lang_ids"])


def _name(model: str | None) -> str:
    return "tiny.en (the default)" if model is None else repr(model)


def _enum(key: str, label: str, subtitle: str, values: list[tuple[str, str]], default: str) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "subtitle": subtitle,
        "value": {
            "parameter_type": "enum",
            "enum_vals": [{"key": k, "label": v} for k, v in values],
            "message_when_empty": None,
            "default": default,
        },
    }


def _text(key: str, label: str, subtitle: str, default: str) -> dict[str, Any]:
    return {"key": key, "label": label, "subtitle": subtitle, "value": {"parameter_type": "text", "default": default}}


_NO_YES = [("false", "No"), ("true", "Yes")]

# RescueBox's ParameterSchema (key, label, subtitle, value: a parameter descriptor). It has
# no list or boolean type: formats is text (comma-separated), the booleans are enums whose
# keys "true"/"false" are accepted beside JSON booleans.
TASK_SCHEMA_PARAMETERS: tuple[dict[str, Any], ...] = (
    _text(
        "formats",
        "Transcript formats",
        f"Files written per audio file, comma-separated: {', '.join(FORMATS)}",
        "txt",
    ),
    _text("language", "Language", "auto (detect), or a language code the model knows, such as en", "auto"),
    _enum(
        "mode",
        "Mode",
        "accurate: beam search (5 beams); fast: greedy decoding, about twice the speed",
        [("accurate", "Accurate"), ("fast", "Fast")],
        "accurate",
    ),
    _enum("vad", "Skip silence", "Voice activity detection drops silent stretches before decoding", _NO_YES, "false"),
    _enum(
        "word_timestamps",
        "Word timestamps",
        "Time each word (json gets words; srt and vtt stay per segment)",
        _NO_YES,
        "false",
    ),
)
