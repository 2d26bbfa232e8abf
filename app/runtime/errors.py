"""The runtime's one error family. No HTTP here: each docstring names the status the
API maps it to, and the API's error handlers hold that mapping."""

from __future__ import annotations


class ForecastError(Exception):
    """Base of every error the runtime raises on purpose.

    ``field`` names the request part at fault and ``limit`` the bound it broke, when
    there is one, so the API can say exactly what to change.
    """

    def __init__(self, message: str, *, field: str | None = None, limit: float | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.limit = limit


class InvalidSeriesError(ForecastError):
    """A series is too short, too long, non-finite or otherwise unusable (422)."""


class HorizonTooLongError(ForecastError):
    """The requested horizon exceeds the configured maximum (422)."""


class LimitExceededError(ForecastError):
    """A request exceeds a size limit or the per-request compute budget (422)."""


class ModelNotFoundError(ForecastError):
    """No model of that name is configured (404)."""


class ModelNotReadyError(ForecastError):
    """The model is still loading, failed to load, or the server is draining (503)."""


class OverloadedError(ForecastError):
    """The queue is full or a request waited longer than its timeout (503, retry later)."""


class InferenceError(ForecastError):
    """The model itself failed while computing (500); torch's errors become this."""


class DeadlineExceededError(ForecastError):
    """The request's deadline (RNNCAST_REQUEST_TIMEOUT_S) passed before its answer (504)."""


class JobCancelledError(ForecastError):
    """The client went away, so its work was stopped; nothing is answered (499 in logs)."""


class SignatureError(ForecastError):
    """A model's signature is missing or does not verify against the trusted keys (the
    model is not loaded: 503 on readiness)."""
