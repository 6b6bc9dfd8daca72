"""RescueBox discovery: how a RescueBox client finds a plugin's endpoints before calling them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Route

from live_progress.plugin import Plugin
from live_progress.web.api.endpoints import AsyncEndpoint
from live_progress.web.api.openapi import (
    PLUGINS,
    DocumentedRoute,
    app_metadata_operation,
    package_version,
    plugin_routes_operation,
)
from live_progress.web.errors import constant_json


def plugins_route(plugins: list[PluginRoutes]) -> Route:
    """``GET /api/plugins``: every plugin this process serves, with its endpoints' schemas."""
    return DocumentedRoute("/api/plugins", constant_json([plugin.describe() for plugin in plugins]), {"get": PLUGINS})


@dataclass(frozen=True, slots=True)
class PluginRoutes:
    """A plugin's endpoints under ``/<name>``, and how RescueBox discovers them."""

    plugin: Plugin
    endpoints: tuple[AsyncEndpoint, ...]

    @classmethod
    def of(cls, plugin: Plugin) -> PluginRoutes:
        return cls(plugin, tuple(AsyncEndpoint.of(plugin.name, endpoint) for endpoint in plugin.endpoints))

    @property
    def name(self) -> str:
        return self.plugin.name

    def api_routes(self) -> list[dict[str, Any]]:
        """``GET /<name>/api/routes``: where each task's schema and endpoint are."""
        return [
            {
                "task_schema": endpoint.task_schema_path,
                "run_task": endpoint.path,
                "short_title": endpoint.declared.title,
                "order": endpoint.declared.order,
            }
            for endpoint in self.endpoints
        ]

    def app_metadata(self) -> dict[str, Any]:
        """``GET /<name>/api/app_metadata``."""
        plugin = self.plugin
        return {
            "info": plugin.info,
            "author": plugin.author,
            "version": plugin.version or package_version(),
            "name": plugin.title,
            "plugin_name": plugin.name,
            "gpu": plugin.gpu,
        }

    def describe(self) -> dict[str, Any]:
        """This plugin in ``GET /api/plugins``: what a generic client (the page, the terminal
        client) needs to offer its endpoints and follow their jobs."""
        return {
            **self.app_metadata(),
            "endpoints": [
                {
                    "path": endpoint.path.lstrip("/"),
                    "title": endpoint.declared.title,
                    "order": endpoint.declared.order,
                    "task_schema": endpoint.task_schema(),
                    "live_results": endpoint.live_results,
                    "downloads": endpoint.downloads,
                    "folder_suggestions": endpoint.folder_files is not None,
                }
                for endpoint in sorted(self.endpoints, key=lambda e: e.declared.order)
            ],
        }

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [route for endpoint in self.endpoints for route in endpoint.routes()]
        return [
            *routes,
            DocumentedRoute(
                f"/{self.name}/api/routes",
                constant_json(self.api_routes()),
                {"get": plugin_routes_operation(self.name)},
            ),
            DocumentedRoute(
                f"/{self.name}/api/app_metadata",
                constant_json(self.app_metadata()),
                {"get": app_metadata_operation(self.name)},
            ),
        ]
