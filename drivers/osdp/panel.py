"""The thread that owns libosdp's control panel.

libosdp wants ``refresh()`` at least every 50 ms and is not thread-safe, so one
thread owns the panel: it runs the calls other threads hand it, then refreshes, in a
loop. libosdp's callbacks run on this thread too, inside ``refresh()``; the bus
bridges them to its event loop and never calls libosdp from them.

The bindings' own ``osdp.ControlPanel`` wrapper is not used: it also queues every
event for a ``get_event()`` nobody here calls, which grows without bound on a
gateway that runs for months.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
Action = Callable[[Any], Any]


class PanelThread:
    """Runs ``panel.refresh()`` and the actions given to ``call`` on one thread."""

    def __init__(self, panel: Any, *, name: str, interval_s: float) -> None:
        self._panel = panel
        self._interval_s = interval_s
        self._actions: queue.SimpleQueue[tuple[Action, Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop and join; actions not run yet are cancelled."""
        self._stop.set()
        self._thread.join()
        while True:
            try:
                _, future = self._actions.get_nowait()
            except queue.Empty:
                break
            future.cancel()

    def call(self, action: Callable[[Any], T]) -> Future[T]:
        """Run ``action(panel)`` on the panel thread before its next refresh."""
        future: Future[T] = Future()
        if self._stop.is_set():
            future.cancel()
            return future
        self._actions.put((action, future))
        return future

    def _run(self) -> None:
        while not self._stop.is_set():
            self._run_actions()
            try:
                self._panel.refresh()
            except Exception:  # libosdp itself should never raise here
                logger.exception("%s: libosdp refresh failed", self._thread.name)
            self._stop.wait(self._interval_s)

    def _run_actions(self) -> None:
        while True:
            try:
                action, future = self._actions.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(action(self._panel))
            except Exception as exc:
                future.set_exception(exc)
