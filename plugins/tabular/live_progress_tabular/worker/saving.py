"""Writing the fitted model for the user to take away: beside the CSV, or, when that folder
cannot be written to, in a folder of the plugin's own. Written whole or not at all."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

import joblib
from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)


def save_model(model: Pipeline, name: str, folder: Path, fallback: Path) -> Path:
    """The path ``model`` was written to: ``folder/name``, else ``fallback/name``."""
    try:
        return _write(model, folder / name)
    except OSError as exc:
        logger.warning("Cannot write the model into %s (%s): writing it into %s", folder, exc.strerror, fallback)
    fallback.mkdir(parents=True, exist_ok=True)
    return _write(model, fallback / name)


def _write(model: Pipeline, path: Path) -> Path:
    # A temporary file renamed over the name: a reader never sees half a model, and a symlink
    # planted at the name is replaced, not followed.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            joblib.dump(model, file)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path
