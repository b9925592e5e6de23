"""The demo's live view: devices and readings polled, buffered, synced, each second."""

from __future__ import annotations

import time

from rich.console import Group
from rich.live import Live
from rich.table import Table

from pams.demo import DemoRun, Progress


def watch(run: DemoRun, duration_s: float | None, *, live: bool) -> Progress:
    """Refresh progress until the duration is over (or Ctrl-C); returns the last."""
    deadline = None if duration_s is None else time.monotonic() + duration_s
    progress = run.progress()
    if not live:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(1)
            progress = run.progress(progress)
        return progress
    try:
        with Live(render(run, progress), refresh_per_second=2) as view:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(1)
                progress = run.progress(progress)
                view.update(render(run, progress))
    except KeyboardInterrupt:
        pass
    return progress


def render(run: DemoRun, progress: Progress) -> Group:
    devices = Table(title=f"Building gateway → cloud at {run.cloud_url}")
    devices.add_column("device")
    devices.add_column("protocol")
    devices.add_column("status")
    for device_id, (protocol, online) in sorted(progress.devices.items()):
        status = "[green]online[/]" if online else "[red]offline[/]"
        devices.add_row(device_id, protocol, status)
    flow = Table(title="Readings (Ctrl-C to stop and drain)")
    for column in ("polled", "buffered", "synced", "in cloud", "cloud"):
        flow.add_column(column, justify="right")
    flow.add_row(
        f"{progress.committed:,}",
        f"{progress.buffered:,}",
        f"{progress.synced:,}",
        f"{progress.in_cloud:,}",
        "[green]up[/]" if progress.cloud_up else "[yellow]unreachable[/]",
    )
    return Group(devices, flow)
