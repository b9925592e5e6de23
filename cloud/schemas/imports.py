from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RowErrorPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line: int = Field(description="Line of the CSV file; the header is line 1.")
    field: str | None = Field(description="The column, when the error is about one.")
    message: str


class ImportReportPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    dry_run: bool
    rows: int
    created: int = Field(description="Records created, or that a dry run would.")
    errors: list[RowErrorPublic]


class ImportRefused(BaseModel):
    """A 422 answer: the file had errors and nothing was imported."""

    detail: str
    report: ImportReportPublic
