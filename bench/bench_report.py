"""The Calls Report over a year of calls (1M): each grouping and the chart."""

import statistics
import time
from datetime import timedelta

from .calls_data import ensure_calls_db

TITLE = "Calls Report at 1M calls over a year"
DB = "clinic_pbx_bench_year"
CALLS = 1_000_000
RUNS = 5
MEASURES = ["__count", "talk_seconds:avg"]
COLUMNS = ["direction"]
GROUPINGS = [
    ("By the Days", ["start:day"]),
    ("By the Hours", ["start_hour"]),
    ("By the Employees and Days", ["user_id", "start:day"]),
    ("By the Employees and Months", ["user_id", "start:month"]),
]


def _groupbys(rows):
    """Every row prefix by every column prefix: what a pivot table reads."""
    return [
        rows[:i] + COLUMNS[:j]
        for i in range(len(rows) + 1)
        for j in range(len(COLUMNS) + 1)
    ]


def _pivot(Call, rows, domain=()):
    """As the report's table asks: every grouping in one request."""
    started = time.perf_counter()
    results = Call.read_group_batch(list(domain), MEASURES, _groupbys(rows))
    return sum(map(len, results)), time.perf_counter() - started


def _pivot_one_by_one(Call, rows):
    """One read_group per grouping, as Odoo's own pivot view asks."""
    timings, groups = [], 0
    for groupby in _groupbys(rows):
        started = time.perf_counter()
        groups += len(Call.read_group([], MEASURES, groupby, lazy=False))
        timings.append(time.perf_counter() - started)
    return groups, max(timings)


def _chart(Call, rows):
    """As the graph view asks: web_read_group with fill_temporal."""
    started = time.perf_counter()
    result = Call.with_context(fill_temporal=True).web_read_group(
        [], ["__count"], rows + COLUMNS, lazy=False
    )
    return len(result["groups"]), time.perf_counter() - started


def _time(env, fn):
    fn()  # warm
    timings, slowest = [], []
    for _ in range(RUNS):
        env.invalidate_all()
        started = time.perf_counter()
        groups, single = fn()
        timings.append(time.perf_counter() - started)
        slowest.append(single)
    return groups, timings, slowest


def run(ctx):
    built = ensure_calls_db(ctx, DB, CALLS)
    rows = []
    with ctx.env(DB) as env:
        manager = env["res.users"].search([("login", "=", "admin101")])
        Call = env(user=manager.id, context={"tz": "Europe/Moscow"})["pbx.call"]
        total = Call.search_count([])
        last = Call.search([], order="start desc", limit=1).start
        month = [("start", ">=", last - timedelta(days=30))]
        cases = [
            (f"table {label}", lambda g=groupby: _pivot(Call, g))
            for label, groupby in GROUPINGS
        ]
        cases.append(
            (
                "table By the Employees and Days, last 30 days",
                lambda: _pivot(Call, GROUPINGS[2][1], month),
            )
        )
        cases += [
            (f"table {label}, one request per grouping",
             lambda g=groupby: _pivot_one_by_one(Call, g))
            for label, groupby in GROUPINGS
        ]  # fmt: skip
        cases.append(("chart by the days", lambda: _chart(Call, ["start:day"])))
        cases.append(("chart by the hours", lambda: _chart(Call, ["start_hour"])))
        for label, fn in cases:
            groups, timings, slowest = _time(env, fn)
            rows.append(
                {
                    "view": label,
                    "calls": total if "30 days" not in label else "last 30 days",
                    "groups read": groups,
                    "all requests, median (ms)": (
                        f"{statistics.median(timings) * 1000:.0f}"
                    ),
                    "all requests, max (ms)": f"{max(timings) * 1000:.0f}",
                    "slowest request, median (ms)": (
                        f"{statistics.median(slowest) * 1000:.0f}"
                    ),
                }
            )
    notes = (
        "Server time of what one view asks, as a PBX Manager in Europe/Moscow, "
        f"{RUNS} runs after a warm-up, over the whole year with no filter: the "
        "table (measures Count and Average Call Duration, columns by Call Type) "
        "asks for all its groupings in one `read_group_batch` request that "
        "reads the calls once; the chart is one `web_read_group` with "
        "`fill_temporal`, as the graph view asks. *All requests* "
        "adds up the view's requests; "
        "*slowest request* is the longest one. The rows *one request per "
        "grouping* are the same tables read the way Odoo's stock pivot view "
        "asks (4 or 6 `read_group` calls), for comparison"
        + (f"; the year was built in {built / 60:.0f} min" if built else "")
        + ". Goal: ≤ 500 ms per view."
    )
    return rows, notes
