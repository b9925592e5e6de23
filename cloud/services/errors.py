"""The errors cloud services raise; the API turns each class into one HTTP status.

CloudError
├── AuthenticationError     401: no, wrong, expired or revoked credentials
├── PermissionDeniedError   403: authenticated, but not allowed to do this
├── NotFoundError           404: no such thing in the caller's organization
├── ConflictError           409: it already exists
├── PayloadTooLargeError    413: a body above the configured limit
├── UnsupportedEncodingError 415: a Content-Encoding the server cannot decode
├── InvalidInputError       422: a value that breaks a rule (email, password)
└── BatchRejectedError      422: a batch that is well-formed but inconsistent
"""

from __future__ import annotations


class CloudError(Exception):
    """Base of every error a cloud service raises on purpose."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthenticationError(CloudError):
    """Raised when credentials are missing, wrong, expired or revoked."""

    status_code = 401


class PermissionDeniedError(CloudError):
    """Raised when the caller is known but may not do what it asked."""

    status_code = 403


class NotFoundError(CloudError):
    """Raised when a thing does not exist, or not in the caller's organization."""

    status_code = 404


class ConflictError(CloudError):
    """Raised when creating something whose unique key is already taken."""

    status_code = 409


class PayloadTooLargeError(CloudError):
    """Raised when a request body, or its decompressed form, exceeds the limit."""

    status_code = 413


class UnsupportedEncodingError(CloudError):
    """Raised for a Content-Encoding other than identity or gzip."""

    status_code = 415


class InvalidInputError(CloudError):
    """Raised when a value breaks a rule, such as a malformed email address."""

    status_code = 422


class BatchRejectedError(CloudError):
    """Raised when a batch parses but breaks a rule, such as a hole in its seqs."""

    status_code = 422
