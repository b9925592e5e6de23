"""Notices (with the notice board and receipts), complaints and surveys, and the
residents' own feed under ``/me``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, status
from fastapi.responses import HTMLResponse

from cloud.api.deps import IdPath, IdQuery, PageDep, ScopeDep, SessionDep, StateDep
from cloud.models import Complaint, Notice, NoticeChannel, Survey
from cloud.schemas.common import Listing
from cloud.schemas.community import (
    AffectedUnitPublic,
    ComplaintAnswer,
    ComplaintCreate,
    ComplaintPublic,
    ComplaintRating,
    NoticeChannelCreate,
    NoticeChannelPublic,
    NoticeCreate,
    NoticePublic,
    ReceiptPublic,
    SurveyAnswers,
    SurveyCreate,
    SurveyPublic,
    SurveyResponsePublic,
)
from cloud.services import feedback, notices
from cloud.services.access import Permission
from cloud.services.errors import PermissionDeniedError
from cloud.services.records import fetch_page, list_visible

notices_router = APIRouter(prefix="/notices", tags=["notices"])
channels_router = APIRouter(prefix="/notice-channels", tags=["notices"])
complaints_router = APIRouter(prefix="/complaints", tags=["complaints"])
surveys_router = APIRouter(prefix="/surveys", tags=["surveys"])
me_router = APIRouter(prefix="/me", tags=["mobile"])


def _now() -> datetime:
    return datetime.now(UTC)


@notices_router.get("", response_model=Listing[NoticePublic])
def list_notices(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    """Staff: every notice, scheduled ones too. Residents: the published notices
    of their units."""
    filters = {Notice.property_id: property_id}
    order: list[sa.ColumnElement[Any]] = [
        Notice.publish_at.desc(),
        Notice.id.desc(),
    ]
    rows, count = list_visible(
        session, scope, Notice, page, filters=filters, order_by=order
    )
    return {"data": rows, "count": count}


@notices_router.post(
    "", response_model=NoticePublic, status_code=status.HTTP_201_CREATED
)
def create_notice(session: SessionDep, scope: ScopeDep, body: NoticeCreate) -> Any:
    """Published by ``pams-cloud jobs`` at ``publish_at``."""
    notice = notices.create_notice(session, scope, body.model_dump())
    session.commit()
    return notice


@notices_router.get("/board", response_class=HTMLResponse)
def notice_board(session: SessionDep, scope: ScopeDep, property_id: int) -> Any:
    """A printable page of the property's current notices."""
    return notices.board_html(session, scope, property_id, _now())


@notices_router.get("/{notice_id}", response_model=NoticePublic)
def read_notice(session: SessionDep, scope: ScopeDep, notice_id: IdPath) -> Any:
    return scope.get(session, Notice, notice_id)


@notices_router.get(
    "/{notice_id}/affected-units", response_model=list[AffectedUnitPublic]
)
def list_affected_units(session: SessionDep, scope: ScopeDep, notice_id: IdPath) -> Any:
    notice = scope.get(session, Notice, notice_id)
    return notices.affected_units(session, notice)


@notices_router.get("/{notice_id}/receipts", response_model=list[ReceiptPublic])
def list_receipts(session: SessionDep, scope: ScopeDep, notice_id: IdPath) -> Any:
    """Who was shown the notice in the app and who opened it (staff)."""
    notice = scope.get_for_write(session, Notice, notice_id)
    return notices.receipts(session, notice)


