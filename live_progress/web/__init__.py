"""The web service: submits tasks, answers polls and streams progress over SSE.

``create_app(settings, plugins)`` is the ASGI app, to serve or to mount in another app; the
modules below it are the engine's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from live_progress.web.settings import Settings

if TYPE_CHECKING:
    from live_progress.web.app import create_app

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    # Imported when first asked for: the web process (live_progress.web.process) sets up
    # prometheus_client's multiprocess folder before the app imports that library.
    if name == "create_app":
        from live_progress.web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
