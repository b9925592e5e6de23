"""Billing: settings, tariffs, meter readings for billing, runs, invoices, charges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, File, Response, UploadFile, status

from cloud.api.deps import (
    IdPath,
    IdQuery,
    PageDep,
    ScopeDep,
    SessionDep,
    StateDep,
    read_upload,
)
from cloud.models import (
    BillingRun,
    Invoice,
    OneOffCharge,
    Payment,
    Property,
    Refund,
    Tariff,
)
from cloud.models.billing import InvoiceStatus
from cloud.schemas.billing import (
    AllocationPublic,
    BalancePublic,
    BillingRunCreate,
    BillingRunPublic,
    BillingSettingsPublic,
    BillingSettingsUpdate,
    CreditNoteCreate,
    DunningPublic,
    HeldReadingPublic,
    InvoicePublic,
    ManualReadingCreate,
    ManualReadingPublic,
    OneOffChargeCreate,
    OneOffChargePublic,
    PaymentCreate,
    PaymentPublic,
    ReadingReviewCreate,
    ReadingReviewPublic,
    RefundCreate,
    RefundPublic,
    StatementPublic,
    TariffCreate,
    TariffPublic,
    TariffVersionIn,
)
from cloud.schemas.common import Day, Listing
from cloud.services import (
    billing,
    billing_reports,
    billing_runs,
    credit_notes,
    dunning,
    payments,
)
from cloud.services.access import Permission
from cloud.services.records import list_visible

router = APIRouter(prefix="/billing", tags=["billing"])
STATEMENT_HELP = ", ".join(payments.STATEMENT_COLUMNS)


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/settings", response_model=BillingSettingsPublic)
def read_settings(session: SessionDep, scope: ScopeDep) -> Any:
    scope.require(Permission.BILLING_READ)
    return billing.settings_record(session, scope.organization_id)


@router.patch("/settings", response_model=BillingSettingsPublic)
def update_settings(
    session: SessionDep, scope: ScopeDep, body: BillingSettingsUpdate
) -> Any:
    """Organization administrators only: the rules hold for every property."""
    given = body.model_dump(exclude_unset=True)
    if body.late_fee_rules is not None:
        given["late_fee_rules"] = [rule.stored() for rule in body.late_fee_rules]
    given = {
        key: value.value if hasattr(value, "value") else value
        for key, value in given.items()
    }
    record = billing.update_settings(session, scope, given)
    session.commit()
    return record


# --- tariffs --------------------------------------------------------------------


@router.get("/tariffs", response_model=Listing[TariffPublic])
def list_tariffs(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    rows, count = list_visible(
        session, scope, Tariff, page, filters={Tariff.property_id: property_id}
    )
    return {"data": rows, "count": count}


@router.post("/tariffs", response_model=TariffPublic, status_code=201)
def create_tariff(session: SessionDep, scope: ScopeDep, body: TariffCreate) -> Any:
    record = billing.create_tariff(session, scope, body)
    session.commit()
    return record


@router.get("/tariffs/{tariff_id}", response_model=TariffPublic)
def read_tariff(session: SessionDep, scope: ScopeDep, tariff_id: IdPath) -> Any:
    return scope.get(session, Tariff, tariff_id)


@router.post(
    "/tariffs/{tariff_id}/versions", response_model=TariffPublic, status_code=201
)
def add_tariff_version(
    session: SessionDep, scope: ScopeDep, tariff_id: IdPath, body: TariffVersionIn
) -> Any:
    """A price change from ``effective_from`` on; a period spanning it is split."""
    record = billing.add_tariff_version(session, scope, tariff_id, body)
    session.commit()
    return record


# --- readings -------------------------------------------------------------------


@router.post(
    "/meters/{meter_id}/readings",
    response_model=ManualReadingPublic,
    status_code=status.HTTP_201_CREATED,
)
def add_manual_reading(
    session: SessionDep, scope: ScopeDep, meter_id: IdPath, body: ManualReadingCreate
) -> Any:
    """A reading taken by hand (or estimated), billed with the gateway's."""
    record = billing.add_manual_reading(
        session,
        scope,
        meter_id,
        value=body.value,
        taken_at=body.taken_at,
        estimated=body.estimated,
        photo_sha256=body.photo_sha256,
        now=_now(),
    )
    session.commit()
    return record


