"""The Kubernetes simulator's failure answers: ``v1 Status`` bodies, field for field as kube-apiserver writes them."""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


class ApiError(Exception):
    """An API answer that is a Status, not an object."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: JsonDict | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason or REASONS.get(code, "Unknown")
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> JsonDict:
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(code: int, reason: str, message: str, details: JsonDict | None = None) -> JsonDict:
    """A ``v1 Status`` failure body, field for field as kube-apiserver writes it."""
    body: JsonDict = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body
