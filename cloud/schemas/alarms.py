"""Alarms, silences, on-call rotas, escalation policies, rule sets, subscriptions."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from cloud.models import Trade
from cloud.schemas.common import Id, Instant, Name, Strict

AlarmType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
DeviceRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
Reason = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f]+$")]
Seconds = Annotated[int, Field(ge=0, le=7 * 86400)]


class AlarmPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int | None
    building_id: int | None
    unit_id: int | None
    equipment_id: int | None
    gateway_id: str
    device_id: str
    point: str | None
    rule: str | None
    type: str
    severity: str
    state: str
    value: str | None
    detail: str | None
    raised_at: datetime
    last_raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    cleared_at: datetime | None
    occurrences: int
    flapping: bool
    trade: str
    work_order_trade: str | None
    work_order_urgency: str | None
    group_id: int | None
    paged: bool
    silence_id: int | None
    updated_at: datetime


class DeliveryPublic(BaseModel):
    """One outbox message of the alarm: to whom, by which channel, and how it went
    (never where to: targets hold secrets)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    recipient: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    state: str | None = None


class ActionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    type: str
    target: str
    verified: bool
    detail: str
    latency_ms: int
    attempt: int
    ts: datetime


class AlarmDetail(AlarmPublic):
    deliveries: list[DeliveryPublic]
    actions: list[ActionPublic]


# --- silences -------------------------------------------------------------------


class SilenceCreate(Strict):
    property_id: Id
    building_id: Id | None = None
    equipment_id: Id | None = None
    device_id: DeviceRef | None = None
    alarm_type: AlarmType | None = None
    starts_at: Instant
    ends_at: Instant
    reason: Reason

    @model_validator(mode="after")
    def _ends_after_start(self) -> SilenceCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SilenceUpdate(Strict):
    ends_at: Instant | None = None
    reason: Reason | None = None


class SilencePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    building_id: int | None
    equipment_id: int | None
    device_id: str | None
    alarm_type: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime


# --- rotas and escalation policies -----------------------------------------------


class RotaCreate(Strict):
    property_id: Id
    trade: Trade
    name: Name
    members: list[Id] = Field(min_length=1, max_length=50)
    shift_hours: int = Field(default=24, ge=1, le=24 * 28)
    starts_at: Instant


class RotaUpdate(Strict):
    name: Name | None = None
    members: list[Id] | None = Field(default=None, min_length=1, max_length=50)
    shift_hours: int | None = Field(default=None, ge=1, le=24 * 28)
    starts_at: Instant | None = None


class RotaPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    trade: str
    name: str
    members: list[int]
    shift_hours: int
    starts_at: datetime
    on_call: int | None = None


class EscalationStep(Strict):
    after_s: Seconds = Field(description="Seconds after the alarm paged.")
    user_ids: list[Id] = Field(default_factory=list, max_length=50)
    rota_ids: list[Id] = Field(default_factory=list, max_length=20)
    on_call: bool = Field(
        default=False, description="The on-call person of the alarm's trade."
    )

    @model_validator(mode="after")
    def _someone(self) -> EscalationStep:
        if not (self.user_ids or self.rota_ids or self.on_call):
            raise ValueError("a step needs user_ids, rota_ids or on_call")
        return self


def _steps_in_order(steps: list[EscalationStep] | None) -> None:
    if steps and any(b.after_s < a.after_s for a, b in itertools.pairwise(steps)):
        raise ValueError("steps must be in order of after_s")


class PolicyCreate(Strict):
    property_id: Id
    trade: Trade | None = Field(default=None, description="Null: every trade.")
    name: Name
    steps: list[EscalationStep] = Field(min_length=1, max_length=20)
    repeat: int = Field(default=0, ge=0, le=20)
    repeat_interval_s: Seconds = 600

    @model_validator(mode="after")
    def _ordered(self) -> PolicyCreate:
        _steps_in_order(self.steps)
        return self


