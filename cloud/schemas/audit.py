from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    action: str = Field(description="insert, update or delete")
    entity: str = Field(description="The table, such as units.")
    entity_id: str
    property_id: int | None
    changes: dict[str, Any] = Field(
        description="Column → [old, new]; secrets read [redacted]."
    )
