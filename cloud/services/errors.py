"""The errors cloud services raise; the API turns each class into one HTTP status.

CloudError
├── AuthenticationError       401: no, wrong, expired or revoked credentials
├── PermissionDeniedError     403: the caller sees the record, but its roles do not
│                                  allow this action on it
├── NotFoundError             404: no such record, or not one the caller may see
├── ConflictError             409: it already exists, or clashes with another record
├── PayloadTooLargeError      413: a body or upload above the configured limit
├── UnsupportedEncodingError  415: a Content-Encoding the server cannot decode
├── UnsupportedContentError   415: an upload that is not a type the server keeps
├── InvalidInputError         422: a value that breaks a rule; names the field
└── BatchRejectedError        422: a batch that is well-formed but inconsistent
"""

from __future__ import annotations


class CloudError(Exception):
    """Base of every error a cloud service raises on purpose.

    ``field`` names the input the error is about, when there is one: the API puts
    it in the error's ``loc``, the CSV import in the row's error.
    """

    status_code = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class AuthenticationError(CloudError):
    """Raised when credentials are missing, wrong, expired or revoked."""

    status_code = 401


class PermissionDeniedError(CloudError):
    """Raised when the caller may see a record but not do what it asked with it."""

    status_code = 403


class NotFoundError(CloudError):
    """Raised when a record does not exist or lies outside what the caller sees."""

    status_code = 404


class ConflictError(CloudError):
    """Raised when a unique key is taken, or a record clashes with another (two
    active leases of one unit, a second meter in service at one point)."""

    status_code = 409


class PayloadTooLargeError(CloudError):
    """Raised when a request body, its decompressed form, or an upload exceeds
    the limit."""

    status_code = 413


class UnsupportedEncodingError(CloudError):
    """Raised for a Content-Encoding other than identity or gzip."""

    status_code = 415


class UnsupportedContentError(CloudError):
    """Raised when an upload's bytes are not a kept type (PDF, PNG, JPEG), or not
    the type it was declared as."""

    status_code = 415


class InvalidInputError(CloudError):
    """Raised when a value breaks a rule, such as a malformed email address."""

    status_code = 422


class BatchRejectedError(CloudError):
    """Raised when a batch parses but breaks a rule, such as a hole in its seqs."""

    status_code = 422
