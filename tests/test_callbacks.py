from datetime import datetime, timedelta, timezone

from odoo.tests import TransactionCase, tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection

T0 = datetime(2026, 11, 5, 9, 0, tzinfo=timezone.utc)
CALLER = "+7 916 555-12-34"


@tagged("post_install", "-at_install")
class TestCallbacks(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, _token = make_connection(cls.env)
        cls.Call = cls.env["pbx.call"]
        cls.seq = 0

    def ingest(self, at, **values):
        type(self).seq += 1
        raw = cdr_event(f"cb{self.seq}", at.isoformat(), **values)
        return self.Call._ingest_events(self.connection, [validate_event(0, raw)])[2]

    def missed(self, at=T0, number=CALLER):
        return self.ingest(
            at, disposition="no_answer", talk_seconds=0, **{"from": number}
        )

    def call_back(self, at, answered=True, number="8 916 555 12 34"):
        return self.ingest(
            at,
            direction="outgoing",
            disposition="answered" if answered else "no_answer",
            talk_seconds=40 if answered else 0,
            **{"from": "102", "to": number},
        )

    def test_missed_incoming_call_is_flagged(self):
        missed = self.missed()
        self.assertTrue(missed.missed)
        self.assertFalse(missed.called_back)
        answered = self.ingest(T0, **{"from": "+79160000001"})
        self.assertFalse(answered.missed)
        outgoing = self.call_back(T0, answered=False)
        self.assertFalse(
            outgoing.missed, "an unanswered outgoing call is not a missed call"
        )

    def test_answered_call_back_within_the_window(self):
        missed = self.missed()
        back = self.call_back(T0 + timedelta(minutes=42))
        self.assertTrue(missed.called_back)
        self.assertEqual(missed.callback_call_id, back)
        self.assertEqual(missed.callback_delay, 42 * 60)

    def test_the_caller_calling_again_and_getting_through_counts(self):
        missed = self.missed()
        self.ingest(T0 + timedelta(hours=3), **{"from": "89165551234"})
        self.assertTrue(missed.called_back)
        self.assertEqual(missed.callback_delay, 3 * 3600)

    def test_unanswered_attempts_do_not_count(self):
        missed = self.missed()
        self.call_back(T0 + timedelta(minutes=5), answered=False)
        self.missed(T0 + timedelta(minutes=20))
        self.assertFalse(missed.called_back)

    def test_window_edge(self):
        on_edge = self.missed(T0, number="+79161000001")
        self.call_back(T0 + timedelta(hours=24), number="+79161000001")
        self.assertTrue(on_edge.called_back, "exactly 24 h is inside the window")
        too_late = self.missed(T0, number="+79161000002")
        self.call_back(T0 + timedelta(hours=24, seconds=1), number="+79161000002")
        self.assertFalse(too_late.called_back)

    def test_window_is_configurable(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "clinic_pbx.callback_window_hours", 2
        )
        missed = self.missed()
        self.call_back(T0 + timedelta(hours=3))
        self.assertFalse(missed.called_back)

    def test_a_call_back_that_arrives_before_the_missed_call_is_still_found(self):
        back = self.call_back(T0 + timedelta(minutes=30))
        missed = self.missed(T0)
        self.assertTrue(missed.called_back)
        self.assertEqual(missed.callback_call_id, back)

    def test_another_clinic_reaching_the_number_does_not_call_back(self):
        missed = self.missed()
        other = self.env["res.company"].create({"name": "Other Clinic"})
        other_connection, _token = make_connection(
            self.env, name="Other PBX", company=other
        )
        raw = cdr_event(
            "other-back",
            (T0 + timedelta(minutes=10)).isoformat(),
            direction="outgoing",
            **{"from": "102", "to": CALLER},
        )
        self.Call._ingest_events(other_connection, [validate_event(0, raw)])
        self.assertFalse(missed.called_back)
        back = self.call_back(T0 + timedelta(minutes=20))
        self.assertEqual(missed.callback_call_id, back)

    def test_other_numbers_do_not_call_back(self):
        missed = self.missed()
        self.call_back(T0 + timedelta(minutes=5), number="+79169999999")
        self.assertFalse(missed.called_back)

    def test_filters_of_the_call_log(self):
        missed = self.missed()
        self.call_back(T0 + timedelta(minutes=5))
        still_missed = self.missed(T0, number="+79161231231")
        Call = self.Call
        self.assertEqual(
            Call.search(
                [("missed", "=", True), ("connection_id", "=", self.connection.id)]
            ),
            missed | still_missed,
        )
        self.assertEqual(
            Call.search(
                [("called_back", "=", True), ("connection_id", "=", self.connection.id)]
            ),
            missed,
        )
