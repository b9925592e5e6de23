"""``POST /api/v1/ingest``: where gateways deliver their batches."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cloud.api.deps import CurrentGateway, SessionDep, StateDep
from cloud.api.state import AppState
from cloud.models import Gateway
from cloud.services import commands, gateways, ingest
from cloud.services.errors import (
    CloudError,
    PayloadTooLargeError,
    PermissionDeniedError,
)
from sync.schema import Batch, BatchAck, HealthAnswer, HealthReport

router = APIRouter(tags=["ingest"])


@router.post("/ingest", response_model=BatchAck)
async def ingest_batch(
    request: Request, session: SessionDep, state: StateDep, gateway: CurrentGateway
) -> BatchAck:
    """Store a ``sync.schema.Batch`` (JSON, optionally gzip) once; answer a BatchAck.

    Sending the same batch again stores nothing and answers ``accepted=0``.
    """
    limit = state.settings.max_body_bytes
    encoding = request.headers.get("content-encoding")
    try:
        body = await _read_body(request, limit)
        return await run_in_threadpool(_ingest, session, gateway, body, encoding, state)
    except (CloudError, RequestValidationError) as exc:
        reason = _reason(exc)
        await run_in_threadpool(gateways.record_rejection, session, gateway, reason)
        raise


def _reason(exc: CloudError | RequestValidationError) -> str:
    if isinstance(exc, CloudError):
        return exc.message
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"The body has {declared} bytes; the limit is {limit}."
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"The body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _ingest(
    session: Session,
    gateway: Gateway,
    body: bytes,
    encoding: str | None,
    state: AppState,
) -> BatchAck:
    received_at = datetime.now(UTC)
    raw = ingest.decode_body(body, encoding, state.settings.max_body_bytes)
    try:
        batch = Batch.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in errors]
        ) from exc
    return ingest.ingest_batch(
        session, gateway, batch, received_at=received_at, tokens=state.token_cipher
    )


@router.post("/gateway/health", response_model=HealthAnswer)
def report_health(
    session: SessionDep, state: StateDep, gateway: CurrentGateway, report: HealthReport
) -> HealthAnswer:
    """Keep what the gateway says of itself; answer with its queued commands and
    the cloud's clock (a gateway without a real-time clock checks its own by it)."""
    if report.gateway_id != gateway.id:
        raise PermissionDeniedError(
            f"The report is for gateway {report.gateway_id!r}, but the token belongs "
            f"to gateway {gateway.id!r}."
        )
    now = datetime.now(UTC)
    gateway.reported_health = report.model_dump(mode="json")
    gateway.health_reported_at = now
    gateway.last_seen_at = now
    queued = commands.deliverable(session, gateway, tokens=state.token_cipher)
    session.commit()
    return HealthAnswer(server_time=datetime.now(UTC), commands=queued)
