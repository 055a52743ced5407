"""AMI live events folded per second, next to the Event API, in the same run.

The AMI path is the listener's: a PBX (the tests' fake AMI server, over TCP
on loopback) sends the call events of ring-group calls; ``AmiListener``
reads them, ``CallTracker`` folds them into Event API events and a sink
applies each burst with ``_ingest_events`` in its own transaction. The
sink is this benchmark's own: Odoo does not start the listener yet. The
Event API path posts the very same events to ``/pbx/v1/events`` of an Odoo
server (``--workers=2``), in batches of the same sizes, one client. Both
start from a database with the same users and no calls of theirs.
"""

import secrets
import threading
import time
from datetime import datetime, timedelta

from odoo import Command

from .bench_ingest import _post_all

TITLE = "AMI live events: folded per second, next to the Event API"
DB = "clinic_pbx_bench_ami"
CALLS = 2000
MEMBERS = ("101", "102", "103", "104", "105")


def _streams(count, first_id):
    """AMI events of ``count`` ring-group calls, a call every 2 s, each
    ringing five phones and answered by one of them; and the same calls'
    Event API events, as the tracker gives them."""
    from odoo.addons.clinic_pbx.tests.fakes.ami_stream import AmiStream
    from odoo.addons.clinic_pbx.tools.ami import CallTracker

    ami = AmiStream("Europe/Moscow")
    start = datetime(2026, 11, 2, 8, 0)
    messages = []
    for n in range(count):
        messages += ami.ring_group(
            start + timedelta(seconds=2 * n),
            "%d.%d" % (first_id, n),
            "8916%07d" % n,
            members=MEMBERS,
            answered_by=MEMBERS[n % len(MEMBERS)],
            ring=5,
            talk=30,
        )
    messages.sort(key=lambda message: float(message["Timestamp"]))
    tracker, events = CallTracker(), []
    for message in messages:
        events += tracker.feed(message, received=None)
    return messages, events


def _setup(env):
    from odoo.addons.clinic_pbx.models.pbx_connection import hash_token

    token = secrets.token_urlsafe(32)
    connection = env["pbx.connection"].create(
        {
            "name": "Bench PBX",
            "country_id": env.ref("base.ru").id,
            "token_hash": hash_token(token),
        }
    )
    env["res.users"].create(
        [
            {
                "name": f"Reception {ext}",
                "login": f"ami{ext}",
                "pbx_extension": ext,
                "groups_id": [
                    Command.link(env.ref("clinic_pbx.clinic_pbx_group_user").id)
                ],
            }
            for ext in MEMBERS
        ]
    )
    return connection.id, token


def _ami_path(connection_id, messages):
    """(seconds, AMI messages, events applied, sink calls) of the listener
    taking ``messages`` from a PBX until the last call ended."""
    import odoo
    from odoo import SUPERUSER_ID, api

    from odoo.addons.clinic_pbx.tests.fakes.ami_server import FakeAmiServer
    from odoo.addons.clinic_pbx.tools.ami import AmiClient, AmiListener
    from odoo.addons.clinic_pbx.tools.call_events import validate_event

    registry = odoo.modules.registry.Registry(DB)
    applied, batches = [0], []

    def sink(raw_events):
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            events = [validate_event(i, e) for i, e in enumerate(raw_events)]
            env["pbx.call"]._ingest_events(
                env["pbx.connection"].browse(connection_id), events
            )
        applied[0] += len(raw_events)
        batches.append(len(raw_events))

    server = FakeAmiServer().start()
    stop = threading.Event()

    def connect():
        client = AmiClient("127.0.0.1", server.port, timeout=10).connect()
        client.login("odoo", "s3cret")
        return client

    listener = AmiListener(connect, sink, lambda error: None)
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    thread.start()
    expected = sum(1 for _ in _expected_events(messages))
    try:
        deadline = time.monotonic() + 30
        while server.listening_sessions < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the listener did not log in")
            time.sleep(0.01)
        deadline = time.monotonic() + 600
        started = time.perf_counter()
        server.send(messages)
        while applied[0] < expected:
            if time.monotonic() > deadline:
                raise RuntimeError("the listener did not apply every event")
            time.sleep(0.005)
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        thread.join(30)
        server.stop()
    return seconds, applied[0], batches


def _expected_events(messages):
    from odoo.addons.clinic_pbx.tools.ami import CallTracker

    tracker = CallTracker()
    for message in messages:
        yield from tracker.feed(message, received=None)


def _api_path(url, token, events, sizes):
    """Seconds to post ``events`` in batches of ``sizes``, one client."""
    batches, offset = [], 0
    for size in sizes:
        batches.append(events[offset : offset + size])
        offset += size
    started = time.perf_counter()
    _post_all(url, token, batches)
    return time.perf_counter() - started


def run(ctx):
    ctx.create_db(DB)
    with ctx.env(DB) as env:
        connection_id, token = _setup(env)
    ami_messages, _events = _streams(CALLS, 1730000000)
    api_messages, api_events = _streams(CALLS, 1740000000)
    ami_seconds, applied, sizes = _ami_path(connection_id, ami_messages)
    with ctx.server(DB, workers=2) as url:
        api_seconds = _api_path(url, token, api_events, sizes)
    with ctx.env(DB) as env:
        Call = env["pbx.call"]
        ami_calls = Call.search_count([("external_id", "=like", "1730000000.%")])
        api_calls = Call.search_count([("external_id", "=like", "1740000000.%")])
    assert ami_calls == api_calls == CALLS, (ami_calls, api_calls)
    rows = [
        {
            "path": "AMI: listener, tracker, one transaction per burst",
            "calls": ami_calls,
            "AMI messages": len(ami_messages),
            "events applied": applied,
            "seconds": f"{ami_seconds:.1f}",
            "events/s": f"{applied / ami_seconds:,.0f}",
            "AMI messages/s": f"{len(ami_messages) / ami_seconds:,.0f}",
        },
        {
            "path": "POST /pbx/v1/events, the same events in the same batches",
            "calls": api_calls,
            "AMI messages": "",
            "events applied": len(api_events),
            "seconds": f"{api_seconds:.1f}",
            "events/s": f"{len(api_events) / api_seconds:,.0f}",
            "AMI messages/s": "",
        },
    ]
    notes = (
        f"{CALLS:,} incoming calls, one every 2 s of PBX time, each ringing a "
        f"ring group of {len(MEMBERS)} phones and answered by one of them, sent "
        "by a fake AMI server over loopback as fast as the listener reads "
        f"them. The listener applied them in {len(sizes):,} bursts (median "
        f"{sorted(sizes)[len(sizes) // 2]} events). The Event API run posts "
        "the same Event API events of other call ids in batches of the same "
        "sizes from one client to Odoo with `--workers=2`. The listener's "
        "sink here is the benchmark's own (validate, then `_ingest_events` in "
        "a transaction per burst): Odoo does not start the listener yet."
    )
    return rows, notes
