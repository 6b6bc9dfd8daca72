"""Loading the speech model: once per worker process, on first use."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

from live_progress.plugins.audio.shared import default_model_path

logger = logging.getLogger(__name__)


@functools.cache
def load_model(name_or_path: str | None = None, cpu_threads: int = 0) -> WhisperModel:
    """The model for ``name_or_path`` (default: offline tiny.en), int8 on the CPU, cached.

    ``cpu_threads`` 0 leaves CTranslate2's default (4 threads).
    """
    from faster_whisper import WhisperModel

    source = name_or_path or str(default_model_path())
    logger.info("Loading speech model %s (cpu_threads=%s)", source, cpu_threads or "default")
    return WhisperModel(source, device="cpu", compute_type="int8", cpu_threads=cpu_threads)
