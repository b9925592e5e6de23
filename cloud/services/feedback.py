"""Complaints and suggestions, and satisfaction surveys with their results.

Residents (owners and tenants) file complaints about their own units or their
property and rate the answer; staff answer. Surveys ask a property's residents
rating (1–5), choice and text questions between two times; an anonymous survey
keeps a keyed hash of the respondent, enough to allow one response each, never
who answered. Results aggregate: the mean and spread of ratings, counts of
choices, the number of texts (and the texts themselves).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import Complaint, Property, Survey, SurveyResponse
from cloud.services.access import Permission, Scope
from cloud.services.equipment import locate
from cloud.services.errors import (
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
)

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"


def _may_write(scope: Scope, property_id: int, unit_id: int | None) -> bool:
    if scope.can(Permission.WORK_ORDERS_WRITE, property_id):
        return True
    own = scope.own_properties.get(Permission.WORK_ORDERS_WRITE, frozenset())
    return property_id in own and (unit_id is None or unit_id in scope.own_unit_ids)


def file_complaint(
    session: Session, scope: Scope, fields: dict[str, Any], *, now: datetime
) -> Complaint:
    unit_id = fields.pop("unit_id")
    where = locate(
        session,
        scope,
        property_id=fields.pop("property_id"),
        building_id=None,
        unit_id=unit_id,
    )
    if not _may_write(scope, where.property_id, where.unit_id):
        raise PermissionDeniedError(
            f"None of your roles grants {Permission.WORK_ORDERS_WRITE} on property "
            f"{where.property_id}."
        )
    complaint = Complaint(
        property_id=where.property_id,
        unit_id=where.unit_id,
        requester_user_id=scope.actor.user_id,
        created_at=now,
        **fields,
    )
    session.add(complaint)
    session.flush()
    return complaint


def answer_complaint(
    session: Session,
    scope: Scope,
    complaint_id: int,
    *,
    response: str,
    close: bool,
    now: datetime,
) -> Complaint:
    complaint = scope.get_for_write(session, Complaint, complaint_id)
    if not scope.can(Permission.WORK_ORDERS_WRITE, complaint.property_id):
        raise PermissionDeniedError(
            f"Only staff of property {complaint.property_id} answer complaints."
        )
    complaint.response, complaint.responded_at = response, now
    complaint.status = CLOSED if close else ANSWERED
    session.flush()
    return complaint


def rate_complaint(
    session: Session, scope: Scope, complaint_id: int, rating: int
) -> Complaint:
    complaint = scope.get(session, Complaint, complaint_id)
    if complaint.requester_user_id != scope.actor.user_id or (
        scope.actor.user_id is None
    ):
        raise PermissionDeniedError(
            f"Only who filed complaint {complaint.id} rates its answer."
        )
    if complaint.response is None:
        raise ConflictError(f"Complaint {complaint.id} has no answer yet to rate.")
    complaint.rating = rating
    session.flush()
    return complaint


# --- surveys -----------------------------------------------------------------------


def create_survey(session: Session, scope: Scope, fields: dict[str, Any]) -> Survey:
    scope.get(session, Property, fields["property_id"], field="property_id")
    scope.require_on(Permission.WORK_ORDERS_WRITE, fields["property_id"])
    if fields["closes_at"] <= fields["opens_at"]:
        raise InvalidInputError("closes_at must be after opens_at.", field="closes_at")
    survey = Survey(**fields)
    session.add(survey)
    session.flush()
    return survey


def respond(
    session: Session,
    scope: Scope,
    survey_id: int,
    answers: list[Any],
    *,
    secret: bytes,
    now: datetime,
) -> SurveyResponse:
    """One response per resident; checked against the questions."""
    survey = scope.get(session, Survey, survey_id)
    user_id = scope.actor.user_id
    if user_id is None or not _may_write(scope, survey.property_id, None):
        raise PermissionDeniedError(
            f"Survey {survey.id} is for residents and staff of property "
            f"{survey.property_id}."
        )
    if not survey.opens_at <= now < survey.closes_at:
        raise ConflictError(
            f"Survey {survey.id} is open from {survey.opens_at.isoformat()} to "
            f"{survey.closes_at.isoformat()}."
        )
    _check_answers(survey.questions, answers)
    key = hmac.new(secret, f"{survey.id}:{user_id}".encode(), hashlib.sha256)
    taken = session.scalar(
        sa.select(SurveyResponse.id).where(
            SurveyResponse.survey_id == survey.id,
            SurveyResponse.respondent_key == key.hexdigest(),
        )
    )
    if taken is not None:
        raise ConflictError(f"You have answered survey {survey.id} already.")
    response = SurveyResponse(
        survey_id=survey.id,
        property_id=survey.property_id,
        respondent_key=key.hexdigest(),
        user_id=None if survey.anonymous else user_id,
        answers=answers,
        submitted_at=now,
    )
    session.add(response)
    session.flush()
    return response


def _check_answers(questions: list[dict[str, Any]], answers: list[Any]) -> None:
    if len(answers) != len(questions):
        raise InvalidInputError(
            f"{len(answers)} answers for {len(questions)} questions; give one per "
            "question (null to skip).",
            field="answers",
        )
    for number, (question, answer) in enumerate(zip(questions, answers, strict=True)):
        if answer is None:
            continue
        kind = question["kind"]
        good = (
            (kind == "rating" and type(answer) is int and 1 <= answer <= 5)
            or (kind == "choice" and answer in question.get("choices", []))
            or (kind == "text" and isinstance(answer, str) and len(answer) <= 4000)
        )
        if not good:
            raise InvalidInputError(
                f"Answer {number + 1} ({answer!r}) does not fit the {kind} question "
                f"{question['text']!r}.",
                field="answers",
            )


def results(session: Session, survey: Survey) -> dict[str, Any]:
    rows = session.scalars(
        sa.select(SurveyResponse.answers).where(SurveyResponse.survey_id == survey.id)
    ).all()
    summary = []
    for number, question in enumerate(survey.questions):
        given = [row[number] for row in rows if row[number] is not None]
        entry: dict[str, Any] = {"text": question["text"], "kind": question["kind"]}
        entry["answers"] = len(given)
        if question["kind"] == "rating":
            mean = Decimal(sum(given)) / len(given) if given else None
            entry["mean"] = (
                None if mean is None else str(mean.quantize(Decimal("0.01")))
            )
            entry["counts"] = {str(k): given.count(k) for k in range(1, 6)}
        elif question["kind"] == "choice":
            counted = Counter(given)
            entry["counts"] = {c: counted[c] for c in question["choices"]}
        else:
            entry["texts"] = given
        summary.append(entry)
    return {"survey_id": survey.id, "responses": len(rows), "questions": summary}
