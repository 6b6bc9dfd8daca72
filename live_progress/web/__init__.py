"""The web service: submits tasks, answers polls and streams progress over SSE.

``create_app(settings, plugins)`` is the ASGI app, to serve or to mount in another app; the
modules below it are the engine's own.
"""

from live_progress.web.app import create_app
from live_progress.web.settings import Settings

__all__ = ["Settings", "create_app"]
