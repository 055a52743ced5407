"""The Call Log's first page over a year of calls (1M)."""

import statistics
import time

from .calls_data import ensure_calls_db

TITLE = "Call Log first page (80 rows) at 1M calls"
DB = "clinic_pbx_bench_year"
CALLS = 1_000_000
RUNS = 20
SPEC = {
    name: {}
    for name in (
        "start",
        "direction",
        "src",
        "dst",
        "disposition",
        "contact_display",
        "talk_seconds",
        "wait_seconds",
        "total_seconds",
        "has_recording",
        "state",
        "missed",
    )
}
SPEC["user_id"] = {"fields": {"display_name": {}}}


def _page(env, domain):
    return env["pbx.call"].web_search_read(
        domain, SPEC, offset=0, limit=80, order="start DESC, id DESC", count_limit=10001
    )


def run(ctx):
    built = ensure_calls_db(ctx, DB, CALLS)
    rows = []
    with ctx.env(DB) as env:
        manager = env["res.users"].search([("login", "=", "admin101")])
        user = env["res.users"].search([("login", "=", "admin107")])
        last = env["pbx.call"].search([], order="start desc", limit=1).start
        cases = [
            ("manager, no filter", manager, []),
            ("manager, Missed", manager, [("missed", "=", True)]),
            (
                "manager, last 7 days",
                manager,
                [("start", ">=", str(last.date()) + " 00:00:00")],
            ),
            (
                "manager, number contains '916 12'",
                manager,
                [("number_search", "ilike", "916 12")],
            ),
            (
                "manager, Admin = one person",
                manager,
                [("admin_search_id", "=", user.id)],
            ),
            ("PBX user (own calls only), no filter", user, []),
        ]
        for label, who, domain in cases:
            scoped = env(user=who.id)
            _page(scoped, domain)  # warm
            timings = []
            for _ in range(RUNS):
                scoped.invalidate_all()
                started = time.perf_counter()
                result = _page(scoped, domain)
                timings.append(time.perf_counter() - started)
            rows.append(
                {
                    "view": label,
                    "rows": len(result["records"]),
                    "count shown": result["length"],
                    "median (ms)": f"{statistics.median(timings) * 1000:.1f}",
                    "max (ms)": f"{max(timings) * 1000:.1f}",
                }
            )
    notes = (
        f"Server time of the list's `web_search_read` ({RUNS} runs after a warm-up), "
        "on a year of calls made through the ingestion path"
        + (f" (built in {built / 60:.0f} min)" if built else "")
        + ". Goal: ≤ 100 ms for the first page."
    )
    return rows, notes
