"""``GET /openapi.json``: an OpenAPI 3.1 document of every route the app has."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.openapi import openapi_document
from origin.registry import PARAMS
from origin.settings import with_overrides

ADMIN = "admin-token-0123456789-abcdefghijklmnop"
METHODS = {"get", "head", "post", "put", "delete", "patch", "options"}


@pytest.fixture
def doc(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "access-control-allow-origin" not in response.headers
    body: dict[str, Any] = response.json()
    return body


def test_it_is_an_openapi_3_1_document(doc: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    assert "servers" not in doc  # the origin's own address unless public_base_url says otherwise


def test_every_route_and_method_is_described(client: TestClient, doc: dict[str, Any]) -> None:
    described = {(path, method) for path, item in doc["paths"].items() for method in item if method in METHODS}
    routed = set()
    for route in client.app.routes:  # type: ignore[attr-defined]
        assert isinstance(route, Route)
        path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", route.path)
        routed |= {(path, method.lower()) for method in route.methods or ()}
    assert described <= routed
    assert {(path, method) for path, method in routed if method != "head"} <= described  # HEAD is GET's headers
    assert ("/{path}", "head") in described
    assert {"/v2/files/jwt", "/studio", "/studio/api/sign", "/healthz", "/metrics", "/{path}"} <= set(doc["paths"])


def test_every_operation_answers_and_every_reference_resolves(doc: dict[str, Any]) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [node["$ref"]] if "$ref" in node else [ref for value in node.values() for ref in refs(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in refs(value)]
        return []

    for path, item in doc["paths"].items():
        templated = set(re.findall(r"\{(\w+)\}", path))
        for method, operation in item.items():
            assert operation["responses"], (path, method)
            assert all(re.fullmatch(r"[1-5]\d\d", code) for code in operation["responses"])
            assert all("description" in response for response in operation["responses"].values())
            in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert in_path == templated, (path, method)
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"], ref
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values() if "operationId" in op]
    assert len(ids) == len(set(ids))


def test_the_image_route_lists_every_supported_parameter(doc: dict[str, Any]) -> None:
    names = {p["name"] for p in doc["paths"]["/{path}"]["get"]["parameters"] if p["in"] == "query"}
    for param in PARAMS:
        assert (param.name in names) == param.supported, param.name
        assert all(alias in names for alias in param.aliases) or not param.supported
    assert "jwt" in names


def test_the_admin_endpoints_are_described_with_their_security(doc: dict[str, Any]) -> None:
    mint = doc["paths"]["/v2/files/jwt"]["post"]
    assert mint["security"] == [{"adminToken": []}]
    assert doc["components"]["securitySchemes"]["adminToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "ORIGIN_ADMIN_TOKEN",
    }
    assert {"200", "400", "401", "404", "413", "429"} <= set(mint["responses"])
    request = doc["components"]["schemas"]["MintRequest"]
    assert request["required"] == ["filename", "expiresIn"]
    assert set(request["properties"]) == {"filename", "expiresIn", "secureParams", "insecureParams", "kid", "aud"}
    sign = doc["paths"]["/studio/api/sign"]["post"]
    assert sign["security"] == [{"studioSession": []}]
    assert {"name": "X-CSRF-Token", "in": "header"}.items() <= sign["parameters"][0].items()


def test_it_is_served_whether_or_not_the_admin_endpoints_are_on(settings: Settings) -> None:
    on = TestClient(create_app(with_overrides(settings, admin_token=ADMIN))).get("/openapi.json").json()
    off = TestClient(create_app(settings)).get("/openapi.json").json()
    assert on == off == openapi_document(settings)


def test_a_public_base_url_is_the_server(settings: Settings) -> None:
    public = with_overrides(settings, public_base_url="https://cdn.example.com")
    assert openapi_document(public)["servers"] == [{"url": "https://cdn.example.com"}]
