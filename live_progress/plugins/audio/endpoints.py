"""The audio plugin's web half: its endpoints, what their requests look like and how they are checked."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from live_progress import Endpoint, Input, InputError, Plugin, resolve_folder
from live_progress.plugins.audio.parameters import TASK_SCHEMA_PARAMETERS, TranscribeParameters, check_language
from live_progress.plugins.audio.settings import AudioSettings
from live_progress.plugins.audio.shared import AUDIO_EXTENSIONS, INSPECT_TASK, TRANSCRIBE_TASK, is_audio_file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DirectoryInput(_Strict):
    path: str


class FolderInputs(_Strict):
    input_dir: DirectoryInput


class FolderRequest(_Strict):
    """A RescueBox request body naming one folder of audio."""

    inputs: FolderInputs
    parameters: dict[str, Any] = {}


def require_audio(folder: Path, field: str) -> None:
    for _root, _dirs, files in os.walk(folder):
        if any(is_audio_file(name) for name in files):
            return
    kinds = " ".join(sorted(AUDIO_EXTENSIONS))
    raise InputError(f"{field} {str(folder)!r} has no audio file in it (looked for {kinds})")


def prepare_folder(request: FolderRequest, settings: Any) -> dict[str, Any]:
    field = "inputs.input_dir.path"
    folder = resolve_folder(request.inputs.input_dir.path, settings.allowed_roots, field)
    require_audio(folder, field)
    return {"input_dir": str(folder)}


class TranscribeRequest(FolderRequest):
    parameters: TranscribeParameters = TranscribeParameters()  # type: ignore[assignment]


def prepare_transcription(request: TranscribeRequest, settings: Any) -> dict[str, Any]:
    check_language(request.parameters.language, _settings().whisper_model)
    return {**prepare_folder(request, settings), **request.parameters.task_kwargs()}


@functools.cache
def _settings() -> AudioSettings:
    """Read from the environment on first use, once per process."""
    return AudioSettings.load()


_FOLDER = Input("input_dir", "Folder of audio files", "directory")

transcribe = Endpoint(
    name="transcribe",
    task=TRANSCRIBE_TASK,
    request_model=TranscribeRequest,
    prepare=prepare_transcription,
    title="Transcribe audio",
    order=0,
    inputs=(_FOLDER,),
    parameters=TASK_SCHEMA_PARAMETERS,
    downloads=True,
    folder_files=is_audio_file,
    live_results=True,
)

inspect = Endpoint(
    name="inspect",
    task=INSPECT_TASK,
    request_model=FolderRequest,
    prepare=prepare_folder,
    title="Inspect audio files",
    order=1,
    inputs=(_FOLDER,),
    parameters=(),
    folder_files=is_audio_file,
)

plugin = Plugin(
    name="audio",
    title="Audio transcription",
    info=(
        "Transcribes every audio file in a folder (.mp3 .wav .flac .aac .ogg .m4a, searched "
        "recursively) with faster-whisper, and reports progress live. Inspect a folder first to "
        "see each file's duration, sample rate, channels and codec."
    ),
    endpoints=(transcribe, inspect),
    worker="live_progress.plugins.audio.worker.tasks:register",
    author="live-progress",
)
