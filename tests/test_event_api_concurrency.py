"""Event API under real concurrency: many PBX requests about the same calls at once.

Plain pytest tests against the HTTP server of the test run: each request runs
in its own transaction and commits, as in production. (Odoo's test cases send
every request through one shared test cursor, one at a time, which would hide
exactly the races these tests are about.) The tests commit their own PBX
connection and users, and delete them at the end.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import odoo

from .common import committed_pbx, real_registry

RING_GROUP = ["9201", "9202", "9203", "9204", "9205"]
CALLS = 6


@pytest.fixture()
def pbx():
    with committed_pbx(RING_GROUP) as ids:
        yield ids


def _post(token, events):
    port = odoo.tools.config["http_port"]
    response = requests.post(
        f"http://127.0.0.1:{port}/pbx/v1/events",
        data=json.dumps({"events": events}),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
        timeout=120,
    )
    return response.status_code, response.headers.get("Content-Type", ""), response


def _all_at_once(token, requests_events):
    """Post each list of events as its own request, all at the same moment."""
    barrier = threading.Barrier(len(requests_events))

    def send(events):
        barrier.wait(timeout=30)
        return _post(token, events)

    with ThreadPoolExecutor(max_workers=len(requests_events)) as pool:
        return list(pool.map(send, requests_events))


def _ring_group_call(call_id, minute):
    start = f"2026-11-05T10:{minute:02d}"
    ringing = [
        {
            "type": "ringing",
            "call_id": call_id,
            "time": f"{start}:00+03:00",
            "direction": "incoming",
            "from": "+7 916 555-01-%02d" % minute,
            "to": "+7 495 123-45-00",
            "extension": ext,
        }
        for ext in RING_GROUP
    ]
    answered = {
        "type": "answered",
        "call_id": call_id,
        "time": f"{start}:08+03:00",
        "extension": "9203",
    }
    hangup = {
        "type": "hangup",
        "call_id": call_id,
        "time": f"{start}:58+03:00",
        "disposition": "answered",
        "talk_seconds": 50,
        "wait_seconds": 8,
    }
    return [*ringing, answered, hangup]


def _calls(connection_id):
    with real_registry().cursor() as cr:
        cr.execute(
            """
            SELECT c.external_id, c.state, c.disposition, c.answered_extension,
                   c.talk_seconds, c.wait_seconds,
                   (SELECT count(*) FROM pbx_call_rang_user_rel r
                     WHERE r.call_id = c.id)
              FROM pbx_call c WHERE c.connection_id = %s ORDER BY c.external_id
            """,
            (connection_id,),
        )
        return cr.fetchall()


def _assert_all_json_200(answers):
    failures = [
        (status, response.text[:300])
        for status, content_type, response in answers
        if status != 200 or not content_type.startswith("application/json")
    ]
    assert not failures, (
        f"{len(failures)} of {len(answers)} requests failed: {failures[:3]}"
    )


def test_a_ring_group_racing_its_answer_and_hangup_makes_one_finished_call(pbx):
    """Every phone's ringing, the answer and the hangup of a call, each its own
    request, all at the same moment: one call, answered on 9203, and every
    request answered 200."""
    answers = []
    for n in range(CALLS):
        events = _ring_group_call(f"ring-{n}", n)
        answers += _all_at_once(pbx["token"], [[event] for event in events])
    _assert_all_json_200(answers)
    assert sum(r.json()["accepted"] for _s, _c, r in answers) == CALLS * 7
    calls = _calls(pbx["connection_id"])
    assert [row[0] for row in calls] == [f"ring-{n}" for n in range(CALLS)]
    assert {row[1:] for row in calls} == {("done", "answered", "9203", 50, 8, 5)}


def test_the_same_batch_twice_at_once_is_applied_once(pbx):
    """A PBX relay that retries while its first request is still running."""
    batch = [
        event for n in range(3) for event in _ring_group_call(f"twice-{n}", 20 + n)
    ]
    answers = []
    for _round in range(3):
        answers += _all_at_once(pbx["token"], [batch, batch, batch])
    _assert_all_json_200(answers)
    bodies = [response.json() for _s, _c, response in answers]
    assert sum(body["accepted"] for body in bodies) == len(batch)
    assert sum(body["duplicates"] for body in bodies) == len(batch) * 8
    calls = _calls(pbx["connection_id"])
    assert len(calls) == 3
    assert {row[1:] for row in calls} == {("done", "answered", "9203", 50, 8, 5)}
