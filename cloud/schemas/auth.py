from __future__ import annotations

from pydantic import BaseModel, Field


class TokenPublic(BaseModel):
    """What a successful login or refresh answers (OAuth2 token response)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type)
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class RefreshCreate(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)
