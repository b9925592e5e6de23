from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud.schemas.common import Id, Instant, Name, Strict
from cloud.schemas.work_orders import Trade

Text = Annotated[str, Field(min_length=1, max_length=4000)]
NoticeKind = Literal["water_outage", "power_outage", "event", "general"]


class NoticeCreate(Strict):
    property_id: Id
    kind: NoticeKind
    title: Name
    body: Text
    starts_at: Instant | None = Field(
        default=None, description="Of the outage or event; needed for outages."
    )
    ends_at: Instant | None = None
    publish_at: Instant
    expires_at: Instant
    building_ids: list[Id] = Field(
        default_factory=list, max_length=500, description="None: the whole property."
    )
    unit_ids: list[Id] = Field(default_factory=list, max_length=5000)
    send_apprise: bool = Field(
        default=True, description="Also send through the property's notice channels."
    )


class NoticePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    kind: str
    title: str
    body: str
    starts_at: datetime | None
    ends_at: datetime | None
    publish_at: datetime
    expires_at: datetime
    building_ids: list[int]
    whole_property: bool
    published_at: datetime | None


class AffectedUnitPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    building_id: int
    number: str


class ReceiptPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    notice_id: int
    user_id: int
    delivered_at: datetime
    read_at: datetime | None


class NoticeChannelCreate(Strict):
    property_id: Id
    label: Name
    apprise_url: Annotated[
        str, Field(min_length=3, max_length=2000, pattern=r"^\S+://")
    ]


class NoticeChannelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    label: str


class ComplaintCreate(Strict):
    property_id: Id | None = Field(
        default=None, description="Staff only; residents give their unit."
    )
    unit_id: Id | None = None
    kind: Literal["complaint", "suggestion"] = "complaint"
    category: Trade = Field(description="Such as noise, cleaning, security.")
    text: Text


class ComplaintAnswer(Strict):
    response: Text
    close: bool = False


class ComplaintRating(Strict):
    rating: Annotated[int, Field(ge=1, le=5)]


class ComplaintPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    unit_id: int | None
    kind: str
    category: str
    text: str
    requester_user_id: int | None
    status: str
    response: str | None
    responded_at: datetime | None
    rating: int | None
    created_at: datetime


class Question(Strict):
    text: Name
    kind: Literal["rating", "choice", "text"]
    choices: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20
    )

    @model_validator(mode="after")
    def _choices_for_choice(self) -> Question:
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError("choices are given for, and only for, a choice question")
        return self


class SurveyCreate(Strict):
    property_id: Id
    title: Name
    questions: list[Question] = Field(min_length=1, max_length=50)
    anonymous: bool = False
    opens_at: Instant
    closes_at: Instant


class SurveyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    title: str
    questions: list[dict[str, Any]]
    anonymous: bool
    opens_at: datetime
    closes_at: datetime


class SurveyAnswers(Strict):
    answers: list[int | str | None] = Field(max_length=50)


class SurveyResponsePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    survey_id: int
    submitted_at: datetime
