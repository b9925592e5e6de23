"""Alarms and what surrounds them: silences, rotas, escalation policies, alarm rules,
push subscriptions, and the live stream for consoles."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, status
from fastapi.responses import StreamingResponse

from cloud.api.deps import IdPath, IdQuery, PageDep, ScopeDep, SessionDep, StateDep
from cloud.models import (
    OPEN_ALARM_STATES,
    Alarm,
    AlarmAction,
    AlarmSilence,
    AlarmState,
    EscalationPolicy,
    OnCallRota,
    Trade,
)
from cloud.schemas.alarms import (
    AlarmDetail,
    AlarmPublic,
    PolicyCreate,
    PolicyPublic,
    PolicyUpdate,
    RotaCreate,
    RotaPublic,
    RotaUpdate,
    RuleSetPublic,
    RuleSetUpdate,
    SilenceCreate,
    SilencePublic,
    SilenceUpdate,
    SubscriptionCreate,
    SubscriptionPublic,
)
from cloud.schemas.common import Instant, Listing
from cloud.services import alarm_setup, alarms, outbox
from cloud.services.access import Scope, rule_for
from cloud.services.records import delete_record, list_visible

router = APIRouter(prefix="/alarms", tags=["alarms"])
silences_router = APIRouter(prefix="/alarm-silences", tags=["alarms"])
rotas_router = APIRouter(prefix="/on-call-rotas", tags=["alarms"])
policies_router = APIRouter(prefix="/escalation-policies", tags=["alarms"])
rules_router = APIRouter(prefix="/properties", tags=["alarms"])
subscriptions_router = APIRouter(prefix="/push-subscriptions", tags=["alarms"])

STREAM_POLL_S = 0.5
STREAM_OVERLAP = timedelta(seconds=5)


@router.get("", response_model=Listing[AlarmPublic])
def list_alarms(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    building_id: IdQuery = None,
    state: AlarmState | None = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
    severity: Annotated[str | None, Query(max_length=16)] = None,
    open: bool | None = None,
    since: Instant | None = None,
) -> Any:
    """Newest first; ``open=true`` for active and acknowledged alarms only."""
    conditions: list[sa.ColumnElement[bool]] = []
    if open is not None:
        is_open = Alarm.state.in_(OPEN_ALARM_STATES)
        conditions.append(is_open if open else sa.not_(is_open))
    if since is not None:
        conditions.append(Alarm.raised_at >= since)
    filters = {
        Alarm.property_id: property_id,
        Alarm.building_id: building_id,
        Alarm.state: state,
        Alarm.type: type,
        Alarm.severity: severity,
    }
    rows, count = list_visible(
        session,
        scope,
        Alarm,
        page,
        filters=filters,
        conditions=conditions,
        order_by=[Alarm.raised_at.desc(), Alarm.id.desc()],
    )
    return {"data": rows, "count": count}


@router.get("/stream")
async def stream_alarms(
    state: StateDep,
    scope: ScopeDep,
    duration_s: Annotated[
        float, Query(ge=0, le=3600, description="Close after this long (0: snapshot).")
    ] = 300,
) -> StreamingResponse:
    """Server-sent events: each alarm the caller may see, as it is raised or
    changes (``event: alarm``, data the alarm). Starts with the open alarms;
    EventSource reconnects when the stream ends."""
    scope.require(rule_for(Alarm).read)
    return StreamingResponse(
        _alarm_events(state.session_factory, scope, duration_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _alarm_events(
    sessions: Any, scope: Scope, duration_s: float
) -> AsyncIterator[str]:
    deadline = time.monotonic() + duration_s
    cursor = _Cursor(since=datetime.now(UTC) - STREAM_OVERLAP)
    first = True
    while True:
        changed = await asyncio.to_thread(
            _changed_alarms, sessions, scope, cursor, first
        )
        for alarm in changed:
            yield f"event: alarm\nid: {alarm['id']}\ndata: {json.dumps(alarm)}\n\n"
        first = False
        if time.monotonic() >= deadline:
            return
        if not changed:
            yield ": keep-alive\n\n"
        await asyncio.sleep(STREAM_POLL_S)


@dataclass
class _Cursor:
    """Where a stream stands: changes from ``since`` on, less those already sent
    (alarm id → the ``updated_at`` sent)."""

    since: datetime
    sent: dict[int, datetime] = field(default_factory=dict)


def _changed_alarms(
    sessions: Any, scope: Scope, cursor: _Cursor, first: bool
) -> list[dict[str, Any]]:
    """The open alarms at the first poll, then those changed since."""
    query = scope.visible(Alarm).order_by(Alarm.updated_at, Alarm.id)
    if first:
        query = query.where(Alarm.state.in_(OPEN_ALARM_STATES))
    else:
        query = query.where(Alarm.updated_at >= cursor.since)
    with sessions() as session:
        rows = session.scalars(query.limit(500)).all()
        fresh = [a for a in rows if cursor.sent.get(a.id) != a.updated_at]
        for alarm in fresh:
            cursor.sent[alarm.id] = alarm.updated_at
        if not first and rows:
            # a little behind the newest, for writes that commit out of order
            cursor.since = max(cursor.since, rows[-1].updated_at - STREAM_OVERLAP)
        return [AlarmPublic.model_validate(a).model_dump(mode="json") for a in fresh]


@router.get("/{alarm_id}", response_model=AlarmDetail)
def read_alarm(session: SessionDep, scope: ScopeDep, alarm_id: IdPath) -> Any:
    """With every delivery (to whom, channel, sent or failed and why) and every
    local action the gateway took for it."""
    alarm = scope.get(session, Alarm, alarm_id)
    deliveries = [
        {
            **{c: getattr(m, c) for c in ("id", "channel", "recipient", "status")},
            **{c: getattr(m, c) for c in ("attempts", "created_at", "sent_at")},
            "last_error": m.last_error,
            "state": m.payload.get("state"),
        }
        for m in outbox.deliveries(session, f"alarm:{alarm.id}")
    ]
    actions = session.scalars(
        sa.select(AlarmAction)
        .where(AlarmAction.alarm_id == alarm.id)
        .order_by(AlarmAction.ts)
    ).all()
    detail = AlarmPublic.model_validate(alarm).model_dump()
    return {**detail, "deliveries": deliveries, "actions": actions}


@router.post("/{alarm_id}/acknowledge", response_model=AlarmPublic)
def acknowledge_alarm(session: SessionDep, scope: ScopeDep, alarm_id: IdPath) -> Any:
    """Stops the escalation; 409 unless the alarm is active."""
    alarm = alarms.acknowledge(session, scope, alarm_id, now=datetime.now(UTC))
    session.commit()
    return alarm


# --- silences ------------------------------------------------------------------------


@silences_router.get("", response_model=Listing[SilencePublic])
def list_silences(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    active_at: Instant | None = None,
) -> Any:
    conditions = []
    if active_at is not None:
        conditions = [
            AlarmSilence.starts_at <= active_at,
            AlarmSilence.ends_at > active_at,
        ]
    rows, count = list_visible(
        session,
        scope,
        AlarmSilence,
        page,
        filters={AlarmSilence.property_id: property_id},
        conditions=conditions,
    )
    return {"data": rows, "count": count}


@silences_router.post(
    "", response_model=SilencePublic, status_code=status.HTTP_201_CREATED
)
def create_silence(session: SessionDep, scope: ScopeDep, body: SilenceCreate) -> Any:
    """Alarms that match are still recorded, but nobody is paged."""
    silence = alarm_setup.create_silence(session, scope, body)
    session.commit()
    return silence


@silences_router.get("/{silence_id}", response_model=SilencePublic)
def read_silence(session: SessionDep, scope: ScopeDep, silence_id: IdPath) -> Any:
    return scope.get(session, AlarmSilence, silence_id)


@silences_router.patch("/{silence_id}", response_model=SilencePublic)
def update_silence(
    session: SessionDep, scope: ScopeDep, silence_id: IdPath, body: SilenceUpdate
) -> Any:
    """End it early (or later), or change its reason."""
    silence = alarm_setup.update_silence(session, scope, silence_id, body)
    session.commit()
    return silence


@silences_router.delete("/{silence_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_silence(session: SessionDep, scope: ScopeDep, silence_id: IdPath) -> None:
    delete_record(session, scope, AlarmSilence, silence_id)
    session.commit()


# --- on-call rotas -------------------------------------------------------------------


@rotas_router.get("", response_model=Listing[RotaPublic])
def list_rotas(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    trade: Trade | None = None,
) -> Any:
    filters = {OnCallRota.property_id: property_id, OnCallRota.trade: trade}
    rows, count = list_visible(session, scope, OnCallRota, page, filters=filters)
    return {"data": [alarm_setup.rota_on_call(r) for r in rows], "count": count}


@rotas_router.post("", response_model=RotaPublic, status_code=status.HTTP_201_CREATED)
def create_rota(session: SessionDep, scope: ScopeDep, body: RotaCreate) -> Any:
    """Members take shifts of ``shift_hours`` in turn from ``starts_at``."""
    rota = alarm_setup.create_rota(session, scope, body)
    session.commit()
    return alarm_setup.rota_on_call(rota)


@rotas_router.get("/{rota_id}", response_model=RotaPublic)
def read_rota(session: SessionDep, scope: ScopeDep, rota_id: IdPath) -> Any:
    """With ``on_call``: who is on call now."""
    return alarm_setup.rota_on_call(scope.get(session, OnCallRota, rota_id))


@rotas_router.patch("/{rota_id}", response_model=RotaPublic)
def update_rota(
    session: SessionDep, scope: ScopeDep, rota_id: IdPath, body: RotaUpdate
) -> Any:
    rota = alarm_setup.update_rota(session, scope, rota_id, body)
    session.commit()
    return alarm_setup.rota_on_call(rota)


@rotas_router.delete("/{rota_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rota(session: SessionDep, scope: ScopeDep, rota_id: IdPath) -> None:
    delete_record(session, scope, OnCallRota, rota_id)
    session.commit()


# --- escalation policies -----------------------------------------------------------


@policies_router.get("", response_model=Listing[PolicyPublic])
def list_policies(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    filters = {EscalationPolicy.property_id: property_id}
    rows, count = list_visible(session, scope, EscalationPolicy, page, filters=filters)
    return {"data": rows, "count": count}


@policies_router.post(
    "", response_model=PolicyPublic, status_code=status.HTTP_201_CREATED
)
def create_policy(session: SessionDep, scope: ScopeDep, body: PolicyCreate) -> Any:
    """Used for the property's alarms of its trade (null: of any trade without a
    policy of its own)."""
    policy = alarm_setup.create_policy(session, scope, body)
    session.commit()
    return policy


@policies_router.get("/{policy_id}", response_model=PolicyPublic)
def read_policy(session: SessionDep, scope: ScopeDep, policy_id: IdPath) -> Any:
    return scope.get(session, EscalationPolicy, policy_id)


@policies_router.patch("/{policy_id}", response_model=PolicyPublic)
def update_policy(
    session: SessionDep, scope: ScopeDep, policy_id: IdPath, body: PolicyUpdate
) -> Any:
    """Applies to alarms paged from now on; running escalations keep their steps."""
    policy = alarm_setup.update_policy(session, scope, policy_id, body)
    session.commit()
    return policy


@policies_router.delete("/{policy_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_policy(session: SessionDep, scope: ScopeDep, policy_id: IdPath) -> None:
    delete_record(session, scope, EscalationPolicy, policy_id)
    session.commit()


# --- alarm rules ---------------------------------------------------------------------


@rules_router.get("/{property_id}/alarm-rules", response_model=RuleSetPublic)
def read_alarm_rules(session: SessionDep, scope: ScopeDep, property_id: IdPath) -> Any:
    """The newest version; 404 before the first PUT."""
    return alarm_setup.get_rules(session, scope, property_id)


@rules_router.put("/{property_id}/alarm-rules", response_model=RuleSetPublic)
def put_alarm_rules(
    session: SessionDep, scope: ScopeDep, property_id: IdPath, body: RuleSetUpdate
) -> Any:
    """Stores version N+1 and queues a ``rules_update`` command to each of the
    property's gateways, which install the set or refuse it whole."""
    rule_set, queued = alarm_setup.put_rules(session, scope, property_id, body)
    session.commit()
    return {**RuleSetPublic.model_validate(rule_set).model_dump(), "commands": queued}


# --- push subscriptions ------------------------------------------------------------


@subscriptions_router.get("", response_model=Listing[SubscriptionPublic])
def list_subscriptions(session: SessionDep, scope: ScopeDep) -> Any:
    """The caller's own."""
    rows = alarm_setup.my_subscriptions(session, scope)
    return {"data": rows, "count": len(rows)}


@subscriptions_router.post(
    "", response_model=SubscriptionPublic, status_code=status.HTTP_201_CREATED
)
def subscribe(session: SessionDep, scope: ScopeDep, body: SubscriptionCreate) -> Any:
    """Where the caller is paged: a Web Push subscription, a webhook, an apprise
    URL. Every alarm notice goes to each of the user's subscriptions."""
    subscription = alarm_setup.subscribe(session, scope, body)
    session.commit()
    return subscription


@subscriptions_router.delete(
    "/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT
)
def unsubscribe(session: SessionDep, scope: ScopeDep, subscription_id: IdPath) -> None:
    alarm_setup.unsubscribe(session, scope, subscription_id)
    session.commit()


ROUTERS = (
    router,
    silences_router,
    rotas_router,
    policies_router,
    rules_router,
    subscriptions_router,
)
