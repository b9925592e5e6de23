"""What other services do with a gateway's events: alarms, command outcomes, ….

Ingest stores every event, then hands each to the handlers registered for its kind,
inside the same transaction: what a handler writes commits with the batch or not at
all. A batch may arrive twice, so handlers must be idempotent on (gateway, seq).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session

from cloud.models import Gateway
from sync.schema import Event

EventHandler = Callable[[Session, Gateway, Event], None]

_HANDLERS: dict[str, list[EventHandler]] = {}
_AFTER_COMMIT: dict[str, Callable[[], None]] = {}


def on_event(kind: str) -> Callable[[EventHandler], EventHandler]:
    """Register a handler for events of ``kind`` (``alarm``, ``command_result`` …)."""

    def register(handler: EventHandler) -> EventHandler:
        _HANDLERS.setdefault(kind, []).append(handler)
        return handler

    return register


def after_commit(name: str, callback: Callable[[], None]) -> None:
    """Call ``callback`` once a batch with handled events has committed (the app
    uses it to wake the outbox worker at once instead of at its next poll); a later
    registration under the same name replaces the earlier."""
    _AFTER_COMMIT[name] = callback


def dispatch(session: Session, gateway: Gateway, events: Iterable[Event]) -> None:
    for event in events:
        for handler in _HANDLERS.get(event.kind, ()):
            handler(session, gateway, event)


def committed(events: Iterable[Event]) -> None:
    if any(event.kind in _HANDLERS for event in events):
        for callback in list(_AFTER_COMMIT.values()):
            callback()
