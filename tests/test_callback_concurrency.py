"""Call back activities under real concurrency: a PBX relay retrying a batch
while its first request still runs, and two missed calls from one number
posted at the same moment, never make two activities.

Plain pytest tests against the HTTP server of the test run, as
test_event_api_concurrency.py: each request commits in its own transaction.
"""

import pytest

from .common import committed_pbx, real_registry
from .test_event_api_concurrency import _all_at_once, _assert_all_json_200

EXTENSION = "9301"


@pytest.fixture()
def pbx():
    # The numbers are nobody's: the activities are on the calls, and go with
    # them at the end.
    with committed_pbx([EXTENSION]) as ids:
        yield ids


def _missed(call_id, minute, number):
    return {
        "type": "cdr",
        "call_id": call_id,
        "time": f"2026-11-05T11:{minute:02d}:00+03:00",
        "direction": "incoming",
        "from": number,
        "to": "+7 495 123-45-00",
        "extension": EXTENSION,
        "disposition": "no_answer",
        "talk_seconds": 0,
        "wait_seconds": 30,
    }


def _callbacks(connection_id):
    """[(attempts, open)] of the Call back activities of the connection's calls."""
    with real_registry().cursor() as cr:
        cr.execute(
            """
            SELECT count(*), bool_and(a.active) FROM pbx_call c
              JOIN mail_activity a ON a.id = c.callback_activity_id
             WHERE c.connection_id = %s
             GROUP BY a.id ORDER BY a.id
            """,
            (connection_id,),
        )
        return cr.fetchall()


def test_the_same_missed_calls_posted_three_times_at_once_open_one_activity(pbx):
    batch = [_missed(f"cbc-{n}", n, "+7 916 555-77-01") for n in range(3)]
    answers = _all_at_once(pbx["token"], [batch, batch, batch])
    _assert_all_json_200(answers)
    assert sum(r.json()["accepted"] for _s, _c, r in answers) == 3
    assert _callbacks(pbx["connection_id"]) == [(3, True)]


def test_missed_calls_of_one_number_posted_at_once_fold_into_one(pbx):
    answers = _all_at_once(
        pbx["token"],
        [[_missed(f"cbn-{n}", 10 + n, "+7 916 555-77-02")] for n in range(4)],
    )
    _assert_all_json_200(answers)
    assert _callbacks(pbx["connection_id"]) == [(4, True)]
