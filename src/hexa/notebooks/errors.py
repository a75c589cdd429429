"""Domain errors of the notebook service; api/errors.py maps each to one HTTP status."""

from __future__ import annotations


class HexaError(Exception):
    """Base of every error Hexa reports to a client."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadPathError(HexaError):
    status = 400


class BadRequestError(HexaError):
    status = 400


class ForbiddenError(HexaError):
    status = 403


class NotFoundError(HexaError):
    status = 404


class ConflictError(HexaError):
    status = 409


class TooLargeError(HexaError):
    status = 413


class UnsupportedError(HexaError):
    """An upload in a format Hexa cannot turn into a notebook."""

    status = 415


class InvalidNotebookError(HexaError):
    """Notebook text marimo's checker refuses; `diagnostics` says where and why."""

    status = 422

    def __init__(self, message: str, diagnostics: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


class LimitError(HexaError):
    """A cap was reached; `limit` names the setting."""

    def __init__(self, message: str, limit: str, status: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.status = status


class UnavailableError(HexaError):
    """The notebook's marimo is starting, failed or gone."""

    status = 503


class UpstreamError(HexaError):
    """marimo answered in a way Hexa could not use."""

    status = 502
