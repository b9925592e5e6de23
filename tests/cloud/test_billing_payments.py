"""Payments, refunds, statements, credit notes, dunning and reports on a March
invoice of 7310.00 (rent 2200.00, deposit 5000.00, electricity 110.00) issued on
1 April and due on 15 April 2026."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cloud.models import OneOffCharge, OutboxMessage, Reminder
from cloud.services import billing_runs, dunning
from cloud.services.access import Scope
from cloud.services.billing_reports import _bucket
from cloud.services.billing_runs import CounterAllocator
from tests.cloud.billing_site import Site, make_site, run_march
from tests.cloud.helpers import Login

ISSUED = date(2026, 4, 1)


@dataclass
class Billed:
    site: Site
    invoice: dict[str, Any]

    @property
    def property_id(self) -> int:
        return self.site.property_id

    @property
    def tenant_id(self) -> int:
        return int(self.site.tenant["id"])


@pytest.fixture
def acting(app: FastAPI, admin: Login) -> Iterator[tuple[Session, Scope]]:
    with app.state.pams.session_factory() as session:
        scope = Scope.system(admin.organization_id, "test")
        scope.bind(session)
        yield session, scope


@pytest.fixture
def billed(client: TestClient, admin: Login, acting: tuple[Session, Scope]) -> Billed:
    site = make_site(client, admin)
    run = run_march(client, admin, site)
    session, scope = acting
    billing_runs.approve_run(session, scope, run["id"], today=ISSUED)
    session.commit()
    invoice = client.get(
        f"/api/v1/billing/invoices/{run['invoice_ids'][0]}", headers=admin.headers
    ).json()
    return Billed(site, invoice)


def _pay(
    client: TestClient, admin: Login, billed: Billed, amount: str, **fields: Any
) -> Any:
    body = {
        "property_id": billed.property_id,
        "person_id": billed.tenant_id,
        "amount": amount,
        "received_at": "2026-04-10T02:00:00Z",
    }
    return client.post(
        "/api/v1/billing/payments", json=body | fields, headers=admin.headers
    )


def _invoice(client: TestClient, admin: Login, billed: Billed) -> dict[str, Any]:
    answer = client.get(
        f"/api/v1/billing/invoices/{billed.invoice['id']}", headers=admin.headers
    )
    return dict(answer.json())


def test_a_partial_payment_goes_to_the_oldest_lines_first(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    answer = _pay(client, admin, billed, "3000.00")

    assert answer.status_code == 201, answer.text
    payment = answer.json()
    lines = {line["id"]: line["kind"] for line in billed.invoice["lines"]}
    went = [(lines[a["invoice_line_id"]], a["amount"]) for a in payment["allocations"]]
    assert went == [("rent", "2200.00"), ("deposit", "800.00")]
    assert Decimal(payment["unallocated"]) == 0
    invoice = _invoice(client, admin, billed)
    assert (invoice["status"], invoice["paid"]) == ("partially_paid", "3000.00")


def test_an_over_payment_leaves_credit_that_only_a_refund_pays_out(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    paid = _pay(client, admin, billed, "8000.00")
    refund = {
        "property_id": billed.property_id,
        "person_id": billed.tenant_id,
        "refunded_at": "2026-04-12T02:00:00Z",
    }

    too_much = client.post(
        "/api/v1/billing/refunds",
        json=refund | {"amount": "690.01"},
        headers=admin.headers,
    )
    exact = client.post(
        "/api/v1/billing/refunds",
        json=refund | {"amount": "690.00"},
        headers=admin.headers,
    )

    assert Decimal(paid.json()["unallocated"]) == Decimal("690.00")
    assert _invoice(client, admin, billed)["status"] == "paid"
    assert too_much.status_code == 422
    assert "more than the credit balance 690.00" in too_much.text
    assert exact.status_code == 201, exact.text
    (balance,) = client.get(
        f"/api/v1/billing/properties/{billed.property_id}/balances",
        headers=admin.headers,
    ).json()
    assert (balance["outstanding"], balance["credit"]) == ("0.00", "0.00")


def test_a_payment_reference_is_taken_once(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    first = _pay(client, admin, billed, "10.00", reference="BANK-1")
    second = _pay(client, admin, billed, "10.00", reference="BANK-1")

    assert first.status_code == 201
    assert second.status_code == 409
    assert "already has bank_transfer reference 'BANK-1'" in second.text


def test_a_statement_keeps_good_rows_and_rejects_each_bad_one_with_its_reason(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    number = billed.invoice["number"]
    content = (
        "transaction_id,date,amount,reference\n"
        f"T1,2026-04-11,7310.00,Payment {number} thanks\n"
        f"T2,11/04/2026,10.00,{number}\n"
        f"T3,2026-04-11,ten,{number}\n"
        "T4,2026-04-11,5.00,no invoice named\n"
        f"T1,2026-04-11,7310.00,{number}\n"
        f"T5,2026-04-11,-3.00,{number}\n"
    )

    answer = client.post(
        f"/api/v1/billing/properties/{billed.property_id}/statements",
        files={"file": ("statement.csv", content.encode(), "text/csv")},
        headers=admin.headers,
    )

    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["imported"], result["rejected"]) == (1, 5)
    reasons = {error["line"]: error["message"] for error in result["errors"]}
    assert "is not YYYY-MM-DD" in reasons[3]
    assert "is not a number" in reasons[4]
    assert "names no issued invoice" in reasons[5]
    assert "already has bank_statement reference 'T1'" in reasons[6]
    assert "not a positive amount" in reasons[7]
    assert _invoice(client, admin, billed)["status"] == "paid"


def test_a_statement_without_its_columns_is_refused_with_the_reason(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    answer = client.post(
        f"/api/v1/billing/properties/{billed.property_id}/statements",
        files={"file": ("s.csv", b"date,amount\n2026-04-11,1.00\n", "text/csv")},
        headers=admin.headers,
    )

    assert answer.status_code == 422
    assert "lacks the columns ['reference', 'transaction_id']" in answer.text


def test_the_export_lists_issued_lines_payments_and_refunds_as_csv_and_json(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    _pay(client, admin, billed, "7400.00", reference="BANK-9")
    refunded = client.post(
        "/api/v1/billing/refunds",
        json={
            "property_id": billed.property_id,
            "person_id": billed.tenant_id,
            "amount": "90.00",
            "refunded_at": "2026-04-12T02:00:00Z",
            "reference": "BACK-1",
        },
        headers=admin.headers,
    )
    assert refunded.status_code == 201, refunded.text
    path = f"/api/v1/billing/properties/{billed.property_id}/export"
    span = {"first": "2026-04-01", "last": "2026-04-30"}

    as_json = client.get(path, params=span, headers=admin.headers).json()
    as_csv = client.get(path, params=span | {"format": "csv"}, headers=admin.headers)

    records = [(row["record"], row["date"], row["amount"]) for row in as_json["data"]]
    assert records == [
        ("invoice", "2026-04-01", "2200.00"),
        ("invoice", "2026-04-01", "5000.00"),
        ("invoice", "2026-04-01", "110.00"),
        ("payment", "2026-04-10", "7400.00"),
        ("refund", "2026-04-12", "-90.00"),
    ]
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0].startswith("record,number,date")
    assert f"{billed.invoice['number']}/3" in as_csv.text


def test_a_credit_note_credits_what_remains_and_never_more(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    path = f"/api/v1/billing/invoices/{billed.invoice['id']}/credit-notes"
    body = {"reason": "Meter misread", "amounts": {"3": "110.00"}}

    note = client.post(path, json=body, headers=admin.headers)
    again = client.post(
        path, json={"reason": "Again", "amounts": {"3": "0.01"}}, headers=admin.headers
    )

    assert note.status_code == 201, note.text
    assert note.json()["number"].startswith("CN-") and note.json()["total"] == "-110.00"
    assert (
        note.json()["lines"][0]["credits_line_id"] == billed.invoice["lines"][2]["id"]
    )
    assert again.status_code == 422
    assert "more than the 0.00 CNY that remains" in again.text


def test_crediting_a_paid_line_turns_what_was_paid_on_it_into_credit(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    paid = _pay(client, admin, billed, "7310.00")
    note = client.post(
        f"/api/v1/billing/invoices/{billed.invoice['id']}/credit-notes",
        json={"reason": "Meter misread", "amounts": {"3": "40.00"}},
        headers=admin.headers,
    )
    balances = client.get(
        f"/api/v1/billing/properties/{billed.property_id}/balances",
        headers=admin.headers,
    )
    refund = client.post(
        "/api/v1/billing/refunds",
        json={
            "property_id": billed.property_id,
            "person_id": billed.tenant_id,
            "amount": "40.00",
            "refunded_at": "2026-04-12T02:00:00Z",
        },
        headers=admin.headers,
    )
    payment = client.get(
        f"/api/v1/billing/payments/{paid.json()['id']}", headers=admin.headers
    ).json()

    assert note.status_code == 201, note.text
    (row,) = balances.json()
    assert (row["outstanding"], row["credit"]) == ("0.00", "40.00")
    invoice = _invoice(client, admin, billed)
    assert (invoice["status"], invoice["paid"]) == ("paid", "7270.00")
    # the release is a negative allocation of the same payment: nothing is edited
    assert [a["amount"] for a in payment["allocations"]][-1] == "-40.00"
    assert sum(Decimal(a["amount"]) for a in payment["allocations"]) == Decimal(
        "7270.00"
    )
    assert refund.status_code == 201, refund.text


def test_dunning_charges_late_fees_once_a_day_and_reminds_through_the_outbox(
    client: TestClient, admin: Login, billed: Billed, acting: tuple[Session, Scope]
) -> None:
    session, _ = acting
    settings = client.patch(
        "/api/v1/billing/settings",
        json={
            "reminder_channel": "webhook",
            "reminder_target": "https://fin.example/h",
        },
        headers=admin.headers,
    )
    assert settings.status_code == 200, settings.text
    org = admin.organization_id

    day5 = datetime(2026, 4, 20, 4, tzinfo=UTC)  # 20 April in Shanghai: 5 days late
    first = dunning.run_dunning(session, org, now=day5)
    repeat = dunning.run_dunning(session, org, now=day5)
    day6 = dunning.run_dunning(session, org, now=datetime(2026, 4, 21, 4, tzinfo=UTC))
    session.commit()

    fees = session.scalars(
        sa.select(OneOffCharge.amount)
        .where(
            OneOffCharge.kind == "late_fee",
            OneOffCharge.property_id == billed.property_id,
        )
        .order_by(OneOffCharge.id)
    ).all()
    # 5 days × 0.1 %: rent 11.00, deposit 25.00, electricity 0.55 → minimum 1.00;
    # a day later only the increments: 2.20, 5.00, and 0.11 (1.00 already covers 0.66).
    assert fees == [Decimal(v) for v in ("11.00", "25.00", "1.00", "2.20", "5.00")]
    assert (first.late_fees, repeat.late_fees, day6.late_fees) == (3, 0, 2)
    assert (first.reminders, repeat.reminders, day6.reminders) == (1, 0, 0)
    (message,) = session.scalars(
        sa.select(OutboxMessage).where(
            OutboxMessage.topic == f"invoice:{billed.invoice['id']}:reminder"
        )
    ).all()
    assert message.channel == "webhook"
    assert message.payload["outstanding"] == "7310.00"
    assert message.payload["days_from_due"] == 0


def test_reminders_stop_once_the_invoice_is_paid(
    client: TestClient, admin: Login, billed: Billed, acting: tuple[Session, Scope]
) -> None:
    session, _ = acting
    org = admin.organization_id
    dunning.run_dunning(session, org, now=datetime(2026, 4, 13, 4, tzinfo=UTC))
    session.commit()
    _pay(client, admin, billed, "7310.00")

    later = dunning.run_dunning(session, org, now=datetime(2026, 4, 23, 4, tzinfo=UTC))
    session.commit()

    stages = session.scalars(
        sa.select(Reminder.offset_days).where(
            Reminder.invoice_id == billed.invoice["id"]
        )
    ).all()
    assert stages == [-3]
    assert later.reminders == 0 and later.late_fees == 0


def test_reports_add_up_the_stored_amounts(
    client: TestClient, admin: Login, billed: Billed, acting: tuple[Session, Scope]
) -> None:
    session, _ = acting
    _pay(client, admin, billed, "3655.00")
    dunning.run_dunning(
        session, admin.organization_id, now=datetime(2026, 4, 13, 4, tzinfo=UTC)
    )
    session.commit()
    span = {
        "first": "2026-03-01",
        "last": "2026-04-30",
        "property_id": billed.property_id,
    }

    income = _report(client, admin, "income", span)
    collection = _report(client, admin, "collection", span)
    consumption = _report(client, admin, "consumption", span)
    dunning_figures = _report(client, admin, "dunning", span)
    arrears = _report(client, admin, "arrears", {"property_id": billed.property_id})

    assert {(row["charge_type"], row["amount"]) for row in income["income"]} == {
        ("rent", "2200.00"),
        ("deposit", "5000.00"),
        ("electricity", "110.00"),
    }
    assert income["received"] == [
        {"month": "2026-04", "property_id": billed.property_id, "amount": "3655.00"}
    ]
    assert collection["collection_rate"] == "0.5000"
    assert consumption["units"] == [
        {
            "unit_id": billed.site.estate.units[0]["id"],
            "supply": "electricity",
            "quantity": "220",
        }
    ]
    assert (dunning_figures["reminders"], dunning_figures["automatic_share"]) == (
        1,
        "1.0000",
    )
    over_90 = [b for b in arrears["buckets"] if b["days"] == ">90"]
    assert Decimal(arrears["total"]) == Decimal("3655.00")
    assert over_90 == [{"days": ">90", "amount": "3655.00"}]


def test_a_report_span_that_ends_before_it_starts_is_refused(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    answer = client.get(
        "/api/v1/billing/reports/income",
        params={"first": "2026-04-30", "last": "2026-03-01"},
        headers=admin.headers,
    )

    assert answer.status_code == 422
    assert "last 2026-03-01 is before first 2026-04-30" in answer.text


def test_document_numbers_stay_gapless_under_concurrent_issuing(
    app: FastAPI, admin: Login, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers; the row lock matters on PostgreSQL")
    taken: list[int] = []
    guard = threading.Lock()

    def issue_ten() -> None:
        for _ in range(10):
            with app.state.pams.session_factory() as session:
                number = CounterAllocator(session).allocate(
                    str(admin.organization_id), "INV", 2031
                )
                session.commit()
            with guard:
                taken.append(number)

    workers = [threading.Thread(target=issue_ten) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(taken) == list(range(1, 41))


def _report(
    client: TestClient, admin: Login, name: str, params: dict[str, Any]
) -> dict[str, Any]:
    answer = client.get(
        f"/api/v1/billing/reports/{name}", params=params, headers=admin.headers
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.mark.parametrize(
    ("fields", "status", "field", "reason"),
    [
        pytest.param(
            {"amount": "1.005"}, 422, "amount", "no more than 2 decimal", id="mills"
        ),
        pytest.param({"amount": "0"}, 422, "amount", "must be positive", id="zero"),
        pytest.param(
            {"received_at": "2031-12-04T10:00:00Z"},
            422,
            "received_at",
            "after today",
            id="future",
        ),
        pytest.param(
            {"unit_id": "other"}, 422, "unit_id", "no lease or ownership", id="unit"
        ),
        pytest.param(
            {"person_id": 999_999}, 404, "person_id", "not found", id="person"
        ),
    ],
)
def test_a_payment_that_cannot_be_right_is_refused_and_nothing_is_kept(
    client: TestClient,
    admin: Login,
    billed: Billed,
    fields: dict[str, Any],
    status: int,
    field: str,
    reason: str,
) -> None:
    fields = dict(fields)
    if fields.get("unit_id") == "other":
        fields["unit_id"] = billed.site.estate.units[1]["id"]

    amount = fields.pop("amount", "10.00")

    answer = _pay(client, admin, billed, amount, **fields)

    assert answer.status_code == status, answer.text
    assert reason in answer.text
    assert field in answer.text
    listed = client.get(
        "/api/v1/billing/payments",
        params={"property_id": billed.property_id},
        headers=admin.headers,
    )
    assert listed.json()["count"] == 0


def test_money_is_answered_in_cents(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    answer = _pay(client, admin, billed, "1e3")

    assert answer.status_code == 201, answer.text
    assert answer.json()["amount"] == "1000.00"


def test_a_refund_to_nobody_names_the_person(
    client: TestClient, admin: Login, billed: Billed
) -> None:
    answer = client.post(
        "/api/v1/billing/refunds",
        json={
            "property_id": billed.property_id,
            "person_id": 999_999,
            "amount": "5.00",
            "refunded_at": "2026-04-12T02:00:00Z",
        },
        headers=admin.headers,
    )

    assert answer.status_code == 404, answer.text
    assert "Person 999999 not found" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-1, "not_due"),
        (0, "not_due"),
        (1, "0-30"),
        (30, "0-30"),
        (31, "31-60"),
        (90, "61-90"),
        (91, ">90"),
    ],
)
def test_arrears_aging_buckets_start_the_day_after_the_due_date(
    days: int, bucket: str
) -> None:
    assert _bucket(days) == bucket
