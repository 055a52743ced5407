"""Callmarker: sending finished calls and storing their analyses.

Runs against the local Callmarker of the tests (tests/fakes/callmarker_server.py, the
documented adapter v1 format) on loopback, so the numbers are Odoo's share of
the work plus one local HTTP round trip per call sent.
"""

import time
from datetime import timedelta

TITLE = "Callmarker: sending calls and storing results"
CALLS = 500


def _mock():
    from odoo.addons.clinic_pbx.tests.fakes.callmarker_server import (
        CallmarkerServer,
    )

    return CallmarkerServer().start()


def _timed(rows, what, count, action):
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    rows.append(
        {
            "what": what,
            "calls": count,
            "seconds": f"{seconds:.2f}",
            "ms per call": f"{1000 * seconds / count:.1f}",
        }
    )


def run(ctx):
    db = "clinic_pbx_bench_callmarker"
    ctx.create_db(db)
    mock = _mock()
    rows = []
    try:
        with ctx.env(db) as env:
            from odoo import fields

            from odoo.addons.clinic_pbx.tools import demo_data
            from odoo.addons.clinic_pbx.tools.call_events import validate_event

            company = env.company
            company.write(
                {
                    "callmarker_enabled": True,
                    "callmarker_call_data_url": mock.results_url,
                    "callmarker_request_data_url": mock.push_url,
                    "callmarker_integration_id": mock.integration_id,
                    "callmarker_token": mock.token,
                }
            )
            connection = env["pbx.connection"].create(
                {"name": "Bench PBX", "country_id": env.ref("base.ru").id}
            )
            start = fields.Datetime.now() - timedelta(hours=3)
            events = [
                validate_event(
                    index,
                    {
                        "type": "cdr",
                        "call_id": f"bench-{index}",
                        "time": (start + timedelta(seconds=15 * index)).isoformat()
                        + "Z",
                        "direction": "incoming",
                        "from": f"+7 916 {index:07d}",
                        "to": "+7 495 123-45-00",
                        "extension": "101",
                        "disposition": "answered",
                        "talk_seconds": 90,
                        "wait_seconds": 6,
                        "recording_url": mock.recording_url(f"{index}.wav"),
                    },
                )
                for index in range(CALLS)
            ]
            calls = env["pbx.call"]._ingest_events(connection, events)[2]
            env.cr.commit()

            def sync():
                company._callmarker_sync(commit=env.cr.commit)

            def send_all():
                # A run sends at most PUSH_BATCH calls; the next runs the rest.
                for _run in range(10):
                    sync()
                    if len(mock.calls) >= CALLS:
                        return

            _timed(rows, "send finished calls (one request each)", CALLS, send_all)
            assert len(mock.calls) == CALLS, len(mock.calls)
            mock.results = demo_data.callmarker_results(
                [{"id": call.id, "ended_at": call.ended_at} for call in calls],
                share=1.0,
            )
            company.callmarker_pulled_until = False
            _timed(rows, "store analyses (tags, score, checklist)", CALLS, sync)
            assert all(call.quality_analyzed_at for call in calls)
            company.callmarker_pulled_until = False
            _timed(rows, "read the same analyses again (no change)", CALLS, sync)
            env.cr.rollback()
    finally:
        mock.stop()
    notes = (
        "Sending takes as many scheduled runs as needed (at most 200 calls each) "
        "and commits every 20 calls; storing reads all pages (50 results per "
        "page) of the local service in one run. Timings include the loopback "
        "HTTP requests."
    )
    return rows, notes
