"""SIGKILL at any moment loses at most what was not committed, and never corrupts."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from edge.buffer import Buffer

WRITER = """
import sys
from pathlib import Path
from edge.buffer import Buffer, NewRecord

buffer = Buffer(Path(sys.argv[1]), boot_id="crash-test")
n = 0
while True:
    rows = [
        NewRecord(0, 0, "meter-1", "voltage", 1_790_000_000_000_000 + n + i,
                  "230.1", None, "V", "good", None, None, n + i, 1)
        for i in range(50)
    ]
    first, last = buffer.append(rows)
    n += 50
    print(last, flush=True)
"""


def test_sigkill_while_committing_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    rng = random.Random(7)
    committed = 0
    for _ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        time.sleep(rng.uniform(0.3, 0.8))
        child.send_signal(signal.SIGKILL)
        said = child.stdout.read().split()
        child.wait()
        if said:
            committed = max(committed, int(said[-1]))

        check = sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0]
        assert check == "ok"

    buffer = Buffer(path, boot_id="after")
    seqs = [r[0] for r in buffer._db.execute("SELECT seq FROM records ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1)), "a restart must resume the sequence"
    assert len(seqs) >= committed  # everything reported as committed is still there
    assert buffer.append([]) == (len(seqs) + 1, len(seqs))
