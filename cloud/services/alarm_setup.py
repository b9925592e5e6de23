"""What staff set up around alarms: silences, on-call rotas, escalation policies,
a property's alarm rules, and their own push subscriptions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import (
    AlarmRuleSet,
    AlarmSilence,
    Building,
    Equipment,
    EscalationPolicy,
    Gateway,
    OnCallRota,
    Property,
    PushSubscription,
    RoleGrant,
    User,
)
from cloud.schemas.alarms import (
    PolicyCreate,
    PolicyUpdate,
    RotaCreate,
    RotaUpdate,
    RuleSetUpdate,
    SilenceCreate,
    SilenceUpdate,
    SubscriptionCreate,
)
from cloud.services import commands
from cloud.services.access import Permission, Scope
from cloud.services.alarms import latest_rule_set, on_call
from cloud.services.errors import InvalidInputError, NotFoundError
from cloud.services.records import apply_changes, changes


def _property(session: Session, scope: Scope, property_id: int) -> Property:
    """The property to create under: 404 unless visible, 403 unless the caller
    writes alarm settings there."""
    found = scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.ALARMS_WRITE, found.id)
    return found


# --- silences ------------------------------------------------------------------------


def create_silence(session: Session, scope: Scope, body: SilenceCreate) -> AlarmSilence:
    place = _property(session, scope, body.property_id)
    if body.building_id is not None:
        _in_property(session, Building, body.building_id, place.id, "building_id")
    if body.equipment_id is not None:
        _in_property(session, Equipment, body.equipment_id, place.id, "equipment_id")
    silence = AlarmSilence(**body.model_dump(), created_by=scope.actor.label[:200])
    session.add(silence)
    session.flush()
    return silence


def update_silence(
    session: Session, scope: Scope, silence_id: int, body: SilenceUpdate
) -> AlarmSilence:
    silence = scope.get_for_write(session, AlarmSilence, silence_id)
    given = changes(body, required=frozenset({"ends_at", "reason"}))
    if "ends_at" in given and given["ends_at"] <= silence.starts_at:
        raise InvalidInputError(
            f"ends_at must be after the silence's start, {silence.starts_at}.",
            field="ends_at",
        )
    apply_changes(silence, given)
    session.flush()
    return silence


def _in_property(
    session: Session, model: Any, key: int, property_id: int, field: str
) -> None:
    found = session.scalar(
        sa.select(model.id).where(model.id == key, model.property_id == property_id)
    )
    if found is None:
        raise InvalidInputError(
            f"{field} {key} is not in property {property_id}.", field=field
        )


# --- rotas and policies ------------------------------------------------------------


def create_rota(session: Session, scope: Scope, body: RotaCreate) -> OnCallRota:
    place = _property(session, scope, body.property_id)
    _check_users(session, scope, body.members, place.id, "members")
    rota = OnCallRota(**body.model_dump())
    session.add(rota)
    session.flush()
    return rota


def update_rota(
    session: Session, scope: Scope, rota_id: int, body: RotaUpdate
) -> OnCallRota:
    rota = scope.get_for_write(session, OnCallRota, rota_id)
    given = changes(
        body, required=frozenset({"name", "members", "shift_hours", "starts_at"})
    )
    if "members" in given:
        _check_users(session, scope, given["members"], rota.property_id, "members")
    apply_changes(rota, given)
    session.flush()
    return rota


def create_policy(
    session: Session, scope: Scope, body: PolicyCreate
) -> EscalationPolicy:
    place = _property(session, scope, body.property_id)
    steps = [step.model_dump() for step in body.steps]
    _check_steps(session, scope, steps, place.id)
    policy = EscalationPolicy(
        property_id=place.id,
        trade=body.trade,
        name=body.name,
        steps=steps,
        repeat=body.repeat,
        repeat_interval_s=body.repeat_interval_s,
    )
    session.add(policy)
    session.flush()
    return policy


def update_policy(
    session: Session, scope: Scope, policy_id: int, body: PolicyUpdate
) -> EscalationPolicy:
    policy = scope.get_for_write(session, EscalationPolicy, policy_id)
    given = changes(
        body, required=frozenset({"name", "steps", "repeat", "repeat_interval_s"})
    )
    if "steps" in given:
        _check_steps(session, scope, given["steps"], policy.property_id)
    apply_changes(policy, given)
    session.flush()
    return policy


def _check_steps(
    session: Session, scope: Scope, steps: list[dict[str, Any]], property_id: int
) -> None:
    for index, step in enumerate(steps):
        where = f"steps.{index}"
        _check_users(session, scope, step["user_ids"], property_id, where)
        for rota_id in step["rota_ids"]:
            rota = session.get(OnCallRota, rota_id)
            if rota is None or rota.property_id != property_id:
                raise InvalidInputError(
                    f"{where}: rota {rota_id} is not a rota of property {property_id}.",
                    field=f"{where}.rota_ids",
                )


def _check_users(
    session: Session,
    scope: Scope,
    user_ids: Iterable[int],
    property_id: int,
    field: str,
) -> None:
    """Everyone paged must be a user of the organization who can see the alarm:
    an administrator, or a holder of a role on the property."""
    for user_id in user_ids:
        user = session.get(User, user_id)
        if user is None or user.organization_id != scope.organization_id:
            raise InvalidInputError(f"user {user_id} does not exist.", field=field)
        granted = session.scalar(
            sa.select(RoleGrant.id).where(
                RoleGrant.user_id == user_id, RoleGrant.property_id == property_id
            )
        )
        if not user.is_org_admin and granted is None:
            raise InvalidInputError(
                f"user {user_id} holds no role on property {property_id}.",
                field=field,
            )


def rota_on_call(rota: OnCallRota) -> dict[str, Any]:
    values = {c: getattr(rota, c) for c in ("id", "property_id", "trade", "name")}
    values |= {
        "members": rota.members,
        "shift_hours": rota.shift_hours,
        "starts_at": rota.starts_at,
        "on_call": on_call(rota, datetime.now(UTC)),
    }
    return values


# --- alarm rules ---------------------------------------------------------------------


def put_rules(
    session: Session, scope: Scope, property_id: int, body: RuleSetUpdate
) -> tuple[AlarmRuleSet, list[str]]:
    """Store version N+1 and queue a ``rules_update`` to each of the property's
    gateways; the ids of the commands queued."""
    place = _property(session, scope, property_id)
    latest = latest_rule_set(session, place.id)
    version = (latest.version if latest else 0) + 1
    rules = [rule.model_dump(mode="json", exclude_none=True) for rule in body.rules]
    rule_set = AlarmRuleSet(
        property_id=place.id,
        version=version,
        rules=rules,
        trades={k: str(v) for k, v in body.trades.items()},
        created_by=scope.actor.label[:200],
    )
    session.add(rule_set)
    session.flush()
    gateways = session.scalars(
        sa.select(Gateway)
        .where(Gateway.property_id == place.id, Gateway.revoked_at.is_(None))
        .order_by(Gateway.id)
    ).all()
    queued = [
        commands.queue_command(
            session,
            Scope.system(scope.organization_id, f"alarm rules by {scope.actor.label}"),
            gateway.id,
            kind="rules_update",
            args={"version": version, "rules": rules},
        ).id
        for gateway in gateways
    ]
    return rule_set, queued


def get_rules(session: Session, scope: Scope, property_id: int) -> AlarmRuleSet:
    place = scope.get(session, Property, property_id, field="property_id")
    scope.require_on(Permission.ALARMS_READ, place.id)
    latest = latest_rule_set(session, place.id)
    if latest is None:
        raise NotFoundError(f"Property {property_id} has no alarm rules yet.")
    return latest


# --- subscriptions -------------------------------------------------------------------


def subscribe(
    session: Session, scope: Scope, body: SubscriptionCreate
) -> PushSubscription:
    scope.require(Permission.ALARMS_READ)
    user_id = _user_of(scope)
    subscription = PushSubscription(
        organization_id=scope.organization_id,
        user_id=user_id,
        channel=body.channel,
        target=body.target(),
        label=body.label,
    )
    session.add(subscription)
    session.flush()
    return subscription


def my_subscriptions(session: Session, scope: Scope) -> list[PushSubscription]:
    scope.require(Permission.ALARMS_READ)
    return list(
        session.scalars(
            sa.select(PushSubscription)
            .where(PushSubscription.user_id == _user_of(scope))
            .order_by(PushSubscription.id)
        )
    )


def unsubscribe(session: Session, scope: Scope, subscription_id: int) -> None:
    scope.require(Permission.ALARMS_READ)
    subscription = session.get(PushSubscription, subscription_id)
    if subscription is None or subscription.user_id != _user_of(scope):
        raise NotFoundError(f"Push subscription {subscription_id} not found.")
    session.delete(subscription)
    session.flush()


def _user_of(scope: Scope) -> int:
    if scope.actor.user_id is None:
        raise InvalidInputError("Only a user has push subscriptions.")
    return scope.actor.user_id
