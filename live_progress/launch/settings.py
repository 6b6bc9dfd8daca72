"""What the run command reads: where the web listens and where its redis-server keeps its data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field

from live_progress.settings import SharedSettings


def _absolute_folder(folder: Path | None) -> Path | None:
    if folder is None:
        return None
    folder = folder.expanduser()
    if not folder.is_absolute():
        raise ValueError("It must be an absolute folder.")
    return folder


class LaunchSettings(SharedSettings):
    # The web's port (the Procfile's ${PORT}); honcho hands it on.
    port: Annotated[int, Field(ge=1, le=65_535)] = 8000
    # Replaces $XDG_DATA_HOME/live-progress/redis as the folder of the redis-server's data.
    redis_data_dir: Annotated[Path | None, AfterValidator(_absolute_folder)] = None
    xdg_data_home: str | None = None

    def data_home(self) -> Path:
        """``$XDG_DATA_HOME``, or ``~/.local/share`` when it is unset or relative (as the XDG spec says)."""
        xdg = Path(self.xdg_data_home or "")
        return xdg if xdg.is_absolute() else Path.home() / ".local" / "share"

    def redis_data_path(self, port: int) -> Path:
        """The data folder of the redis-server that launch starts on ``port``: one per port, so
        two services on different ports never share an append-only file."""
        root = self.redis_data_dir or self.data_home() / "live-progress" / "redis"
        return root / f"port-{port}"
