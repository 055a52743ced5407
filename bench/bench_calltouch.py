"""10,000 Calltouch calls synced from a local Calltouch and matched to PBX calls.

The PBX calls go through ``pbx.call._ingest_events`` like a real PBX's; the
Calltouch calls come from the local Calltouch of the tests (pages of 1,000,
at most 5 requests a second) through the scheduled sync's own method.
"""

import time
from datetime import datetime, timedelta, timezone

TITLE = "Calltouch: 10,000 tracked calls synced and matched"
DB = "clinic_pbx_bench_calltouch"
CALLS = 10_000
CALLERS = 2_500  # each caller calls 4 times, hours apart
DAY = datetime(2026, 1, 25, 5, 0, 0)  # UTC, 08:00 in Moscow
SPACING = 4  # seconds between two calls of the clinic
TOKEN = "bench-calltouch-token"


def _mock():
    from odoo.addons.clinic_pbx.tests.fakes import calltouch_server

    return calltouch_server


def _number(index):
    return f"7916{index % CALLERS:07d}"


def _pbx_events(first_day, prefix):
    from odoo.addons.clinic_pbx.tools.call_events import validate_event

    events = []
    for index in range(CALLS):
        start = first_day + timedelta(seconds=SPACING * index)
        raw = {
            "type": "cdr",
            "call_id": f"{prefix}-{index}",
            "time": start.replace(tzinfo=timezone.utc).isoformat(),
            "direction": "incoming",
            "from": "8" + _number(index)[1:],
            "to": "74951234500",
            "extension": "101",
            "disposition": "answered",
            "talk_seconds": 60,
            "wait_seconds": 5,
        }
        events.append(validate_event(index, raw))
    return events


def _ingest(env, connection, events):
    started = time.perf_counter()
    Call = env["pbx.call"]
    for start in range(0, len(events), 500):
        Call._ingest_events(connection, events[start : start + 500])
    env.cr.flush()
    return time.perf_counter() - started


def _tracked_calls(mock, server, first_day, first_id):
    for index in range(CALLS):
        # Calltouch's clock is up to 2 minutes off the PBX's.
        drift = (index * 37) % 241 - 120
        when = first_day + timedelta(seconds=SPACING * index + drift)
        server.add_call(mock.make_call(first_id + index, when, _number(index)))


def _configure(env, server, connection_name):
    company = env.company
    company.country_id = env.ref("base.ru")
    company.write(
        {
            "calltouch_enabled": True,
            "calltouch_call_url": server.call_url,
            "calltouch_request_url": server.request_url,
            "calltouch_site_id": server.site_id,
            "calltouch_token": TOKEN,
            "calltouch_time_lag": 5,
            "calltouch_timezone": "Europe/Moscow",
        }
    )
    return env["pbx.connection"].create(
        {
            "name": connection_name,
            "kind": "event_api",
            "country_id": env.ref("base.ru").id,
            "timezone": "Europe/Moscow",
        }
    )


def _sync(env, now, since):
    company = env.company
    company.calltouch_synced_until = since
    started = time.perf_counter()
    stats = company._calltouch_sync(now=now)
    env.cr.flush()
    elapsed = time.perf_counter() - started
    if not stats:
        raise RuntimeError(f"the sync failed: {company.calltouch_last_error}")
    return elapsed, stats


def _matched(env, first_id):
    ids = [str(first_id + index) for index in range(CALLS)]
    touches = env["pbx.touch"].search([("calltouch_call_id", "in", ids)])
    return len(touches), len(touches.filtered("call_id"))


def run(ctx):
    mock = _mock()
    ctx.create_db(DB)
    server = mock.CalltouchServer(token=TOKEN).start()
    try:
        # One environment: the harness reads Odoo's configuration once.
        with ctx.env(DB) as env:
            rows = _scenarios(env, mock, server)
    finally:
        server.stop()
    notes = (
        "Target: 10,000 Calltouch calls synced and matched in at most 20 s (second "
        "row: fetching the 10 pages at ≤ 5 requests/s, creating the touches and "
        "matching each to the PBX call of the same number within ± 5 minutes). "
        "2,500 callers call 4 times each; Calltouch's times are up to 2 minutes "
        "off the PBX's. Ingestion rows are for comparison: the difference between "
        "them is the cost of matching waiting touches when PBX calls arrive."
    )
    return rows, notes


def _scenarios(env, mock, server):
    rows = []
    end = DAY + timedelta(seconds=SPACING * CALLS + 600)
    # 1. PBX calls first, then the sync matches them.
    connection = _configure(env, server, "Bench PBX")
    ingest = _ingest(env, connection, _pbx_events(DAY, "a"))
    rows.append(
        {
            "what": f"{CALLS:,} PBX calls ingested (no touches waiting)",
            "seconds": f"{ingest:.1f}",
            "result": "",
        }
    )
    _tracked_calls(mock, server, DAY, 10_000_000)
    elapsed, stats = _sync(env, end, DAY - timedelta(hours=1))
    touches, matched = _matched(env, 10_000_000)
    pages = len(server.requests_to("calls"))
    rows.append(
        {
            "what": f"sync of {CALLS:,} Calltouch calls ({pages} pages) + matching",
            "seconds": f"{elapsed:.1f}",
            "result": f"{touches:,} touches, {matched:,} matched",
        }
    )
    again, stats = _sync(env, end, DAY - timedelta(hours=1))
    rows.append(
        {
            "what": "the same window synced again",
            "seconds": f"{again:.1f}",
            "result": f"{stats['calls']['created']} new, "
            f"{stats['calls']['updated']} updated",
        }
    )
    # 2. Calltouch first, the PBX calls arrive later (the next day).
    server.reset()
    next_day = DAY + timedelta(days=1)
    _tracked_calls(mock, server, next_day, 20_000_000)
    next_end = next_day + timedelta(seconds=SPACING * CALLS + 600)
    waiting, _stats = _sync(env, next_end, next_day - timedelta(hours=1))
    rows.append(
        {
            "what": f"sync of {CALLS:,} Calltouch calls, no PBX calls yet",
            "seconds": f"{waiting:.1f}",
            "result": f"{_matched(env, 20_000_000)[0]:,} touches waiting",
        }
    )
    late = _ingest(env, connection, _pbx_events(next_day, "b"))
    touches, matched = _matched(env, 20_000_000)
    rows.append(
        {
            "what": f"{CALLS:,} PBX calls ingested, matched on arrival",
            "seconds": f"{late:.1f}",
            "result": f"{matched:,} matched",
        }
    )
    return rows
