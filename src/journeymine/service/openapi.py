"""The OpenAPI document of the routes that read their request body themselves (their
request schemas are pydantic ``TypeAdapter`` s, not FastAPI parameters) and of the plain ASGI
route ``POST /v1/assign``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["body_doc", "document_assign", "schemas_of"]

_JSON = "application/json"
_REF = "#/components/schemas/{model}"


def body_doc(schema: str) -> dict[str, Any]:
    """OpenAPI request body of a route that validates the raw body itself.

    Examples
    --------
    >>> body_doc("EventsRequest")["requestBody"]["content"]["application/json"]
    {'schema': {'$ref': '#/components/schemas/EventsRequest'}}
    """
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"requestBody": {"required": True, "content": {_JSON: {"schema": ref}}}}


def schemas_of(*adapters: Any) -> dict[str, Any]:
    """The components of request types (pydantic ``TypeAdapter`` s) and the types they use."""
    out: dict[str, Any] = {}
    for adapter in adapters:
        js = adapter.json_schema(ref_template=_REF)
        out.update(js.pop("$defs", {}))
        out[js["title"]] = js
    return out


def document_assign(schema: dict[str, Any], response: Any) -> None:
    """Add ``POST /v1/assign`` (a plain ASGI route) to ``schema``, answered with the pydantic
    model ``response``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[response.__name__] = response.model_json_schema(ref_template=_REF)
    error = {"description": "{error, detail} JSON", "content": {_JSON: {"schema": {}}}}
    answer = {"$ref": f"#/components/schemas/{response.__name__}"}
    schema.setdefault("paths", {})["/v1/assign"] = {
        "post": {
            "tags": ["assign"],
            "summary": "Assign one customer",
            "description": "Persona of one customer from their events (API key required).",
            "operationId": "assign_one",
            **body_doc("AssignRequest"),
            "responses": {
                "200": {"description": "The persona", "content": {_JSON: {"schema": answer}}},
                "400": {**error, "description": "The body is not JSON"},
                "401": {**error, "description": "Missing or wrong API key"},
                "413": {**error, "description": "The body is too large"},
                "422": {**error, "description": "Invalid request or events"},
            },
        }
    }
