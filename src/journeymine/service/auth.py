"""API-key check of the HTTP service: ``X-API-Key`` or ``Authorization: Bearer <key>``,
compared in constant time (:func:`hmac.compare_digest`); missing or wrong -> 401 JSON."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["key_checker"]


def key_checker(key: str) -> Callable[[Headers], None]:
    """A function that raises a 401 ``HTTPException`` unless the headers carry ``key``."""
    key_bytes = key.encode()

    def require_key(headers: Headers) -> None:
        given = headers.get("x-api-key")
        if given is None:
            auth = headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() == "bearer" and token:
                given = token.strip()
        if given is None:
            raise StarletteHTTPException(
                401, "missing API key: send it in the X-API-Key header or as Bearer token."
            )
        if not hmac.compare_digest(given.encode(), key_bytes):
            raise StarletteHTTPException(401, "wrong API key.")

    return require_key
