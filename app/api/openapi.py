"""Request bodies that the routes decode themselves, still described exactly.

The forecast routes read the raw body and validate it with pydantic straight from
JSON (skipping FastAPI's dict round trip), or read CSV and Parquet bodies with
their options in the query string; :func:`body_spec` and :func:`answer_spec` keep
their request and response schemas in the OpenAPI document as if FastAPI had
parsed them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_REF = "#/components/schemas/{model}"
_MODELS: list[tuple[type[BaseModel], str]] = []
_TABLE_CONTENT = {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
}


def _schema_of(models: tuple[type[BaseModel], ...], mode: str) -> dict[str, Any]:
    _MODELS.extend((model, mode) for model in models)
    refs = [{"$ref": _REF.format(model=model.__name__)} for model in models]
    return refs[0] if len(refs) == 1 else {"oneOf": refs}


def _query_parameters(options: type[BaseModel]) -> list[dict[str, Any]]:
    """Each option of a CSV or Parquet body, as a query parameter."""
    properties = options.model_json_schema(ref_template=_REF)["properties"]
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": schema.get("description", ""),
            "schema": schema,
            **({"style": "form", "explode": True} if schema.get("type") == "array" else {}),
        }
        for name, schema in properties.items()
    ]


def body_spec(*models: type[BaseModel], tables: type[BaseModel] | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is one of ``models``; with ``tables``
    (the options model), also CSV and Parquet bodies with the options as query parameters."""
    content: dict[str, Any] = {"application/json": {"schema": _schema_of(models, "validation")}}
    spec: dict[str, Any] = {"requestBody": {"required": True, "content": content}}
    if tables is not None:
        content |= _TABLE_CONTENT
        spec["parameters"] = _query_parameters(tables)
    return spec


def answer_spec(*models: type[BaseModel], tables: bool = True) -> dict[str, Any]:
    """The 200 entry of ``responses`` for a route answering one of ``models`` as JSON,
    or, with ``tables``, rows as CSV or Parquet too (by ``Accept``)."""
    content: dict[str, Any] = {"application/json": {"schema": _schema_of(models, "serialization")}}
    if tables:
        content |= _TABLE_CONTENT
    return {
        "description": "The forecasts. Rows answers carry their metadata in X-Rnncast-Meta too.",
        "content": content,
        "headers": {"X-Rnncast-Meta": {"description": "Answer metadata (rows forms), one JSON line.",
                                       "schema": {"type": "string"}}},
    }


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` include the schemas named by :func:`body_spec` and :func:`answer_spec`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model, mode in _MODELS:
                full = model.model_json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
                components.update(full.pop("$defs", {}))
                components[model.__name__] = full
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