@router.get(
    "/properties/{property_id}/held-readings", response_model=list[HeldReadingPublic]
)
def list_held_readings(
    session: SessionDep, scope: ScopeDep, property_id: IdPath
) -> Any:
    """Readings the engine set aside, each with its code and reason."""
    return billing.held_readings(session, scope, property_id, now=_now())


@router.post(
    "/meters/{meter_id}/reviews",
    response_model=ReadingReviewPublic,
    status_code=status.HTTP_201_CREATED,
)
def review_reading(
    session: SessionDep, scope: ScopeDep, meter_id: IdPath, body: ReadingReviewCreate
) -> Any:
    record = billing.review_reading(
        session,
        scope,
        meter_id,
        reading_ref=body.reading_ref,
        decision=body.decision,
        note=body.note,
    )
    session.commit()
    return record


# --- runs and invoices ----------------------------------------------------------


def _run_public(session: SessionDep, run: BillingRun) -> BillingRunPublic:
    ids = session.scalars(
        sa.select(Invoice.id).where(Invoice.run_id == run.id).order_by(Invoice.id)
    )
    return BillingRunPublic.model_validate(
        {**BillingRunPublic.model_validate(run).model_dump(), "invoice_ids": list(ids)}
    )


@router.post("/runs", response_model=list[BillingRunPublic], status_code=201)
def create_run(session: SessionDep, scope: ScopeDep, body: BillingRunCreate) -> Any:
    """Draft invoices for the period: one run per property (``all``: every
    property the caller bills). The same period again replaces the drafts."""
    if body.property_id is not None:
        targets = [body.property_id]
    else:
        scope.require(Permission.BILLING_WRITE)
        targets = [
            found.id
            for found in session.scalars(
                scope.visible(Property, Permission.BILLING_WRITE).order_by(Property.id)
            )
        ]
    runs = [
        billing_runs.run_billing(
            session,
            scope,
            property_id=property_id,
            first=body.period_first,
            last=body.period_last,
            now=_now(),
        )
        for property_id in targets
    ]
    session.commit()
    return [_run_public(session, run) for run in runs]


