from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cloud.api.deps import CurrentUser
from cloud.schemas.users import UserPublic

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic)
def read_me(user: CurrentUser) -> Any:
    return user
