"""What the lifespan builds once per process and every request uses."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from live_progress.web.engine.broker import TaskBroker
from live_progress.web.engine.cache import StateCache
from live_progress.web.engine.hub import StateHub
from live_progress.web.engine.sse import Streams
from live_progress.web.engine.store import TaskStore
from live_progress.web.metrics import WebMetrics
from live_progress.web.security.sessions import Sessions
from live_progress.web.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: TaskStore
    hub: StateHub
    broker: TaskBroker
    streams: Streams
    metrics: WebMetrics
    cache: StateCache
    # Browser sign-ins; only with API_TOKEN.
    sessions: Sessions | None = None


def services_of(request: Request) -> Services:
    # The lifespan's state, as the server copies it into each request's scope; read straight
    # from there (request.state wraps it in a new object per request).
    services: Services = request.scope["state"]["services"]
    return services