class PolicyUpdate(Strict):
    name: Name | None = None
    steps: list[EscalationStep] | None = Field(default=None, min_length=1)
    repeat: int | None = Field(default=None, ge=0, le=20)
    repeat_interval_s: Seconds | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PolicyUpdate:
        _steps_in_order(self.steps)
        return self


class PolicyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    trade: str | None
    name: str
    steps: list[dict[str, Any]]
    repeat: int
    repeat_interval_s: int


# --- alarm rules (the gateway's rule-set document) ---------------------------------


class AlarmRule(Strict):
    """One rule as the gateway reads it (edge.alarms.rules): exactly one condition."""

    id: DeviceRef
    device: DeviceRef
    point: str | None = Field(default=None, min_length=1, max_length=64)
    type: AlarmType | None = None
    severity: Literal["critical", "major", "minor", "warning"] | None = None
    above: Decimal | None = None
    below: Decimal | None = None
    clear_below: Decimal | None = None
    clear_above: Decimal | None = None
    rate_per_min: Decimal | None = None
    rate_window_s: float = Field(default=60.0, gt=0, le=86400)
    stale_s: float | None = Field(default=None, gt=0)
    offline_s: float | None = Field(default=None, ge=0)
    for_s: float = Field(default=0.0, ge=0)
    hold_s: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_condition(self) -> AlarmRule:
        threshold = self.above is not None or self.below is not None
        kinds = [
            threshold,
            self.rate_per_min is not None,
            self.stale_s is not None,
            self.offline_s is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                f"rule {self.id!r} needs exactly one condition: above/below, "
                "rate_per_min, stale_s or offline_s"
            )
        if (threshold or self.rate_per_min is not None) and self.point is None:
            raise ValueError(f"rule {self.id!r} needs a point for its condition")
        return self


class RuleSetUpdate(Strict):
    rules: list[AlarmRule] = Field(max_length=1000)
    trades: dict[AlarmType, Trade] = Field(
        default_factory=dict, description="Alarm type → trade, over the defaults."
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSetUpdate:
        ids = [rule.id for rule in self.rules]
        if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"rule ids must be unique; repeated: {duplicates}")
        return self


class RuleSetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    property_id: int
    version: int
    rules: list[dict[str, Any]]
    trades: dict[str, str]
    created_by: str
    created_at: datetime
    commands: list[str] = Field(
        default_factory=list, description="rules_update commands queued by this PUT."
    )


# --- subscriptions ---------------------------------------------------------------


class WebPushKeys(Strict):
    p256dh: str = Field(min_length=16, max_length=200)
    auth: str = Field(min_length=8, max_length=100)


class WebPushSubscription(BaseModel):
    """What ``pushManager.subscribe()`` gives a browser or phone."""

    endpoint: AnyHttpUrl
    keys: WebPushKeys


class SubscriptionCreate(Strict):
    channel: Literal["webpush", "webhook", "apprise"]
    subscription: WebPushSubscription | None = Field(
        default=None, description="For webpush."
    )
    url: Annotated[str, Field(min_length=8, max_length=2000)] | None = Field(
        default=None, description="For webhook (http/https) and apprise URLs."
    )
    label: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _target(self) -> SubscriptionCreate:
        if self.channel == "webpush" and self.subscription is None:
            raise ValueError("a webpush subscription needs 'subscription'")
        if self.channel != "webpush" and self.url is None:
            raise ValueError(f"a {self.channel} subscription needs 'url'")
        if self.channel == "webhook" and not (self.url or "").startswith(
            ("http://", "https://")
        ):
            raise ValueError("a webhook url must start with http:// or https://")
        return self

    def target(self) -> str:
        if self.subscription is not None:
            return json.dumps(self.subscription.model_dump(mode="json"))
        assert self.url is not None
        return self.url


class SubscriptionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    channel: str
    label: str
    created_at: datetime
