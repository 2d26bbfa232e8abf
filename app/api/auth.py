"""Optional API keys: ``Authorization: Bearer <key>`` on everything but health and metrics."""

from __future__ import annotations

import hmac

from fastapi import Request

from app.api.errors import ApiError


async def require_api_key(request: Request) -> None:
    """Dependency: 401 unless auth is off or the bearer token matches a configured key."""
    keys = request.app.state.service.settings.api_keys
    if not keys:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    # Header values arrive as bytes, which Starlette decodes as latin-1: encoding back
    # gives the bytes sent, compared with the key's UTF-8 bytes (a non-ASCII key works
    # when sent as UTF-8, as clients do).
    presented = token.strip().encode("latin-1")
    # Compare against every key, always, so timing reveals neither key nor match position.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, key.encode())
    if scheme.lower() != "bearer" or not matched:
        raise ApiError(
            401, "unauthorized", "Unauthorized",
            "send a valid API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": 'Bearer realm="rnncast"'},
        )
