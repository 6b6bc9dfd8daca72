"""Checking the folders clients name: absolute, inside ALLOWED_ROOTS, real, with audio."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from live_progress.web.errors import InputError
from live_progress.contract import AUDIO_EXTENSIONS, is_audio_file


def resolve_folder(raw: str, allowed_roots: Sequence[Path], field: str) -> Path:
    """The real path of the folder ``raw`` names, after ``..`` and symlinks are resolved."""
    if "\x00" in raw:
        raise InputError(f"{field} contains a NUL byte")
    if not raw.strip():
        raise InputError(f"{field} is empty; it must be an absolute folder path")
    path = Path(raw)
    if not path.is_absolute():
        raise InputError(f"{field} has value {raw!r}; it must be an absolute path")
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:
        raise InputError(f"{field} has value {raw!r}, which cannot be resolved: {exc}") from exc
    if not any(resolved.is_relative_to(root) for root in allowed_roots):
        allowed = os.pathsep.join(str(root) for root in allowed_roots)
        raise InputError(
            f"{field} has value {raw!r}, which lies outside the allowed folders ({allowed}); see ALLOWED_ROOTS",
            403,
        )
    try:
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{field} has value {raw!r}, which does not exist") from None
    except OSError as exc:  # a name too long, a loop, no permission...
        raise InputError(f"{field} has value {raw!r}, which cannot be read: {exc.strerror}") from None
    if not stat.S_ISDIR(mode):
        raise InputError(f"{field} has value {raw!r}, which is not a folder")
    return resolved


def require_audio(folder: Path, field: str) -> None:
    for _root, _dirs, files in os.walk(folder):
        if any(is_audio_file(name) for name in files):
            return
    kinds = " ".join(sorted(AUDIO_EXTENSIONS))
    raise InputError(f"{field} {str(folder)!r} has no audio file in it (looked for {kinds})")
