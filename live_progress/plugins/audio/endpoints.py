"""The audio plugin: its endpoints, what their requests look like and how they are checked."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from live_progress.web.api.discovery import Plugin
from live_progress.web.api.endpoints import AsyncEndpoint, InputSpec
from live_progress.web.api.inputs import require_audio, resolve_folder
from live_progress.plugins.audio.parameters import TASK_SCHEMA_PARAMETERS, TranscribeParameters, check_language
from live_progress.web.settings import Settings
from live_progress.contract import INSPECT_TASK, TRANSCRIBE_TASK, is_audio_file


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


def prepare_folder(request: FolderRequest, settings: Settings) -> dict[str, Any]:
    field = "inputs.input_dir.path"
    folder = resolve_folder(request.inputs.input_dir.path, settings.allowed_roots, field)
    require_audio(folder, field)
    return {"input_dir": str(folder)}


class TranscribeRequest(FolderRequest):
    parameters: TranscribeParameters = TranscribeParameters()  # type: ignore[assignment]


def prepare_transcription(request: TranscribeRequest, settings: Settings) -> dict[str, Any]:
    check_language(request.parameters.language, settings.whisper_model)
    return {**prepare_folder(request, settings), **request.parameters.task_kwargs()}


_FOLDER = InputSpec("input_dir", "Folder of audio files", "directory")

transcribe = AsyncEndpoint(
    path="/audio/transcribe",
    task=TRANSCRIBE_TASK,
    request_model=TranscribeRequest,
    prepare=prepare_transcription,
    short_title="Transcribe audio",
    order=0,
    inputs=(_FOLDER,),
    parameters=TASK_SCHEMA_PARAMETERS,
    downloads=True,
    folder_files=is_audio_file,
    live_results=True,
)

inspect = AsyncEndpoint(
    path="/audio/inspect",
    task=INSPECT_TASK,
    request_model=FolderRequest,
    prepare=prepare_folder,
    short_title="Inspect audio files",
    order=1,
    inputs=(_FOLDER,),
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
)
