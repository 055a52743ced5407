"""The Call Log's first page over a year of calls (1M)."""

import statistics
import time

from odoo.tools import SQL

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


def _plans(env, domain):
    """EXPLAIN (ANALYZE, BUFFERS) of the page's two statements: the first
    80 calls, and the count the pager shows (up to 10,001)."""
    Call = env["pbx.call"]
    page = Call._search(domain, limit=80, order="start DESC, id DESC").select()
    count = SQL(
        "SELECT COUNT(*) FROM (%s) t", Call._search(domain, limit=10001).select("")
    )
    plans = []
    for label, sql in (("first 80 calls", page), ("count (up to 10,001)", count)):
        env.cr.execute(SQL("EXPLAIN (ANALYZE, BUFFERS) %s", sql))
        plan = "\n".join(row[0] for row in env.cr.fetchall())
        plans.append(f"{label}:\n\n```\n{plan}\n```")
    return "\n\n".join(plans)


def run(ctx):
    built = ensure_calls_db(ctx, DB, CALLS)
    rows = []
    with ctx.env(DB) as env:
        manager = env["res.users"].search([("login", "=", "admin101")])
        # admin107 places calls and was never rung; admin102 is one of the
        # four phones of the reception's ring group.
        user = env["res.users"].search([("login", "=", "admin107")])
        reception = env["res.users"].search([("login", "=", "admin102")])
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
            (
                "manager, Admin = a receptionist",
                manager,
                [("admin_search_id", "=", reception.id)],
            ),
            ("PBX user (own calls only), no filter", user, []),
            ("PBX user of the ring group (own calls only), no filter", reception, []),
            (
                "PBX user of the ring group, Missed",
                reception,
                [("missed", "=", True)],
            ),
        ]
        plans = []
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
            if label.startswith("PBX user"):
                plans.append(f"**{label}**, {_plans(scoped, domain)}")
    notes = (
        f"Server time of the list's `web_search_read` ({RUNS} runs after a warm-up), "
        "on a year of calls made through the ingestion path"
        + (f" (built in {built / 60:.0f} min)" if built else "")
        + ". Goal: ≤ 50 ms for the first page, max included.\n\n"
        "A page is two statements: the first 80 calls, newest first, and the "
        "count the pager shows. A PBX User's record rule (taken by them, or "
        "their extension rang) costs most in the count. For a staff member "
        "who was never rung it is a count of the calls they took, read from "
        "the index `pbx_call_user_start_index` (Admin, time, company) alone; "
        "for a phone of the ring group, most calls match and the count stops "
        "after a short walk of the calls. The plans of the PBX User views:\n\n"
        + "\n\n".join(plans)
    )
    return rows, notes
