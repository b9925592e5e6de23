"""Alarms from gateways' events: open, repeat, clear, page, escalate, resolve.

A gateway sends ``kind="alarm"`` events (edge.alarms.contract: type, state
active|cleared, severity, point, rule, value, detail) and ``kind="action"`` events
for its local actions. Ingest hands both to this module inside its transaction:

- a raise opens an alarm for (gateway, device, type), or counts a repeat of the open
  one; a clear closes it. A closed alarm is never reopened: the next raise is a new
  row. The partial unique index ``uq_alarms_open_source_type`` holds this even
  against a concurrent batch.
- ``FLAP_CYCLES`` raises of one source and type within ``FLAP_WINDOW`` make the
  newest alarm *flapping*: it is not paged, its clears leave it open, and
  ``run_due`` closes it once the source has stayed clear for the window.
- an alarm in a silence (a maintenance window) is recorded but not paged.
- alarms of one type in one building (or property, for gateways placed in no
  building) within ``GROUP_WINDOW`` form a group, paged once by its first alarm.
- a paged alarm starts an escalation (the property's policy for the alarm's trade,
  else its policy for every trade, else "the trade's on-call person at once");
  ``run_due(session, now)`` fires the later steps. Acknowledging or clearing
  cancels it, and on clear everyone told "firing" is told "resolved".

Every notice is one outbox message per recipient subscription (``outbox.enqueue``),
so it is sent only if the change commits, and its row is the delivery record.

``on_raised(callback)`` registers what runs, in the same transaction, when a new
alarm opens (not for repeats, and not for flapping alarms; silenced and grouped
alarms do call it, since their source still needs a visit): the work-order service
uses it with the alarm's ``work_order_trade`` and ``work_order_urgency``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloud.db import is_postgresql
from cloud.models import (
    OPEN_ALARM_STATES,
    Alarm,
    AlarmAction,
    AlarmChange,
    AlarmEscalation,
    AlarmRuleSet,
    AlarmSilence,
    AlarmState,
    EscalationPolicy,
    Gateway,
    Meter,
    MeterPoint,
    OnCallRota,
    Property,
    PushSubscription,
    Trade,
)
from cloud.services import outbox
from cloud.services.access import Scope
from cloud.services.errors import ConflictError
from cloud.services.events import on_event
from sync.schema import Event

logger = logging.getLogger(__name__)

FLAP_CYCLES = 3
FLAP_WINDOW = timedelta(minutes=10)
GROUP_WINDOW = timedelta(minutes=5)
RUNNING, DONE, CANCELLED = "running", "done", "cancelled"

TRADE_OF_TYPE: dict[str, Trade] = {
    "water_leak": Trade.PLUMBING,
    "smoke": Trade.FIRE,
    "fire": Trade.FIRE,
    "lift_fault": Trade.LIFT,
    "power_loss": Trade.ELECTRICAL,
    "threshold": Trade.ELECTRICAL,
}
"""Who is called for an alarm type; any other type goes to ``general``. A property
overrides it with the ``trades`` of its alarm rule set."""

WORK_ORDER_OF_TYPE: dict[str, tuple[str, str]] = {
    "water_leak": ("plumbing", "urgent"),
    "smoke": ("fire", "emergency"),
    "fire": ("fire", "emergency"),
    "equipment_fault": ("general", "normal"),
    "lift_fault": ("lift", "urgent"),
}
"""(trade, urgency) of the work order an alarm type calls for; other types none."""

DEFAULT_STEPS: list[dict[str, Any]] = [{"after_s": 0, "on_call": True}]

RaisedHook = Callable[[Session, Alarm], None]
_RAISED_HOOKS: list[RaisedHook] = []


def on_raised(callback: RaisedHook) -> RaisedHook:
    """Call ``callback(session, alarm)`` inside the transaction whenever a new alarm
    opens (see the module docstring for which); usable as a decorator."""
    _RAISED_HOOKS.append(callback)
    return callback


# --- events from gateways ---------------------------------------------------------


@on_event("alarm")
def _on_alarm_event(session: Session, gateway: Gateway, event: Event) -> None:
    apply_alarm_event(session, gateway, event, now=datetime.now(UTC))


@on_event("action")
def _on_action_event(session: Session, gateway: Gateway, event: Event) -> None:
    record_action(session, gateway, event)


def apply_alarm_event(
    session: Session, gateway: Gateway, event: Event, *, now: datetime
) -> Alarm | None:
    """Apply one raise or clear (once per gateway and seq); the alarm it touched."""
    state = str(event.data.get("state", ""))
    alarm_type = str(event.data.get("type") or "")
    if state not in ("active", "cleared") or not alarm_type:
        logger.warning(
            "%s: alarm event seq %d without a type or state: %r",
            event.device_id,
            event.seq,
            event.data,
        )
        return None
    if not _first_time(session, gateway.id, event):
        return None
    at = event.ts if event.clock_trusted else now
    open_alarm = _open_alarm(session, gateway.id, event.device_id, alarm_type)
    if state == "active":
        alarm = _raise(session, gateway, event, open_alarm, at=at, now=now)
    elif open_alarm is not None:
        alarm = _clear(session, open_alarm, at=at, now=now)
    else:
        alarm = None
    _change_row(session, gateway.id, event.seq).alarm_id = alarm.id if alarm else None
    return alarm


def record_action(session: Session, gateway: Gateway, event: Event) -> None:
    """Keep a local action's report, tied to the open alarm that triggered it."""
    data = event.data
    trigger_type = str(data.get("trigger") or "")
    trigger_device = str(data.get("trigger_device") or "")
    alarm = _open_alarm(session, gateway.id, trigger_device, trigger_type)
    values = {
        "gateway_id": gateway.id,
        "seq": event.seq,
        "organization_id": gateway.organization_id,
        "property_id": gateway.property_id,
        "alarm_id": alarm.id if alarm else None,
        "type": str(data.get("type") or "")[:64],
        "target": str(data.get("target") or event.device_id)[:64],
        "trigger_type": trigger_type[:64],
        "trigger_device": trigger_device[:64],
        "verified": bool(data.get("verified")),
        "detail": str(data.get("detail") or "")[:1000],
        "latency_ms": int(data.get("latency_ms") or 0),
        "attempt": int(data.get("attempt") or 1),
        "ts": event.ts,
    }
    insert = postgresql.insert if is_postgresql(session) else sqlite.insert
    session.execute(insert(AlarmAction).values(**values).on_conflict_do_nothing())


