"""`idgraph bench api` after the install the README gives: its server starts as `idgraph
serve --workers` starts one (settings handed over whole), and every request is answered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_api_serves_every_request_on_a_small_store(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "bench", "api", "--store",
         f"sqlite:///{tmp_path / 'bench.db'}", "--customers", "20", "--requests", "100",
         "--clients", "1,4"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    for path in ("read_model", "graph"):
        for clients in ("1", "4"):
            level = report["graphql_http"][path][clients]
            assert (level["requests"], level["errors"]) == (100, 0), level
        assert report["raw_store_1_client"][path]["errors"] == 0