@router.get("/runs", response_model=Listing[BillingRunPublic])
def list_runs(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    rows, count = list_visible(
        session, scope, BillingRun, page, filters={BillingRun.property_id: property_id}
    )
    return {"data": [_run_public(session, run) for run in rows], "count": count}


@router.get("/runs/{run_id}", response_model=BillingRunPublic)
def read_run(session: SessionDep, scope: ScopeDep, run_id: IdPath) -> Any:
    return _run_public(session, scope.get(session, BillingRun, run_id))


@router.delete("/runs/{run_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_run(session: SessionDep, scope: ScopeDep, run_id: IdPath) -> None:
    """Delete a draft run and its draft invoices (an approved run is kept)."""
    billing_runs.delete_run(session, scope, run_id)
    session.commit()


@router.post("/runs/{run_id}/approve", response_model=BillingRunPublic)
def approve_run(session: SessionDep, scope: ScopeDep, run_id: IdPath) -> Any:
    """Issue the run's drafts: numbered gaplessly per organization and year."""
    settings = billing.settings_of(session, scope.organization_id)
    run = billing_runs.approve_run(
        session, scope, run_id, today=billing.local_today(_now(), settings.timezone)
    )
    session.commit()
    return _run_public(session, run)


@router.get("/invoices", response_model=Listing[InvoicePublic])
def list_invoices(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    person_id: IdQuery = None,
    run_id: IdQuery = None,
    status: InvoiceStatus | None = None,
) -> Any:
    filters = {
        Invoice.property_id: property_id,
        Invoice.person_id: person_id,
        Invoice.run_id: run_id,
        Invoice.status: status,
    }
    rows, count = list_visible(session, scope, Invoice, page, filters=filters)
    return {"data": rows, "count": count}


@router.get("/invoices/{invoice_id}", response_model=InvoicePublic)
def read_invoice(session: SessionDep, scope: ScopeDep, invoice_id: IdPath) -> Any:
    return scope.get(session, Invoice, invoice_id)


@router.post(
    "/invoices/{invoice_id}/credit-notes", response_model=InvoicePublic, status_code=201
)
def create_credit_note(
    session: SessionDep, scope: ScopeDep, invoice_id: IdPath, body: CreditNoteCreate
) -> Any:
    """Correct an issued invoice: a numbered negative document, never an edit."""
    settings = billing.settings_of(session, scope.organization_id)
    record = credit_notes.credit_note(
        session,
        scope,
        invoice_id,
        reason=body.reason,
        amounts=body.amounts,
        today=billing.local_today(_now(), settings.timezone),
    )
    session.commit()
    return record


# --- one-off charges ------------------------------------------------------------


@router.get("/one-off-charges", response_model=Listing[OneOffChargePublic])
def list_one_off_charges(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    pending: bool | None = None,
) -> Any:
    conditions = []
    if pending is not None:
        billed = OneOffCharge.invoice_line_id.is_(None)
        conditions.append(billed if pending else ~billed)
    rows, count = list_visible(
        session,
        scope,
        OneOffCharge,
        page,
        filters={OneOffCharge.property_id: property_id},
        conditions=conditions,
    )
    return {"data": rows, "count": count}


@router.post("/one-off-charges", response_model=OneOffChargePublic, status_code=201)
def add_one_off_charge(
    session: SessionDep, scope: ScopeDep, body: OneOffChargeCreate
) -> Any:
    """Put a charge on the payer's next invoice; idempotent on source and ref."""
    record = billing.add_one_off_charge(session, scope, **body.model_dump())
    session.commit()
    return record


# --- payments, refunds, balances, statements, export ---------------------------


def _payment_public(session: SessionDep, record: Payment) -> PaymentPublic:
    allocations = payments.allocations_of(session, record.id)
    return PaymentPublic.model_validate(
        {
            **PaymentPublic.model_validate(record).model_dump(),
            "allocations": [
                AllocationPublic.model_validate(item) for item in allocations
            ],
        }
    )


@router.post("/payments", response_model=PaymentPublic, status_code=201)
def record_payment(session: SessionDep, scope: ScopeDep, body: PaymentCreate) -> Any:
    """Apply a payment to the payer's open items (late fees, then oldest first,
    unless the organization set otherwise); the rest is kept as credit."""
    record = payments.record_payment(session, scope, **body.model_dump())
    session.commit()
    return _payment_public(session, record)


@router.get("/payments", response_model=Listing[PaymentPublic])
def list_payments(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    person_id: IdQuery = None,
) -> Any:
    filters = {Payment.property_id: property_id, Payment.person_id: person_id}
    rows, count = list_visible(session, scope, Payment, page, filters=filters)
    return {"data": [_payment_public(session, row) for row in rows], "count": count}


@router.get("/payments/{payment_id}", response_model=PaymentPublic)
def read_payment(session: SessionDep, scope: ScopeDep, payment_id: IdPath) -> Any:
    return _payment_public(session, scope.get(session, Payment, payment_id))


@router.post("/refunds", response_model=RefundPublic, status_code=201)
def create_refund(session: SessionDep, scope: ScopeDep, body: RefundCreate) -> Any:
    """Pay back credit; never more than the person's credit on that unit."""
    record = payments.refund(session, scope, **body.model_dump())
    session.commit()
    return record


@router.get("/refunds", response_model=Listing[RefundPublic])
def list_refunds(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    rows, count = list_visible(
        session, scope, Refund, page, filters={Refund.property_id: property_id}
    )
    return {"data": rows, "count": count}


@router.get("/properties/{property_id}/balances", response_model=list[BalancePublic])
def read_balances(session: SessionDep, scope: ScopeDep, property_id: IdPath) -> Any:
    """Per person and unit: outstanding, credit held and net (positive: owes)."""
    return payments.balances(session, scope, property_id)


@router.post("/properties/{property_id}/statements", response_model=StatementPublic)
def import_statement(
    session: SessionDep,
    scope: ScopeDep,
    state: StateDep,
    property_id: IdPath,
    file: Annotated[UploadFile, File(description="CSV: " + STATEMENT_HELP)],
) -> Any:
    """Bank or provider statement rows as payments, matched by invoice number in
    ``reference``; each bad row is rejected with its line and reason."""
    content = read_upload(file, state.settings.max_upload_bytes)
    result = payments.import_statement(session, scope, property_id, content)
    session.commit()
    return result.summary()


@router.get("/properties/{property_id}/export", response_model=None)
def export(
    session: SessionDep,
    scope: ScopeDep,
    property_id: IdPath,
    first: Day,
    last: Day,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Issued lines and payments of the days, for the finance system."""
    rows = payments.export_rows(session, scope, property_id, first, last)
    if format == "csv":
        return Response(payments.export_csv(rows), media_type="text/csv")
    return {"data": rows, "count": len(rows)}


# --- dunning and reports ---------------------------------------------------------


@router.post("/dunning/run", response_model=DunningPublic)
def run_dunning(session: SessionDep, scope: ScopeDep) -> Any:
    """Assess late fees and send due reminders now (what the scheduled job does);
    organization administrators only, since it acts on every property."""
    scope.require_org_wide(Permission.BILLING_WRITE)
    result = dunning.run_dunning(session, scope.organization_id, now=_now())
    session.commit()
    return result.summary()


@router.get("/reports/income")
def income_report(
    session: SessionDep,
    scope: ScopeDep,
    first: Day,
    last: Day,
    property_id: IdQuery = None,
) -> dict[str, Any]:
    """Invoiced by month, property and charge type; received; refunds paid out."""
    return billing_reports.income(session, scope, property_id, first, last)


@router.get("/reports/arrears")
def arrears_report(
    session: SessionDep, scope: ScopeDep, property_id: IdQuery = None
) -> dict[str, Any]:
    """Outstanding by days past due: not due, 0-30, 31-60, 61-90, over 90."""
    settings = billing.settings_of(session, scope.organization_id)
    today = billing.local_today(_now(), settings.timezone)
    return billing_reports.arrears(session, scope, property_id, today)


@router.get("/reports/collection")
def collection_report(
    session: SessionDep,
    scope: ScopeDep,
    first: Day,
    last: Day,
    property_id: IdQuery = None,
) -> dict[str, Any]:
    """Of the invoices due in the days: billed, paid and the collection rate."""
    return billing_reports.collection(session, scope, property_id, first, last)


@router.get("/reports/consumption")
def consumption_report(
    session: SessionDep,
    scope: ScopeDep,
    first: Day,
    last: Day,
    property_id: IdQuery = None,
) -> dict[str, Any]:
    """Billed metered quantity per unit and building, by supply."""
    return billing_reports.consumption(session, scope, property_id, first, last)


@router.get("/reports/dunning")
def dunning_report(
    session: SessionDep,
    scope: ScopeDep,
    first: Day,
    last: Day,
    property_id: IdQuery = None,
) -> dict[str, Any]:
    """Reminders sent, the share sent without a person, and the collection rate."""
    return billing_reports.dunning(session, scope, property_id, first, last)
