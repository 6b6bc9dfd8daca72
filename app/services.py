"""What the lifespan builds once per process and every request uses."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from app.broker import TaskBroker
from app.cache import StateCache
from app.hub import StateHub
from app.metrics import WebMetrics
from app.sessions import Sessions
from app.settings import Settings
from app.sse import Streams
from app.store import TaskStore


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
