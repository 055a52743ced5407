import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import EventApiMixin, cdr_event, make_connection

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)
EVENT_KEYS = [
    "type",
    "call_id",
    "time",
    "direction",
    "from",
    "to",
    "extension",
    "disposition",
    "talk_seconds",
    "wait_seconds",
    "recording_url",
    "did",
    "rang_extensions",
]


@st.composite
def broken_batches(draw):
    """A batch of valid events where one event has one key broken or removed."""
    size = draw(st.integers(min_value=1, max_value=4))
    events = [
        cdr_event(f"fuzz-{draw(st.uuids())}", "2026-11-05T09:00:00+03:00")
        for _ in range(size)
    ]
    victim = events[draw(st.integers(min_value=0, max_value=size - 1))]
    key = draw(st.sampled_from(EVENT_KEYS))
    if draw(st.booleans()) and key in victim:
        del victim[key]
    else:
        victim[key] = draw(json_values)
    return {"events": events}


@tagged("post_install", "-at_install")
class TestEventApiFuzz(EventApiMixin, HttpCase):
    """Garbage of every kind gets a 4xx, never a 500, and writes nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, cls.token = make_connection(cls.env, name="Fuzz PBX")

    def counts(self):
        self.env.invalidate_all()
        return (
            self.env["pbx.call"].search_count(
                [("connection_id", "=", self.connection.id)]
            ),
            self.env["pbx.event.receipt"].search_count(
                [("connection_id", "=", self.connection.id)]
            ),
        )

    def check(self, response, before):
        self.assertLess(response.status_code, 500, response.text[:500])
        if response.status_code != 200:
            self.assertGreaterEqual(response.status_code, 400)
            self.assertEqual(self.counts(), before, "a rejected batch wrote something")

    @mute_logger("odoo.http")
    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
        ],
    )
    @given(body=json_values)
    def test_any_json_body(self, body):
        before = self.counts()
        self.check(self.post_events(None, self.token, raw=json.dumps(body)), before)

    @mute_logger("odoo.http")
    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
        ],
    )
    @given(body=broken_batches())
    def test_one_broken_event_rejects_or_passes_the_whole_batch(self, body):
        before = self.counts()
        response = self.post_events(None, self.token, raw=json.dumps(body))
        self.check(response, before)
        if response.status_code == 200:
            accepted = response.json()["accepted"] + response.json()["duplicates"]
            self.assertEqual(accepted, len(body["events"]))

    @mute_logger("odoo.http")
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
        ],
    )
    @given(raw=st.binary(max_size=2000))
    def test_any_bytes(self, raw):
        before = self.counts()
        self.check(self.post_events(None, self.token, raw=raw), before)

    @mute_logger("odoo.http")
    def test_hostile_shapes(self):
        before = self.counts()
        hostile = [
            "[" * 100000 + "]" * 100000,
            json.dumps({"events": [{}] * 1001}),
            json.dumps({"events": [cdr_event("x" * 129, "2026-11-05T09:00:00+03:00")]}),
            json.dumps({"events": [cdr_event("big", "2026-11-05T09:00:00+03:00",
                                             **{"from": "9" * 100000})]}),
            json.dumps({"events": [cdr_event("t", "2026-11-05T09:00:00")]}),  # naive
            json.dumps({"events": [cdr_event("t", "2026-11-05T09:00:00+03:00",
                                             talk_seconds=-1)]}),
            json.dumps({"events": [cdr_event("t", "2026-11-05T09:00:00+03:00",
                                             talk_seconds="60")]}),
            json.dumps({"events": [cdr_event("t", "2026-11-05T09:00:00+03:00",
                                             talk_seconds=True)]}),
            json.dumps({"events": [cdr_event("t", "2026-11-05T09:00:00+03:00",
                                             recording_url="file:///etc/passwd")]}),
            json.dumps({"events": [cdr_event("nul\u0000",
                                             "2026-11-05T09:00:00+03:00")]}),
            json.dumps({"events": [cdr_event("t", "2026-11-05T09:00:00+03:00",
                                             **{"from": "\u0000"})]}),
            json.dumps({"events": [cdr_event("t", "2026-11-05T09:00:00+03:00",
                                             **{"from": "=1+1"})]}),
            "\x00\xff\xfe",
        ]  # fmt: skip
        for body in hostile:
            response = self.post_events(None, self.token, raw=body)
            self.assertIn(response.status_code, (400, 413), body[:80])
        self.assertEqual(self.counts(), before)

    @mute_logger("odoo.http")
    def test_ten_megabytes_is_413(self):
        before = self.counts()
        body = json.dumps({"events": [], "pad": "x" * (10 * 1024 * 1024)})
        self.assertEqual(self.post_events(None, self.token, raw=body).status_code, 413)
        self.assertEqual(self.counts(), before)
