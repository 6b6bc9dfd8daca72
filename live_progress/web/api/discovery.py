"""RescueBox discovery: how a RescueBox client finds a plugin's endpoints before calling them."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.routing import BaseRoute, Route

from live_progress.web.api.endpoints import AsyncEndpoint
from live_progress.web.errors import constant_json


def package_version() -> str:
    try:
        return version("live-progress")
    except PackageNotFoundError:
        return "0"


@dataclass(frozen=True, slots=True)
class Plugin:
    """A group of async endpoints under ``/<name>``, described the way RescueBox expects."""

    name: str
    title: str
    info: str
    endpoints: tuple[AsyncEndpoint, ...]
    author: str = "live-progress"
    gpu: bool = False

    def api_routes(self) -> list[dict[str, Any]]:
        """``GET /<name>/api/routes``: where each task's schema and endpoint are."""
        return [
            {
                "task_schema": endpoint.task_schema_path,
                "run_task": endpoint.path,
                "short_title": endpoint.short_title,
                "order": endpoint.order,
            }
            for endpoint in self.endpoints
        ]

    def app_metadata(self) -> dict[str, Any]:
        """``GET /<name>/api/app_metadata``."""
        return {
            "info": self.info,
            "author": self.author,
            "version": package_version(),
            "name": self.title,
            "plugin_name": self.name,
            "gpu": self.gpu,
        }

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [route for endpoint in self.endpoints for route in endpoint.routes()]
        return [
            *routes,
            Route(f"/{self.name}/api/routes", constant_json(self.api_routes()), methods=["GET"]),
            Route(f"/{self.name}/api/app_metadata", constant_json(self.app_metadata()), methods=["GET"]),
        ]
