"""Typed errors carrying the server's RFC 9457 problem details."""

from __future__ import annotations

from typing import Any


class RnncastError(Exception):
    """Base of every error the client raises."""


class ProblemError(RnncastError):
    """The server refused or failed a request; the attributes are its problem details."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type: str = str(problem.get("type", "about:blank"))
        self.title: str = str(problem.get("title", "HTTP error"))
        self.detail: str = str(problem.get("detail", ""))
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        super().__init__(f"{status} {self.title}: {self.detail}")


class BadRequestError(ProblemError):
    """400: the body could not be read (malformed JSON, CSV or Parquet)."""


class AuthenticationError(ProblemError):
    """401: a missing or wrong API key."""


class NotFoundError(ProblemError):
    """404: no such model or route."""


class PayloadTooLargeError(ProblemError):
    """413: a body over the server's size limit."""


class InvalidRequestError(ProblemError):
    """422: a request the server will not compute (bad series, limits, budget)."""


class OverloadedError(ProblemError):
    """503: still overloaded or not ready after every retry."""


class ServerError(ProblemError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequestError, 401: AuthenticationError, 404: NotFoundError, 413: PayloadTooLargeError,
    422: InvalidRequestError, 503: OverloadedError,
}


def problem_error(status: int, problem: dict[str, Any]) -> ProblemError:
    """The typed error for a problem answer."""
    default = ServerError if status >= 500 else ProblemError
    return _BY_STATUS.get(status, default)(status, problem)
