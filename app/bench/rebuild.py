"""`idgraph bench rebuild`: a Spark rebuild against the streaming load of the same events,
in one run, at each size asked for.

Both run as the commands users run (`idgraph load`, `idgraph rebuild --engine spark`), each
in a process of its own into a fresh SQLite file, so that the wall time includes what a
user waits for (Spark's start included) and the peak memory is the whole process tree's
(the Python driver, Spark's JVM and its Python workers), sampled from /proc.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from app.demo import synthetic_events

SAMPLE_S = 0.2
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    peak_mb: float
    customers: int


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces: the parent pid follows its closing parenthesis
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_rss(pid: int) -> int:
    """Bytes resident in `pid` and every process under it."""
    tree, todo, total = _children(), [pid], 0
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
        todo += tree.get(p, [])
    return total


def measured(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds and peak resident megabytes of a command's process tree, and the last
    line it printed."""
    peak = 0
    start = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(SAMPLE_S):
            peak = max(peak, tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args[2:4])} failed:\n{err.decode(errors='replace')[-2000:]}")
    return seconds, peak / 1e6, (out.decode(errors="replace").strip().splitlines() or [""])[-1]


def _customers(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM customers WHERE merged_into IS NULL")
                   .fetchone()[0])


def write_events(path: Path, n: int) -> Path:
    with path.open("w") as out:
        for raw in synthetic_events(n):
            out.write(json.dumps(raw) + "\n")
    return path


def run_size(n: int, batch_size: int, master: str, work: Path, console: Console
             ) -> dict[str, Any]:
    events = write_events(work / f"events-{n}.jsonl", n)
    idgraph = [sys.executable, "-m", "app"]
    console.print(f"{n:,} events: idgraph load (batch {batch_size:,}) ...")
    load_db = work / f"load-{n}.db"
    seconds, peak, _ = measured([*idgraph, "load", "--store", f"sqlite:///{load_db}", str(events),
                              "--batch-size", str(batch_size),
                              "--rejects", str(work / f"load-rejects-{n}.jsonl")])
    load = Run(seconds, peak, _customers(load_db))
    console.print(f"{n:,} events: idgraph rebuild --engine spark --master {master} ...")
    rebuild_db = work / f"rebuild-{n}.db"
    seconds, peak, last = measured([*idgraph, "rebuild", "--engine", "spark", "--master", master,
                              "--store", f"sqlite:///{rebuild_db}", str(events),
                              "--rejects", str(work / f"rebuild-rejects-{n}")])
    rebuilt = Run(seconds, peak, _customers(rebuild_db))
    return {
        "events": n,
        "load_seconds": round(load.seconds, 1),
        "load_events_per_s": round(n / load.seconds),
        "load_peak_mb": round(load.peak_mb),
        "rebuild_seconds": round(rebuilt.seconds, 1),
        "rebuild_events_per_s": round(n / rebuilt.seconds),
        "rebuild_peak_mb": round(rebuilt.peak_mb),
        "rebuild_over_load": round(load.seconds / rebuilt.seconds, 3),
        # where the rebuild's time went: the store's export, Spark's start and job, the
        # switch into the store (the one part a cluster does not spread)
        "rebuild_parts_seconds": json.loads(last).get("seconds", {}),
        "same_customers": load.customers == rebuilt.customers,
        "customers": load.customers,
    }


def run_rebuild_bench(sizes: list[int], batch_size: int, master: str, console: Console
                      ) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="idgraph-bench-rebuild-") as tmp:
        rows = [run_size(n, batch_size, master, Path(tmp), console) for n in sorted(sizes)]
    for before, after in zip(rows, rows[1:], strict=False):
        # how the cost of an event grows from one size to the next (1.0: flat)
        after["load_cost_growth"] = round(before["load_events_per_s"]
                                          / after["load_events_per_s"], 2)
        after["rebuild_cost_growth"] = round(before["rebuild_events_per_s"]
                                             / after["rebuild_events_per_s"], 2)
    return {"benchmark": "rebuild", "store": "sqlite", "master": master,
            "batch_size": batch_size, "cores": os.cpu_count(),
            # above the cores: other work competed for them during the run
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "sizes": rows}
