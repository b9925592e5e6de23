"""Refuse an oversized upload while it arrives, not after it was spooled to disk.

Form parsing writes file parts to temporary files before a route runs, so the
route's own size check comes too late to protect the disk. This middleware counts
the bytes of every ``multipart/form-data`` request as they are received and answers
413 once they pass the upload limit (plus room for the form's framing).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_OVERHEAD_BYTES = 64 * 1024


class _TooLargeError(Exception):
    pass


class UploadLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.limit = max_bytes + FORM_OVERHEAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_form(scope):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _refuse(send, self.limit)
            return
        received = 0
        exceeded = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                exceeded = True
                raise _TooLargeError
            return message

        async def watching_send(message: Message) -> None:
            # Once the limit is passed, whatever the app answers about the broken
            # body (FastAPI says 400) is replaced by the 413.
            nonlocal answered
            if answered:
                return
            if exceeded:
                answered = True
                await _refuse(send, self.limit)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLargeError:
            if not answered:
                await _refuse(send, self.limit)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _is_form(scope: Scope) -> bool:
    content_type = _header(scope, b"content-type") or ""
    return content_type.lower().startswith("multipart/form-data")


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        {"detail": f"The upload exceeds the limit of {limit} bytes with its form."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
