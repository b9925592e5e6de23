"""Store-and-forward through SIGKILLs, cloud outages and a cloud crash mid-ingest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_chaos_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pams",
            "sim",
            "chaos",
            "--duration",
            "30",
            "--kills",
            "2",
            "--outages",
            "2",
            "--json",
            "--workdir",
            str(tmp_path / "chaos"),
        ],
        capture_output=True,
        text=True,
        timeout=115,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert (result["kills"], result["outages"]) == (2, 2)
    assert result["cloud_crashes_mid_ingest"] == 1
    assert result["readings_generated"] > 1000
    assert result["lost"] == 0, result
    assert result["duplicates"] == 0, result
    assert result["in_cloud"] + result["evicted"] == result["readings_generated"]
