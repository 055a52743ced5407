"""A PBX's live events at a steady rate on --workers=2, through a failover.

A relay posts every event on its own (as PBXs and relays do), open loop at
E2E_RATE events a second for E2E_SECONDS: ring groups of five phones whose
five ``ringing`` come at the same moment, then ``answered`` and ``hangup``,
and calls to one desk. Half way, every PostgreSQL connection of the
database is killed, as a failover does. The relay retries what the event
API says to retry (5xx, broken connections) and nothing else.

Afterwards every call must be there once, in its final state, and every
event recorded once; every event must have been answered 200 in the end,
never 4xx, and every answer must have been JSON.
"""

import os
import threading
import time

import event_relay
from e2e_checks import check_answers, check_calls, check_receipts, report
from e2e_servers import OdooNode

RATE = float(os.environ.get("E2E_RATE", 30))
SECONDS = float(os.environ.get("E2E_SECONDS", 60))


def _warm_up(relay):
    """Every worker has served the route once before the clock starts."""
    for _round in range(4):
        threads = [threading.Thread(target=relay.post, args=([],)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def test_no_event_lost_under_load_and_a_database_failover(conf, database, logdir):
    calls = event_relay.ring_traffic(RATE, SECONDS, prefix="load")
    posts = event_relay.schedule(calls)
    kill_at = SECONDS / 2
    killed = []
    with OdooNode(conf, database.name, logdir, "load") as node:
        # a relay keeps an event until it is taken, however slow the machine
        relay = event_relay.EventRelay(node.url, database.token, deadline=300)
        _warm_up(relay)

        def failover():
            killed.append(database.postgres.kill_connections(database.name))

        timer = threading.Timer(kill_at, failover)
        started = time.monotonic()
        timer.start()
        try:
            results = event_relay.open_loop(posts, lambda event: relay.post([event]))
        finally:
            timer.cancel()
            timer.join()
        took = time.monotonic() - started
        server_errors = node.log_errors()
    deliveries = [delivery for _offset, _lag, delivery in results]
    lags = [lag for _offset, lag, _delivery in results]
    report(
        f"e2e load: {len(posts)} events of {len(calls)} calls, one POST each, "
        f"at {RATE:g}/s for {SECONDS:g} s on --workers=2 (done in {took:.0f} s)",
        deliveries,
        [
            f"  failover at {kill_at:g} s: {killed[0] if killed else 0} PostgreSQL "
            "connections of the database killed",
            f"  latest send {max(lags):.2f} s behind its moment; "
            f"{len(server_errors)} ERROR lines in {node.log}",
        ],
    )
    problems = check_answers(deliveries)
    problems += check_calls(database, calls, "load")
    problems += check_receipts(database, calls)
    if not killed or not killed[0]:
        problems.append("the failover killed no connection: it did not test anything")
    assert not problems, "\n".join(problems)
