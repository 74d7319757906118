"""`idgraph bench preview`: how long a rules preview takes, next to applying the same
change, in one run, on the same store.

The store is filled with synthetic customers (as `idgraph bench api` fills it) until it
holds `customers`, or used as it is. Three rule changes are measured, each previewed
`runs` times (the median is reported) and then applied once, each on the store the one
before left: a lower default hub limit (its scope is every identifier, whose degrees are
read, and it changes few), a blocked value (the most linked phone number: one customer)
and every cookie blocked (most customers change). The apply that follows each preview is
its baseline: the same scope read and the same plan, written, with the segment
evaluation after it. The store is left with the changes applied.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console

from app.bench.api import ensure_customers
from app.bootstrap import start
from app.config import Settings
from app.services.whatif import RulesService


def _with(rules: str, table: str, line: str) -> str:
    """`rules` with `line` added at the top of `[table]`."""
    header = f"[{table}]\n"
    return rules.replace(header, header + line + "\n", 1)


async def _busiest_phone(services: Any) -> str:
    owners, links = await services.store.membership()
    degree: dict[str, int] = {}
    for a, b in links:
        for key in (a, b):
            if key.startswith("phone:"):
                degree[key] = degree.get(key, 0) + 1
    return max(sorted(degree), key=lambda k: degree[k]).partition(":")[2]


async def run_preview_bench(settings: Settings, customers: int, runs: int,
                            console: Console) -> dict[str, Any]:
    services = await start(settings)
    try:
        held = await ensure_customers(services, customers, console)
        service = RulesService(services)
        phone = await _busiest_phone(services)
        changes: dict[str, Callable[[str], str]] = {
            # a scope of every identifier (their degrees are read), few changes
            "hubs.max_links = 2": lambda t: t.replace("max_links = 15\n", "max_links = 2\n", 1),
            # one value: one customer
            f"blocked phone {phone}": lambda t: _with(t, "blocked", f'phone = ["{phone}"]')
            .replace('phone = ["+*0000000", "+*1111111", "+*9999999"]\n', "", 1),
            # most customers: every cookie stops linking
            "blocked every cookie": lambda t: _with(t, "blocked", 'cookie = ["*"]'),
        }
        report: dict[str, Any] = {"store": services.store.url.split(":", 1)[0],
                                  "customers": held, "runs": runs, "changes": {}}
        for name, change in changes.items():
            text = change(await service.current_text())
            times = []
            for _ in range(runs):
                begin = time.perf_counter()
                preview = await service.preview(text)
                times.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            applied = await service.apply(text, "bench preview", "bench")
            apply_s = time.perf_counter() - begin
            row = {"preview_median_s": round(statistics.median(times), 3),
                   "preview_max_s": round(max(times), 3), "apply_s": round(apply_s, 3),
                   "reevaluated": preview.reevaluated,
                   "changed": len(preview.diff.customers), **preview.diff.counts(),
                   "customers_after": preview.customers_after,
                   "apply_agrees": applied.diff.counts() == preview.diff.counts()
                   and applied.customers_after == preview.customers_after}
            report["changes"][name] = row
            console.print(f"{name}: preview {row['preview_median_s']} s (median of {runs}), "
                          f"apply {row['apply_s']} s; {preview.reevaluated:,} customers "
                          f"re-evaluated of {held:,}, {len(preview.diff.customers):,} change")
        return report
    finally:
        await services.close()
