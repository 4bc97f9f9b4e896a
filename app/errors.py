"""The one error hierarchy. Services raise these; ``app.main`` maps them to HTTP by class."""

from typing import ClassVar


class AppError(Exception):
    status_code: ClassVar[int] = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class PayloadTooLarge(AppError):
    status_code = 413


class RuleViolation(AppError):
    status_code = 422


class Unavailable(AppError):
    status_code = 503
