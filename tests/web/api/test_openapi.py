"""The OpenAPI document's shape: valid OpenAPI 3.1 and covering every route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import Mount

from live_progress.web.api.openapi import DocumentedRoute
from live_progress.web.app import create_app
from live_progress.web.settings import Settings


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_it_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_is_documented(document: dict[str, Any], settings: Settings) -> None:
    app = create_app(settings)
    served = {(route.path, method.lower()) for route in app.routes for method in getattr(route, "methods", None) or ()}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert {(path, method) for path, method in served if method != "head"} <= documented


def test_every_route_is_declared_with_its_operations(settings: Settings) -> None:
    """One declaration gives the route and its entry: nothing is documented by hand beside it."""
    app = create_app(settings.model_copy(update={"api_token": "t0ken"}))
    undeclared = [
        route.path
        for route in app.routes
        if not isinstance(route, (DocumentedRoute, Mount)) and route.path != "/openapi.json"
    ]
    assert undeclared == []