@channels_router.get("", response_model=Listing[NoticeChannelPublic])
def list_channels(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    scope.require(Permission.NOTICES_WRITE)
    filters = {NoticeChannel.property_id: property_id}
    rows, count = list_visible(session, scope, NoticeChannel, page, filters=filters)
    return {"data": rows, "count": count}


@channels_router.post(
    "", response_model=NoticeChannelPublic, status_code=status.HTTP_201_CREATED
)
def create_channel(
    session: SessionDep, scope: ScopeDep, body: NoticeChannelCreate
) -> Any:
    """An apprise URL (SMS gateway, mailing list, chat group) the property's
    notices are also sent to."""
    channel = notices.create_channel(session, scope, body.model_dump())
    session.commit()
    return channel


# --- complaints -------------------------------------------------------------------


@complaints_router.get("", response_model=Listing[ComplaintPublic])
def list_complaints(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    status: Literal["open", "answered", "closed"] | None = None,
) -> Any:
    filters = {Complaint.property_id: property_id, Complaint.status: status}
    rows, count = list_visible(session, scope, Complaint, page, filters=filters)
    return {"data": rows, "count": count}


@complaints_router.post(
    "", response_model=ComplaintPublic, status_code=status.HTTP_201_CREATED
)
def file_complaint(session: SessionDep, scope: ScopeDep, body: ComplaintCreate) -> Any:
    complaint = feedback.file_complaint(session, scope, body.model_dump(), now=_now())
    session.commit()
    return complaint


@complaints_router.get("/{complaint_id}", response_model=ComplaintPublic)
def read_complaint(session: SessionDep, scope: ScopeDep, complaint_id: IdPath) -> Any:
    return scope.get(session, Complaint, complaint_id)


@complaints_router.post("/{complaint_id}/answer", response_model=ComplaintPublic)
def answer_complaint(
    session: SessionDep, scope: ScopeDep, complaint_id: IdPath, body: ComplaintAnswer
) -> Any:
    complaint = feedback.answer_complaint(
        session, scope, complaint_id, response=body.response, close=body.close,
        now=_now(),
    )  # fmt: skip
    session.commit()
    return complaint


@complaints_router.post("/{complaint_id}/rating", response_model=ComplaintPublic)
def rate_complaint(
    session: SessionDep, scope: ScopeDep, complaint_id: IdPath, body: ComplaintRating
) -> Any:
    complaint = feedback.rate_complaint(session, scope, complaint_id, body.rating)
    session.commit()
    return complaint


# --- surveys ----------------------------------------------------------------------


@surveys_router.get("", response_model=Listing[SurveyPublic])
def list_surveys(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    filters = {Survey.property_id: property_id}
    rows, count = list_visible(session, scope, Survey, page, filters=filters)
    return {"data": rows, "count": count}


@surveys_router.post(
    "", response_model=SurveyPublic, status_code=status.HTTP_201_CREATED
)
def create_survey(session: SessionDep, scope: ScopeDep, body: SurveyCreate) -> Any:
    survey = feedback.create_survey(session, scope, body.model_dump())
    session.commit()
    return survey


@surveys_router.get("/{survey_id}", response_model=SurveyPublic)
def read_survey(session: SessionDep, scope: ScopeDep, survey_id: IdPath) -> Any:
    return scope.get(session, Survey, survey_id)


@surveys_router.post(
    "/{survey_id}/responses",
    response_model=SurveyResponsePublic,
    status_code=status.HTTP_201_CREATED,
)
def answer_survey(
    session: SessionDep,
    scope: ScopeDep,
    state: StateDep,
    survey_id: IdPath,
    body: SurveyAnswers,
) -> Any:
    """One answer per question, in order (null skips one); once per person."""
    secret = state.token_policy.signing_key.encode()
    response = feedback.respond(
        session, scope, survey_id, body.answers, secret=secret, now=_now()
    )
    session.commit()
    return response


@surveys_router.get("/{survey_id}/results")
def survey_results(session: SessionDep, scope: ScopeDep, survey_id: IdPath) -> Any:
    """Per question: ratings' mean and counts, choices' counts, the texts."""
    survey = scope.get(session, Survey, survey_id)
    if not scope.can(Permission.WORK_ORDERS_READ, survey.property_id):
        raise PermissionDeniedError(
            f"Only staff of property {survey.property_id} read survey results."
        )
    return feedback.results(session, survey)


# --- residents' own ------------------------------------------------------------------


@me_router.get("/notices", response_model=Listing[NoticePublic])
def my_notices(session: SessionDep, scope: ScopeDep) -> Any:
    """Current notices of the caller's units (all of them, for staff), newest
    first; showing them records their delivery."""
    shown = notices.feed(session, scope, now=_now())
    session.commit()
    return {"data": shown, "count": len(shown)}


@me_router.post("/notices/{notice_id}/read", response_model=ReceiptPublic)
def read_my_notice(session: SessionDep, scope: ScopeDep, notice_id: IdPath) -> Any:
    receipt = notices.mark_read(session, scope, notice_id, now=_now())
    session.commit()
    return receipt


@me_router.get("/complaints", response_model=Listing[ComplaintPublic])
def my_complaints(session: SessionDep, scope: ScopeDep, page: PageDep) -> Any:
    scope.require(Permission.WORK_ORDERS_READ)
    query = (
        scope.visible(Complaint)
        .where(Complaint.requester_user_id == scope.actor.user_id)
        .order_by(Complaint.id.desc())
    )
    rows, count = fetch_page(session, query, page)
    return {"data": rows, "count": count}
