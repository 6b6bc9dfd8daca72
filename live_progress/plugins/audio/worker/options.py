"""How a batch is transcribed: the task's parameters, as faster-whisper takes them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from live_progress.plugins.audio.shared import FORMATS, Mode

# "accurate" is faster-whisper's default decoding (beam search, 5 beams), as before options.
# "fast" is its batched pipeline, greedy (beam 1): windows cut at silences (VAD) and decoded
# several at a time, without timestamp tokens (a segment per window, up to 30 s). Measured on
# this 2-core machine (`scripts/bench asr`, README "Transcription options") it takes well under
# half the CPU time of "accurate"; greedy decoding alone (beam 1) saved only about a third.
_BEAM_SIZE = {"accurate": 5, "fast": 1}


@dataclass(frozen=True, slots=True)
class TranscribeOptions:
    formats: tuple[str, ...] = ("txt",)
    language: str = "auto"
    mode: Mode = "accurate"
    vad: bool = False
    word_timestamps: bool = False

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"formats has value {list(self.formats)!r}; each must be one of {', '.join(FORMATS)}")
        if self.mode not in _BEAM_SIZE:
            raise ValueError(f"mode has value {self.mode!r}; it must be 'accurate' or 'fast'")

    @classmethod
    def of(
        cls,
        formats: Iterable[str] = ("txt",),
        language: str = "auto",
        mode: str = "accurate",
        vad: bool = False,
        word_timestamps: bool = False,
    ) -> TranscribeOptions:
        """From the task's keyword arguments (JSON: formats arrive as a list)."""
        return cls(tuple(formats), language, mode, bool(vad), bool(word_timestamps))  # type: ignore[arg-type]

    def task_kwargs(self) -> dict[str, Any]:
        return {
            "formats": list(self.formats),
            "language": self.language,
            "mode": self.mode,
            "vad": self.vad,
            "word_timestamps": self.word_timestamps,
        }

    @property
    def batched(self) -> bool:
        """Decoded by faster-whisper's BatchedInferencePipeline rather than the model itself."""
        return self.mode == "fast"

    def decoding(self) -> dict[str, Any]:
        """Keyword arguments for ``transcribe`` of the model or of its batched pipeline."""
        return {
            "language": None if self.language == "auto" else self.language,
            "beam_size": _BEAM_SIZE[self.mode],
            # The batched pipeline finds its windows with VAD: it always skips silence.
            "vad_filter": self.vad or self.batched,
            "word_timestamps": self.word_timestamps,
        }


DEFAULT_OPTIONS = TranscribeOptions()
