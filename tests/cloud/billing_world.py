"""Billing records of the access-matrix world, made on first use per property.

Invoices come from real billing runs over one past day each (so runs never clash):
a one-off charge of the tenant (or of the third person) is billed, and the run is
approved unless a draft is wanted.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from cloud.models import Invoice, Tariff
from cloud.services import billing, billing_runs, payments
from tests.cloud.world import Side, World, fresh

_days = itertools.count(1)
_made: dict[tuple[int, str], int] = {}  # by the Side object: one per world
FIRST_DAY = date(2020, 1, 1)


def fresh_day() -> date:
    """A past day no other run of the world has used."""
    return FIRST_DAY + timedelta(days=next(_days))


def _once(side: Side, what: str, make: Any) -> int:
    key = (id(side), what)
    if key not in _made:
        _made[key] = make()
    return _made[key]


def made(side: Side, what: str) -> int:
    """A record made earlier for ``side``, for the list rows' targets."""
    return _made[(id(side), what)]


def tariff_id(w: World, s: Side) -> int:
    def make() -> int:
        with w.acting(s) as (session, _):
            record = Tariff(
                property_id=s.property_id,
                meter_kind="electricity",
                name=fresh("tariff"),
                kind="flat",
                currency="CNY",
                timezone="Asia/Shanghai",
                cycle_months=12,
                cycle_start_month=1,
                boundary="inclusive_upper",
            )
            session.add(record)
            session.flush()
            return record.id

    return _once(s, "tariff", make)


def fresh_run(w: World, s: Side, *, person: str = "tenant", approve: bool) -> int:
    """A run of one new day that bills a one-off charge of ``person``; its id."""
    tariff_id(w, s)
    day = fresh_day()
    person_id = s.tenant_person_id if person == "tenant" else s.other_person_id
    with w.acting(s) as (session, scope):
        billing.add_one_off_charge(
            session,
            scope,
            property_id=s.property_id,
            amount=Decimal("50.00"),
            description="Key replacement",
            person_id=person_id,
            source="test",
            source_ref=fresh("ref"),
            charge_date=day,
        )
        run = billing_runs.run_billing(
            session,
            scope,
            property_id=s.property_id,
            first=day,
            last=day,
            now=datetime.now(UTC),
        )
        if approve:
            billing_runs.approve_run(session, scope, run.id, today=day)
        return run.id


def fresh_invoice(w: World, s: Side, *, person: str = "tenant") -> int:
    """An issued invoice of the tenant (or of the third person)."""
    run_id = fresh_run(w, s, person=person, approve=True)
    with w.acting(s) as (session, _):
        found = session.query(Invoice.id).filter(Invoice.run_id == run_id).first()
        assert found is not None
        return int(found[0])


def invoice_id(w: World, s: Side) -> int:
    return _once(s, "invoice", lambda: fresh_invoice(w, s))


def other_invoice_id(w: World, s: Side) -> int:
    return _once(s, "other-invoice", lambda: fresh_invoice(w, s, person="other"))


def run_id(w: World, s: Side) -> int:
    return _once(s, "run", lambda: fresh_run(w, s, approve=False))


def one_off_id(w: World, s: Side) -> int:
    def make() -> int:
        with w.acting(s) as (session, scope):
            return billing.add_one_off_charge(
                session,
                scope,
                property_id=s.property_id,
                amount=Decimal("10.00"),
                description="Parking card",
                person_id=s.tenant_person_id,
                source="test",
                source_ref=fresh("pending"),
                charge_date=date(2199, 1, 1),
            ).id

    return _once(s, "one-off", make)


def payment_id(w: World, s: Side) -> int:
    def make() -> int:
        invoice_id(w, s)
        with w.acting(s) as (session, scope):
            return payments.record_payment(
                session,
                scope,
                property_id=s.property_id,
                person_id=s.tenant_person_id,
                amount=Decimal("20.00"),
                received_at=datetime.now(UTC),
                method="bank_transfer",
                reference=fresh("pay"),
            ).id

    return _once(s, "payment", make)


def credit_holder(w: World, s: Side) -> int:
    """A new person of the side with 5.00 of credit (a payment with nothing owed)."""
    person = w.fresh_person(s)
    with w.acting(s) as (session, scope):
        payments.record_payment(
            session,
            scope,
            property_id=s.property_id,
            person_id=person,
            amount=Decimal("5.00"),
            received_at=datetime.now(UTC),
            method="cash",
            reference=fresh("cash"),
        )
    return person


def refund_id(w: World, s: Side) -> int:
    def make() -> int:
        person = credit_holder(w, s)
        with w.acting(s) as (session, scope):
            return payments.refund(
                session,
                scope,
                property_id=s.property_id,
                person_id=person,
                amount=Decimal("5.00"),
                refunded_at=datetime.now(UTC),
                reference=None,
            ).id

    return _once(s, "refund", make)
