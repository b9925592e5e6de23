"""Complaints answered and rated; an anonymous survey answered once per resident,
with aggregated results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import SurveyResponse
from tests.cloud.helpers import Login, created
from tests.cloud.maintenance_setup import API, make_site


def test_a_complaint_is_answered_and_rated(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    site = make_site(app, client, admin)

    complaint = created(
        client.post(
            f"{API}/complaints",
            json={
                "unit_id": site.unit_id,
                "category": "noise",
                "text": "Drilling after 22:00 next door.",
            },
            headers=site.tenant,
        )
    )
    early_rating = client.post(
        f"{API}/complaints/{complaint['id']}/rating",
        json={"rating": 2},
        headers=site.tenant,
    )
    tenant_answers = client.post(
        f"{API}/complaints/{complaint['id']}/answer",
        json={"response": "Me too"},
        headers=site.tenant,
    )
    answered = client.post(
        f"{API}/complaints/{complaint['id']}/answer",
        json={"response": "We reminded the neighbour of the quiet hours."},
        headers=site.manager,
    )
    rated = client.post(
        f"{API}/complaints/{complaint['id']}/rating",
        json={"rating": 4},
        headers=site.tenant,
    )
    mine = client.get(f"{API}/me/complaints", headers=site.tenant).json()
    answered_list = client.get(
        f"{API}/complaints", params={"status": "answered"}, headers=site.manager
    )
    bogus_status = client.get(
        f"{API}/complaints", params={"status": "done"}, headers=site.manager
    )

    assert early_rating.status_code == 409
    assert "has no answer yet" in early_rating.json()["detail"]
    assert tenant_answers.status_code == 403
    assert answered.json()["status"] == "answered"
    assert rated.json()["rating"] == 4
    assert [c["id"] for c in mine["data"]] == [complaint["id"]]
    assert [c["id"] for c in answered_list.json()["data"]] == [complaint["id"]]
    assert bogus_status.status_code == 422
    assert "status" in bogus_status.text and "'answered'" in bogus_status.text


def test_an_anonymous_survey_counts_each_resident_once(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    site = make_site(app, client, admin)
    now = datetime.now(UTC)
    survey = created(
        client.post(
            f"{API}/surveys",
            json={
                "property_id": site.property_id,
                "title": "Service in 2026",
                "anonymous": True,
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "closes_at": (now + timedelta(days=7)).isoformat(),
                "questions": [
                    {"text": "Repairs", "kind": "rating"},
                    {
                        "text": "Best channel",
                        "kind": "choice",
                        "choices": ["app", "sms"],
                    },
                    {"text": "Anything else?", "kind": "text"},
                ],
            },
            headers=site.manager,
        )
    )
    answers = f"{API}/surveys/{survey['id']}/responses"

    wrong_count = client.post(answers, json={"answers": [5]}, headers=site.tenant)
    six = client.post(answers, json={"answers": [6, "app", None]}, headers=site.tenant)
    first = client.post(
        answers, json={"answers": [4, "app", "Faster lifts"]}, headers=site.tenant
    )
    again = client.post(
        answers, json={"answers": [1, "sms", None]}, headers=site.tenant
    )
    staff = client.post(
        answers, json={"answers": [5, "sms", None]}, headers=site.technician
    )
    results = client.get(f"{API}/surveys/{survey['id']}/results", headers=site.manager)
    tenant_results = client.get(
        f"{API}/surveys/{survey['id']}/results", headers=site.tenant
    )
    with app.state.pams.session_factory() as session:
        names = session.scalars(
            sa.select(SurveyResponse.user_id).where(
                SurveyResponse.survey_id == survey["id"]
            )
        ).all()

    assert "1 answers for 3 questions" in wrong_count.json()["detail"][0]["msg"]
    assert (
        "Answer 1 (6) does not fit the rating question"
        in (six.json()["detail"][0]["msg"])
    )
    assert first.status_code == staff.status_code == 201
    assert again.status_code == 409
    assert names == [None, None]
    assert results.json() == {
        "survey_id": survey["id"],
        "responses": 2,
        "questions": [
            {
                "text": "Repairs",
                "kind": "rating",
                "answers": 2,
                "mean": "4.50",
                "counts": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1},
            },
            {
                "text": "Best channel",
                "kind": "choice",
                "answers": 2,
                "counts": {"app": 1, "sms": 1},
            },
            {
                "text": "Anything else?",
                "kind": "text",
                "answers": 1,
                "texts": ["Faster lifts"],
            },
        ],
    }
    assert tenant_results.status_code == 403