def _first_time(session: Session, gateway_id: str, event: Event) -> bool:
    insert = postgresql.insert if is_postgresql(session) else sqlite.insert
    statement = (
        insert(AlarmChange)
        .values(
            gateway_id=gateway_id,
            seq=event.seq,
            state=str(event.data["state"]),
            ts=event.ts,
            received_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing()
        .returning(AlarmChange.seq)
    )
    return session.execute(statement).scalar_one_or_none() is not None


def _change_row(session: Session, gateway_id: str, seq: int) -> AlarmChange:
    change = session.get(AlarmChange, (gateway_id, seq))
    assert change is not None  # inserted by _first_time in this transaction
    return change


def _open_alarm(
    session: Session, gateway_id: str, device_id: str, alarm_type: str
) -> Alarm | None:
    return session.scalar(
        sa.select(Alarm).where(
            Alarm.gateway_id == gateway_id,
            Alarm.device_id == device_id,
            Alarm.type == alarm_type,
            Alarm.state.in_(OPEN_ALARM_STATES),
        )
    )


# --- raise and clear ---------------------------------------------------------------


def _raise(
    session: Session,
    gateway: Gateway,
    event: Event,
    open_alarm: Alarm | None,
    *,
    at: datetime,
    now: datetime,
) -> Alarm:
    data = event.data
    if open_alarm is not None:
        open_alarm.occurrences += 1
        open_alarm.last_raised_at = at
        open_alarm.source_state, open_alarm.source_changed_at = "active", at
        open_alarm.value = _text(data.get("value"), 64)
        open_alarm.updated_at = now
        return open_alarm

    alarm = _new_alarm(session, gateway, event, at=at, now=now)
    alarm.flapping = _recent_raises(session, alarm, at) >= FLAP_CYCLES - 1
    session.add(alarm)
    session.flush()
    if alarm.flapping:
        logger.info("alarm %d (%s) is flapping: not paged", alarm.id, alarm.type)
        return alarm

    alarm.silence_id = _silence_for(session, alarm, at)
    leader = _group_leader(session, alarm, at)
    alarm.group_id = leader.id if leader is not None else alarm.id
    if alarm.silence_id is None and leader is None:
        alarm.paged = True
        start_escalation(session, alarm, now=now)
    for hook in _RAISED_HOOKS:
        hook(session, alarm)
    return alarm


def _new_alarm(
    session: Session, gateway: Gateway, event: Event, *, at: datetime, now: datetime
) -> Alarm:
    data = event.data
    alarm_type = str(data["type"])[:64]
    building_id, unit_id = _location(session, gateway, event.device_id)
    trade = trade_for(session, gateway.property_id, alarm_type)
    work_order = WORK_ORDER_OF_TYPE.get(alarm_type)
    place = gateway.property_id if gateway.property_id is not None else gateway.id
    return Alarm(
        organization_id=gateway.organization_id,
        property_id=gateway.property_id,
        building_id=building_id,
        unit_id=unit_id,
        gateway_id=gateway.id,
        device_id=event.device_id,
        point=_text(data.get("point"), 64),
        rule=_text(data.get("rule"), 64),
        type=alarm_type,
        severity=str(data.get("severity") or "major")[:16],
        state=AlarmState.ACTIVE,
        value=_text(data.get("value"), 64),
        detail=_text(data.get("detail"), 1000),
        raised_at=at,
        last_raised_at=at,
        occurrences=1,
        flapping=False,
        source_state="active",
        source_changed_at=at,
        trade=trade,
        work_order_trade=work_order[0] if work_order else None,
        work_order_urgency=work_order[1] if work_order else None,
        group_key=f"{place}:{building_id or '-'}:{alarm_type}",
        paged=False,
        updated_at=now,
    )


def _clear(session: Session, alarm: Alarm, *, at: datetime, now: datetime) -> Alarm:
    alarm.source_state, alarm.source_changed_at = "cleared", at
    alarm.updated_at = now
    if not alarm.flapping:
        close(session, alarm, at=at, now=now)
    return alarm


def close(session: Session, alarm: Alarm, *, at: datetime, now: datetime) -> None:
    """Clear an open alarm: stop its escalation and tell those paged it is over."""
    alarm.state = AlarmState.CLEARED
    alarm.cleared_at = at
    alarm.updated_at = now
    escalation = session.get(AlarmEscalation, alarm.id)
    if escalation is None:
        return
    _stop(escalation)
    _notify(session, alarm, escalation.notified, "resolved", "resolved")


def acknowledge(
    session: Session, scope: Scope, alarm_id: int, *, now: datetime
) -> Alarm:
    """Someone is on it: the escalation stops; the alarm stays open until cleared."""
    alarm = scope.get_for_write(session, Alarm, alarm_id)
    if alarm.state != AlarmState.ACTIVE:
        raise ConflictError(f"Alarm {alarm_id} is {alarm.state}, not active.")
    alarm.state = AlarmState.ACKNOWLEDGED
    alarm.acknowledged_at = now
    alarm.acknowledged_by = scope.actor.user_id
    alarm.updated_at = now
    escalation = session.get(AlarmEscalation, alarm.id)
    if escalation is not None:
        _stop(escalation)
    return alarm


def _recent_raises(session: Session, alarm: Alarm, at: datetime) -> int:
    """Alarms of the same source and type raised within the flap window."""
    return int(
        session.scalar(
            sa.select(sa.func.count()).where(
                Alarm.gateway_id == alarm.gateway_id,
                Alarm.device_id == alarm.device_id,
                Alarm.type == alarm.type,
                Alarm.raised_at > at - FLAP_WINDOW,
            )
        )
        or 0
    )


def _silence_for(session: Session, alarm: Alarm, at: datetime) -> int | None:
    if alarm.property_id is None:
        return None
    matches = (
        sa.select(AlarmSilence.id)
        .where(
            AlarmSilence.property_id == alarm.property_id,
            AlarmSilence.starts_at <= at,
            AlarmSilence.ends_at > at,
            _unset_or(AlarmSilence.building_id, alarm.building_id),
            _unset_or(AlarmSilence.equipment_id, alarm.equipment_id),
            _unset_or(AlarmSilence.device_id, alarm.device_id),
            _unset_or(AlarmSilence.alarm_type, alarm.type),
        )
        .order_by(AlarmSilence.id)
        .limit(1)
    )
    return session.scalar(matches)


def _unset_or(column: Any, value: object) -> sa.ColumnElement[bool]:
    if value is None:
        return column.is_(None)
    return sa.or_(column.is_(None), column == value)


def _group_leader(session: Session, alarm: Alarm, at: datetime) -> Alarm | None:
    return session.scalar(
        sa.select(Alarm)
        .where(
            Alarm.group_key == alarm.group_key,
            Alarm.id != alarm.id,
            Alarm.paged.is_(True),
            Alarm.state.in_(OPEN_ALARM_STATES),
            Alarm.raised_at > at - GROUP_WINDOW,
        )
        .order_by(Alarm.raised_at)
        .limit(1)
    )


def _location(
    session: Session, gateway: Gateway, device_id: str
) -> tuple[int | None, int | None]:
    """(building, unit): a meter read through the device places it at its meter
    point; otherwise the gateway's building."""
    point = session.execute(
        sa.select(MeterPoint.building_id, MeterPoint.unit_id)
        .join(Meter, Meter.meter_point_id == MeterPoint.id)
        .where(
            Meter.gateway_id == gateway.id,
            Meter.device_id == device_id,
            Meter.removed_at.is_(None),
        )
        .limit(1)
    ).first()
    if point is not None:
        return point.building_id or gateway.building_id, point.unit_id
    return gateway.building_id, None


def trade_for(session: Session, property_id: int | None, alarm_type: str) -> str:
    """The trade called for ``alarm_type``: the property's override, else the
    default table, else general."""
    if property_id is not None:
        latest = latest_rule_set(session, property_id)
        if latest is not None and alarm_type in latest.trades:
            return str(latest.trades[alarm_type])
    return str(TRADE_OF_TYPE.get(alarm_type, Trade.GENERAL))


def latest_rule_set(session: Session, property_id: int) -> AlarmRuleSet | None:
    return session.scalar(
        sa.select(AlarmRuleSet)
        .where(AlarmRuleSet.property_id == property_id)
        .order_by(AlarmRuleSet.version.desc())
        .limit(1)
    )


def _text(value: object, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


# --- escalation ----------------------------------------------------------------------


def start_escalation(session: Session, alarm: Alarm, *, now: datetime) -> None:
    policy = _policy_for(session, alarm)
    escalation = AlarmEscalation(
        alarm_id=alarm.id,
        policy_id=policy.id if policy else None,
        steps=list(policy.steps) if policy else DEFAULT_STEPS,
        repeat=policy.repeat if policy else 0,
        repeat_interval_s=policy.repeat_interval_s if policy else 0,
        paged_at=now,
        cycle=0,
        next_step=0,
        next_at=now + timedelta(seconds=_after(policy.steps[0] if policy else {})),
        state=RUNNING,
        notified=[],
    )
    session.add(escalation)
    _advance(session, alarm, escalation, now)


def _policy_for(session: Session, alarm: Alarm) -> EscalationPolicy | None:
    if alarm.property_id is None:
        return None
    return session.scalar(
        sa.select(EscalationPolicy)
        .where(
            EscalationPolicy.property_id == alarm.property_id,
            sa.or_(
                EscalationPolicy.trade == alarm.trade, EscalationPolicy.trade.is_(None)
            ),
        )
        # the trade's own policy before the catch-all
        .order_by(EscalationPolicy.trade.is_(None), EscalationPolicy.id)
        .limit(1)
    )


def _after(step: dict[str, Any]) -> int:
    return int(step.get("after_s", 0))


def _advance(
    session: Session, alarm: Alarm, escalation: AlarmEscalation, now: datetime
) -> None:
    """Fire every step that is due by ``now``, in order, and schedule the next."""
    steps = escalation.steps
    cycle_s = _after(steps[-1]) + escalation.repeat_interval_s
    while (
        escalation.state == RUNNING
        and escalation.next_at is not None
        and escalation.next_at <= now
    ):
        told = _fire(session, alarm, escalation, steps[escalation.next_step], now)
        escalation.notified = sorted(set(escalation.notified) | told)
        if escalation.next_step + 1 < len(steps):
            escalation.next_step += 1
        elif escalation.cycle < escalation.repeat:
            escalation.cycle += 1
            escalation.next_step = 0
        else:
            escalation.state, escalation.next_at = DONE, None
            break
        escalation.next_at = escalation.paged_at + timedelta(
            seconds=escalation.cycle * cycle_s + _after(steps[escalation.next_step])
        )


def _fire(
    session: Session,
    alarm: Alarm,
    escalation: AlarmEscalation,
    step: dict[str, Any],
    now: datetime,
) -> set[int]:
    users = {int(u) for u in step.get("user_ids", [])}
    rotas = [session.get(OnCallRota, int(r)) for r in step.get("rota_ids", [])]
    if step.get("on_call") and alarm.property_id is not None:
        rotas += _trade_rotas(session, alarm.property_id, alarm.trade)
    users |= {u for rota in rotas if rota and (u := on_call(rota, now)) is not None}
    if not users:
        logger.warning(
            "alarm %d: escalation step %d of cycle %d reaches nobody",
            alarm.id,
            escalation.next_step,
            escalation.cycle,
        )
    label = f"firing:{escalation.cycle}:{escalation.next_step}"
    _notify(session, alarm, users, "firing", label)
    return users


def _trade_rotas(session: Session, property_id: int, trade: str) -> list[OnCallRota]:
    """The trade's rotas, or the general ones when the trade has none."""
    for wanted in (trade, Trade.GENERAL):
        rotas = list(
            session.scalars(
                sa.select(OnCallRota)
                .where(
                    OnCallRota.property_id == property_id, OnCallRota.trade == wanted
                )
                .order_by(OnCallRota.id)
            )
        )
        if rotas:
            return rotas
    return []


def on_call(rota: OnCallRota, now: datetime) -> int | None:
    """The member whose shift covers ``now`` (the first before the rota starts)."""
    if not rota.members:
        return None
    shifts = max(0, int((now - rota.starts_at) / timedelta(hours=rota.shift_hours)))
    return int(rota.members[shifts % len(rota.members)])


def _stop(escalation: AlarmEscalation) -> None:
    if escalation.state == RUNNING:
        escalation.state, escalation.next_at = CANCELLED, None


def _notify(
    session: Session, alarm: Alarm, users: Iterable[int], state: str, label: str
) -> None:
    user_ids = sorted(set(users))
    if not user_ids:
        return
    subscriptions = session.scalars(
        sa.select(PushSubscription)
        .where(
            PushSubscription.user_id.in_(user_ids),
            PushSubscription.organization_id == alarm.organization_id,
        )
        .order_by(PushSubscription.id)
    )
    payload = notice(session, alarm, state)
    for subscription in subscriptions:
        outbox.enqueue(
            session,
            organization_id=alarm.organization_id,
            channel=subscription.channel,
            recipient=f"user:{subscription.user_id}",
            target=subscription.target,
            topic=f"alarm:{alarm.id}",
            payload=payload,
            dedup_key=f"alarm:{alarm.id}:{label}:{subscription.id}",
        )


def notice(session: Session, alarm: Alarm, state: str) -> dict[str, Any]:
    """What a technician's phone shows: what, where, how urgent."""
    place = session.get(Property, alarm.property_id) if alarm.property_id else None
    where = place.name if place is not None else f"gateway {alarm.gateway_id}"
    title = f"{alarm.severity.upper()} {alarm.type} at {where}"
    if state == "resolved":
        title = f"Resolved: {alarm.type} at {where}"
    return {
        "title": title,
        "body": f"{alarm.device_id} ({alarm.point or alarm.type}), {alarm.trade}",
        "alarm_id": alarm.id,
        "state": state,
        "type": alarm.type,
        "severity": alarm.severity,
        "source": f"{alarm.gateway_id}/{alarm.device_id}",
        "property_id": alarm.property_id,
        "building_id": alarm.building_id,
        "unit_id": alarm.unit_id,
        "trade": alarm.trade,
        "work_order_urgency": alarm.work_order_urgency,
        "raised_at": alarm.raised_at.isoformat(),
        "cleared_at": alarm.cleared_at.isoformat() if alarm.cleared_at else None,
    }


# --- the periodic job ----------------------------------------------------------------


def run_due(session: Session, now: datetime) -> int:
    """Fire due escalation steps and close flapping alarms that stayed clear; the
    number of alarms touched. The app calls it every few seconds; tests with their
    own clock."""
    touched = 0
    due = session.execute(
        sa.select(AlarmEscalation, Alarm)
        .join(Alarm, Alarm.id == AlarmEscalation.alarm_id)
        .where(AlarmEscalation.state == RUNNING, AlarmEscalation.next_at <= now)
        .order_by(AlarmEscalation.next_at)
        .with_for_update(skip_locked=True, of=AlarmEscalation)
    ).all()
    for escalation, alarm in due:
        _advance(session, alarm, escalation, now)
        touched += 1
    quiet = session.scalars(
        sa.select(Alarm).where(
            Alarm.flapping.is_(True),
            Alarm.state.in_(OPEN_ALARM_STATES),
            Alarm.source_state == "cleared",
            Alarm.source_changed_at <= now - FLAP_WINDOW,
        )
    ).all()
    for alarm in quiet:
        close(session, alarm, at=alarm.source_changed_at, now=now)
        touched += 1
    return touched
