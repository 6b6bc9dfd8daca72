"""Where the run command's redis-server keeps its data."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def data_home(environ: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` when it is unset or relative (as the XDG spec says)."""
    xdg = Path(environ.get("XDG_DATA_HOME") or "")
    return xdg if xdg.is_absolute() else Path.home() / ".local" / "share"


def redis_data_root(environ: Mapping[str, str] = os.environ) -> Path:
    raw = environ.get("REDIS_DATA_DIR")
    if not raw:
        return data_home(environ) / "live-progress" / "redis"
    root = Path(raw).expanduser()
    if not root.is_absolute():
        raise ValueError(f"Setting 'REDIS_DATA_DIR' has value {raw!r}. It must be an absolute folder.")
    return root


def redis_data_dir(port: int, environ: Mapping[str, str] = os.environ) -> Path:
    """The data folder of the redis-server that launch starts on ``port``: one per port, so
    two services on different ports never share an append-only file."""
    return redis_data_root(environ) / f"port-{port}"
