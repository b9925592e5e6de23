"""The uplink client: posts one batch to the cloud and returns the cloud's answer.

It knows HTTP and the contract, not the buffer: the gateway decides what goes in a
batch and what to do with each kind of failure, which this module sorts into classes:

    UplinkError
    ├── TransientError       network down, timeout, 5xx, 429: retry the same batch later
    ├── AuthError            401/403: the token was revoked or rotated; retry slowly
    ├── BatchTooLargeError   413: split the batch and send the halves
    ├── BatchRejectedError   422 (or another 4xx): the cloud will never take this batch
    └── AckMismatchError     the cloud acknowledged something other than what was sent
"""

from __future__ import annotations

import gzip
import logging
import ssl
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx
import orjson
from pydantic import ValidationError

from sync.schema import SCHEMA_VERSION, BatchAck, HealthAnswer, HealthReport

logger = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest"
HEALTH_PATH = "/api/v1/gateway/health"


class UplinkError(Exception):
    """Base of the uplink's errors."""


class TransientError(UplinkError):
    """The cloud could not be reached or had a passing failure; retry the same batch."""


class AuthError(UplinkError):
    """The cloud refused the gateway's token (401 or 403)."""


class BatchTooLargeError(UplinkError):
    """The cloud refused the batch as too large (413); send smaller batches."""


class BatchRejectedError(UplinkError):
    """The cloud refused the batch's content; resending it unchanged cannot succeed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"cloud refused the batch with {status}: {detail}")
        self.status = status
        self.detail = detail


class AckMismatchError(UplinkError):
    """The answer does not acknowledge the batch that was sent."""


def encode_batch(
    *,
    gateway_id: str,
    batch_id: str,
    first_seq: int,
    last_seq: int,
    readings: list[dict[str, Any]],
    events: list[dict[str, Any]],
    gaps: list[dict[str, Any]],
    compresslevel: int = 1,
) -> bytes:
    """The gzip-compressed JSON body of one batch, as ``sync.schema.Batch`` reads it.

    Records are plain dicts (timestamps as aware ``datetime``) so a 5,000-record batch
    is not built as 5,000 pydantic objects on a Raspberry Pi, and orjson writes them;
    the contract tests check that the cloud's model accepts exactly what this makes.
    """
    body = {
        "schema_version": SCHEMA_VERSION,
        "gateway_id": gateway_id,
        "batch_id": batch_id,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "sent_at": datetime.now(UTC),
        "readings": readings,
        "events": events,
        "gaps": gaps,
    }
    return gzip.compress(orjson.dumps(body), compresslevel=compresslevel)


class UplinkClient:
    """An HTTP/1.1 keep-alive connection to the cloud's ingest endpoint."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        verify: bool | str | ssl.SSLContext = True,
        timeout_s: float = 15.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._verify = verify
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        verify: bool | ssl.SSLContext = (
            ssl.create_default_context(cafile=self._verify)
            if isinstance(self._verify, str)
            else self._verify
        )
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            verify=verify,
            timeout=self._timeout_s,
            headers={"Authorization": f"Bearer {self._token}"},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def set_token(self, token: str) -> None:
        """Use a new token from now on (after a rotation)."""
        self._token = token
        if self._client is not None:
            self._client.headers["Authorization"] = f"Bearer {token}"

    async def send(
        self, body: bytes, *, batch_id: str, first_seq: int, last_seq: int
    ) -> BatchAck:
        """Post one encoded batch; returns the ack only if it is for this batch."""
        if self._client is None:
            raise RuntimeError("UplinkClient is used outside its 'async with' block")
        try:
            response = await self._client.post(
                INGEST_PATH,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                },
            )
        except httpx.TransportError as exc:
            raise TransientError(f"cloud unreachable: {exc!r}") from exc

        status = response.status_code
        if status in (401, 403):
            raise AuthError(
                f"cloud refused the gateway token ({status}): {_detail(response)}"
            )
        if status == 413:
            raise BatchTooLargeError(_detail(response))
        if status == 429 or status >= 500:
            raise TransientError(f"cloud answered {status}: {_detail(response)}")
        if status >= 400:
            raise BatchRejectedError(status, _detail(response))

        try:
            ack = BatchAck.model_validate_json(response.content)
        except ValidationError as exc:
            raise TransientError(
                f"cloud answered {status} with no valid ack: {exc}"
            ) from exc
        if (ack.batch_id, ack.first_seq, ack.last_seq) != (
            batch_id,
            first_seq,
            last_seq,
        ):
            raise AckMismatchError(
                f"sent batch {batch_id} [{first_seq}, {last_seq}] but the cloud "
                f"acknowledged {ack.batch_id} [{ack.first_seq}, {ack.last_seq}]"
            )
        return ack

    async def report_health(self, report: HealthReport) -> HealthAnswer:
        """Post the gateway's health; the answer carries queued commands."""
        if self._client is None:
            raise RuntimeError("UplinkClient is used outside its 'async with' block")
        try:
            response = await self._client.post(
                HEALTH_PATH,
                content=report.model_dump_json(),
                headers={"Content-Type": "application/json"},
            )
        except httpx.TransportError as exc:
            raise TransientError(f"cloud unreachable: {exc!r}") from exc
        if response.status_code in (401, 403):
            raise AuthError(f"cloud refused the gateway token: {_detail(response)}")
        if response.status_code != 200:
            raise TransientError(f"health report answered {response.status_code}")
        try:
            return HealthAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            raise TransientError(f"health answer not understood: {exc}") from exc


def _detail(response: httpx.Response) -> str:
    """The cloud's error message, short enough for a log line."""
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        detail = response.text
    return str(detail)[:500]
