"""The door state machine, driven by contact changes and a clock we set."""

from __future__ import annotations

from drivers.osdp.door import UNLOCK_GRACE_S, Door


def kinds(changes: list) -> list[str]:
    return [change.kind for change in changes]


def door_closed_at_baseline(held_open_s: float = 10.0) -> Door:
    door = Door(held_open_s=held_open_s)
    assert kinds(door.contact(False, 0.0)) == ["door_closed"]
    return door


def test_first_report_is_a_baseline_without_alarm() -> None:
    door = Door(held_open_s=10.0)

    changes = door.contact(True, 100.0)

    assert kinds(changes) == ["door_opened"]
    assert changes[0].data == {"initial": True, "authorised": False}
    assert door.tick(1000.0) == []


def test_opening_without_unlock_is_forced() -> None:
    door = door_closed_at_baseline()

    changes = door.contact(True, 5.0)

    assert kinds(changes) == ["door_opened", "door_forced"]
    assert changes[0].data["authorised"] is False


def test_opening_within_the_unlock_window_is_authorised() -> None:
    door = door_closed_at_baseline()
    door.grant(10.0, 5.0)

    assert kinds(door.contact(True, 14.0)) == ["door_opened"]


def test_opening_just_after_the_window_is_still_ours_within_the_grace() -> None:
    door = door_closed_at_baseline()
    door.grant(10.0, 5.0)

    assert kinds(door.contact(True, 15.0 + UNLOCK_GRACE_S - 0.01)) == ["door_opened"]


def test_opening_after_the_window_and_grace_is_forced() -> None:
    door = door_closed_at_baseline()
    door.grant(10.0, 5.0)

    assert "door_forced" in kinds(door.contact(True, 15.0 + UNLOCK_GRACE_S + 0.01))


def test_held_open_once_past_the_threshold_counted_from_opening() -> None:
    door = door_closed_at_baseline(held_open_s=10.0)
    door.grant(0.0, 5.0)
    door.contact(True, 2.0)

    assert door.tick(12.0) == []
    held = door.tick(12.5)
    assert kinds(held) == ["door_held_open"]
    assert held[0].data == {"open_s": 10.5, "held_open_s": 10.0}
    assert door.tick(30.0) == []


def test_closing_reports_how_long_it_was_open_and_rearms() -> None:
    door = door_closed_at_baseline(held_open_s=10.0)
    door.grant(0.0, 5.0)
    door.contact(True, 1.0)

    closed = door.contact(False, 4.0)

    assert kinds(closed) == ["door_closed"]
    assert closed[0].data == {"initial": False, "open_s": 3.0}
    assert door.tick(100.0) == []


def test_a_forced_door_is_not_also_held_open() -> None:
    door = door_closed_at_baseline(held_open_s=1.0)
    door.contact(True, 0.0)

    assert door.tick(100.0) == []


def test_repeated_reports_of_the_same_state_change_nothing() -> None:
    door = door_closed_at_baseline()

    assert door.contact(False, 1.0) == []


def test_revoke_restores_the_previous_window() -> None:
    door = door_closed_at_baseline()
    previous = door.grant(0.0, 5.0)
    door.revoke(previous)

    assert "door_forced" in kinds(door.contact(True, 1.0))
