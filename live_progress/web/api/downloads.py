"""Downloading a file that a finished task wrote: only one its result lists, only from its folder.

A task's result names the folder it wrote into and the files it wrote there, names relative
to that folder: ``files_dir`` and ``files`` (``[{"name": "model.joblib"}]``), or, as a
RescueBox batch of texts does, ``transcripts_dir`` and each text's ``files``
(``[{"format": "srt", "name": "sub/a.srt"}]``). A download names one of those; anything else
is 404, and so is a listed file that now resolves (through a symlink, say) outside the folder.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from pathlib import Path
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response

from live_progress.web.engine.events import TaskEvent

_TYPES = {
    ".txt": "text/plain; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".json": "application/json",
}


def listed_files(result: dict[str, Any]) -> tuple[str | None, set[str]]:
    """The folder a result wrote into, and the names of the files it lists there."""
    if "files_dir" in result:
        return _folder(result.get("files_dir")), _names(result.get("files"))
    names: set[str] = set()
    for text in result.get("texts") or []:
        names |= _names(text.get("files") if isinstance(text, dict) else None)
    return _folder(result.get("transcripts_dir")), names


def _folder(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _names(files: Any) -> set[str]:
    listed = files if isinstance(files, list) else []
    return {f["name"] for f in listed if isinstance(f, dict) and isinstance(f.get("name"), str)}


def written_file(task_id: str, event: TaskEvent, name: str) -> Response:
    """The file ``name`` that the finished task wrote, as an attachment (its base name)."""
    if event.kind != "result":
        raise HTTPException(409 if not event.final else 404, f"Task {task_id} has no files (it is {event.kind})")
    result = orjson.loads(event.data)["root"]
    folder, names = listed_files(result) if isinstance(result, dict) else (None, set())
    if folder is None or name not in names:
        raise HTTPException(404, f"Task {task_id} wrote no file {name!r}")
    root = Path(folder).resolve()
    path = (root / name).resolve()
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise HTTPException(404, f"The file {name!r} of task {task_id} is gone") from None
    if not path.is_relative_to(root) or not stat.S_ISREG(mode):
        raise HTTPException(404, f"The file {name!r} of task {task_id} is not in its folder any more")
    media_type = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, filename=path.name, headers={"Cache-Control": "no-store"})
