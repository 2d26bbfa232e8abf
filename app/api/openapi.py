"""Request bodies that the hot routes decode themselves, still described exactly.

The forecast routes read the raw body and validate it with pydantic straight from
JSON (skipping FastAPI's dict round trip); :func:`body_spec` keeps their request
schema in the OpenAPI document as if FastAPI had parsed them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_REF = "#/components/schemas/{model}"
_BODY_MODELS: list[type[BaseModel]] = []


def body_spec(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is ``model``."""
    _BODY_MODELS.append(model)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
        }
    }


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` include the schemas named by :func:`body_spec`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in _BODY_MODELS:
                full = model.model_json_schema(ref_template=_REF, mode="validation")
                components.update(full.pop("$defs", {}))
                components[model.__name__] = full
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
