"""The error body every non-receipt error uses, for the OpenAPI documentation of routes."""

from typing import Any

from pydantic import BaseModel

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, unknown or revoked API key",
    403: "Not allowed for this caller",
    404: "Not found (or not visible to this caller)",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Invalid input or a broken business rule",
    503: "Temporarily unavailable; retry after the Retry-After delay",
}


class ErrorBody(BaseModel):
    error: str
    detail: str


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}
