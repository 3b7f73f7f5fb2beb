"""Errors as OpenAI's API writes them, so clients written for it show the message and not a parse failure:
`{"error": {"message", "type", "param", "code"}}` with the HTTP status that goes with it."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, "invalid_request_error", param, code)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, "invalid_request_error", None, "invalid_api_key")


def no_model() -> ApiError:
    return ApiError(503, "No model is loaded in QuantDesk. Load one in the app (or name one to `serve`), then "
                    "try again.", "server_error", None, "model_not_loaded")


def server_error(message: str, code: str | None = None) -> ApiError:
    return ApiError(500, message, "server_error", None, code)
