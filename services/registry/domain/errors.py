"""The OCI Distribution error codes, with their HTTP status. The domain raises
:class:`RegistryError`; the HTTP layer turns it into ``{"errors":[{code,message,detail}]}``."""

from __future__ import annotations

from typing import Any

STATUS = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOO_MANY_REQUESTS": 429,
    "TAG_INVALID": 400,
    "PAGINATION_NUMBER_INVALID": 400,
    "RANGE_INVALID": 416,
    "MANIFEST_TOO_LARGE": 413,  # the spec has no code for it; status is what clients read
}

MESSAGES = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "blob unknown to registry",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "The operation is unsupported.",
    "TOO_MANY_REQUESTS": "too many requests",
    "TAG_INVALID": "manifest tag did not match URI",
    "PAGINATION_NUMBER_INVALID": "invalid number of results requested",
    "RANGE_INVALID": "invalid content range",
    "MANIFEST_TOO_LARGE": "manifest too large",
}


class RegistryError(Exception):
    def __init__(self, code: str, message: str | None = None, detail: Any = None,
                 status: int | None = None, headers: dict[str, str] | None = None):
        self.code = code
        # Response headers the error needs (WWW-Authenticate, an upload's Range ...).
        self.headers = dict(headers or {})
        self.message = message or MESSAGES.get(code, code.lower())
        self.detail = detail
        self.status = status or STATUS.get(code, 400)
        super().__init__(f"{code}: {self.message}")

    def to_dict(self) -> dict[str, Any]:
        # MANIFEST_TOO_LARGE is not a spec code: clients see SIZE_INVALID with a 413.
        code = "SIZE_INVALID" if self.code == "MANIFEST_TOO_LARGE" else self.code
        body: dict[str, Any] = {"code": code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body
