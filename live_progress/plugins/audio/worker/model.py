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
def load_model(
    name_or_path: str | None = None, cpu_threads: int = 0, device: str = "cpu", compute_type: str = "int8"
) -> WhisperModel:
    """The model for ``name_or_path`` (default: offline tiny.en) on ``device`` with ``compute_type``,
    cached. The worker passes what worker/device.py chose from its settings.

    ``cpu_threads`` 0 leaves CTranslate2's default (OMP_NUM_THREADS, else 4 or the cores, if fewer).
    """
    from faster_whisper import WhisperModel

    source = name_or_path or str(default_model_path())
    logger.info(
        "Loading speech model %s on %s, compute type %s (cpu_threads=%s)",
        source,
        device,
        compute_type,
        cpu_threads or "default",
    )
    model = WhisperModel(source, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
    # CTranslate2's own name for what it runs (int8 on the CPU is int8_float32).
    logger.info("Speech model loaded: CTranslate2 runs it on %s as %s", model.model.device, model.model.compute_type)
    return model
