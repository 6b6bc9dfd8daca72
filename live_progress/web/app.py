"""The web app, ``create_app()``: what a project may mount in its own ASGI app.

It has no process-wide effect (logging, signal handlers, GC tuning): those are the web
process's, set up by ``live_progress.web.process``, the factory the Procfile serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TypedDict

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from live_progress.plugin import Plugin
from live_progress.plugins import load_plugins
from live_progress.redis_url import safe_url
from live_progress.web.api import openapi as api
from live_progress.web.api.discovery import PluginRoutes, plugins_route
from live_progress.web.api.openapi import DocumentedRoute, openapi_document
from live_progress.web.engine.broker import TaskBroker, create_celery_client
from live_progress.web.engine.cache import StateCache
from live_progress.web.engine.connections import connect
from live_progress.web.engine.hub import StateHub
from live_progress.web.engine.liveness import Liveness
from live_progress.web.engine.sse import Streams
from live_progress.web.engine.store import TaskStore
from live_progress.web.errors import ServiceUnavailable, constant_json, exception_handlers, json_response
from live_progress.web.metrics import WebMetrics
from live_progress.web.metrics_folder import shared_folder
from live_progress.web.security.access import TokenAuth, login_routes
from live_progress.web.security.guard import CrossSiteGuard, HostGuard
from live_progress.web.security.sessions import Sessions
from live_progress.web.services import Services, services_of
from live_progress.web.settings import Settings

logger = logging.getLogger(__name__)

_PAGE = Path(__file__).parent / "static" / "index.html"


class State(TypedDict):
    services: Services


async def healthz(request: Request) -> Response:
    services = services_of(request)
    try:
        await services.store.ping()
    except ServiceUnavailable as exc:
        services.metrics.count_error(503, exc.kind)
        return json_response({"status": "unavailable", "error": str(exc)}, 503, {"Retry-After": "2"})
    return json_response(
        {"status": "ok", "redis": "ok", "subscribed": services.hub.connected, "streams": services.streams.open}
    )


async def metrics(request: Request) -> Response:
    return Response(services_of(request).metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


async def page(request: Request) -> Response:
    # Asked for again each time: behind API_TOKEN, a signed-out browser must not show it from its cache.
    return FileResponse(_PAGE, media_type="text/html", headers={"Cache-Control": "no-cache"})


def create_app(settings: Settings | None = None, plugins: Sequence[Plugin] | None = None) -> Starlette:
    """The service as an ASGI app; ``plugins`` default to the installed ones that PLUGINS lets in."""
    settings = settings or Settings.load()
    served = [PluginRoutes.of(plugin) for plugin in (load_plugins(settings.plugins) if plugins is None else plugins)]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        connections = connect(settings)
        redis, listener = connections.reads, connections.listener
        celery = create_celery_client(settings)
        broker = TaskBroker(celery)
        hub = StateHub(listener, broker.result_key_prefix, settings.stream_queue_size)
        store = TaskStore(redis, broker.result_key_prefix, settings.result_expires)
        await hub.start()
        if not await hub.wait_connected(timeout=3):
            logger.warning(
                "Redis at %s does not answer yet; serving 503s until it does", safe_url(settings.result_backend)
            )
        recover = functools.partial(broker.take_over, max_attempts=settings.max_task_attempts)
        liveness = asyncio.create_task(Liveness(hub, store, recover, settings.worker_lost_after).run())
        # One timer for every stream's pings and stall checks (live_progress/web/engine/sse.py).
        streams = Streams(
            settings.max_streams,
            settings.sse_ping_seconds,
            settings.sse_send_timeout,
            # Proxies may keep it (a CDN that fans a stream out), but must ask again each time.
            headers={"Cache-Control": "no-cache"},
        )
        pulse = asyncio.create_task(streams.run())
        try:
            metrics = WebMetrics(shared_folder())
            metrics.watch_live(hub, streams)
            # A polled task stays followed long enough for the liveness check to judge it.
            cache = StateCache(hub, store, ttl=max(30.0, 1.5 * settings.worker_lost_after))
            sessions = Sessions(redis, settings) if settings.api_token else None
            yield {"services": Services(settings, store, hub, broker, streams, metrics, cache, sessions=sessions)}
        finally:
            # No signal tells a mounted app that its server stops: its streams end with its lifespan
            # (the timer still running, to cut off a client that takes no more).
            await streams.end(settings.sse_send_timeout)
            pulse.cancel()
            liveness.cancel()
            await hub.stop()
            await connections.aclose()
            celery.close()

    # The plugins' first: the router tries routes in order, and theirs are what streams and polls take.
    routes: list[BaseRoute] = [route for plugin in served for route in plugin.routes()]
    routes += [
        plugins_route(served),
        DocumentedRoute("/", page, {"get": api.PAGE}),
        DocumentedRoute("/healthz", healthz, {"get": api.HEALTHZ}),
        DocumentedRoute("/metrics", metrics, {"get": api.METRICS}),
        Mount("/static", StaticFiles(directory=_PAGE.parent), name="static"),
    ]
    if settings.api_token:
        routes += login_routes(settings.api_token)
    # Every route above documents itself; the document is their sum.
    routes.append(Route("/openapi.json", constant_json(openapi_document(routes, settings.api_token is not None))))
    # Outermost first: a foreign Host is refused before anything else looks at the request.
    middleware = [Middleware(HostGuard, allowed_hosts=settings.host_names)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
                expose_headers=["Location"],
            )
        )
    middleware.append(Middleware(CrossSiteGuard, trusted_origins=settings.cors_origins, form_paths=["/login"]))
    if settings.api_token:
        middleware.append(Middleware(TokenAuth, token=settings.api_token))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers=exception_handlers)
