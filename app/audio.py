"""The audio endpoints: what a transcription request looks like and how it is checked."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from app.endpoints import AsyncEndpoint
from app.inputs import require_audio, resolve_folder
from app.settings import Settings
from contract import TRANSCRIBE_TASK


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DirectoryInput(_Strict):
    path: str


class TranscribeInputs(_Strict):
    input_dir: DirectoryInput


class TranscribeRequest(_Strict):
    """A RescueBox request body."""

    inputs: TranscribeInputs
    parameters: dict[str, Any] = {}


def prepare_transcribe(request: TranscribeRequest, settings: Settings) -> dict[str, Any]:
    field = "inputs.input_dir.path"
    folder = resolve_folder(request.inputs.input_dir.path, settings.allowed_roots, field)
    require_audio(folder, field)
    return {"input_dir": str(folder)}


transcribe = AsyncEndpoint(
    path="/audio/transcribe",
    task=TRANSCRIBE_TASK,
    request_model=TranscribeRequest,
    prepare=prepare_transcribe,
)
