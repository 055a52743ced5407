from datetime import timedelta

from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import MUTE, NOW, CallmarkerMixin, result


@tagged("post_install", "-at_install")
class TestCallmarkerFaults(CallmarkerMixin, TransactionCase):
    """Callmarker failing on push and on fetch, then coming back.

    Where the local Callmarker answers late, the client waits 10 s for an
    answer (the least Odoo's tests allow) instead of 30, through the system
    parameter that sets Callmarker's timeout.
    """

    def setUp(self):
        super().setUp()
        self.calls = (
            self.finished_call("f1")
            | self.finished_call("f2", "2026-11-05T09:30:00+03:00")
            | self.finished_call("f3", "2026-11-05T09:40:00+03:00")
        )
        self.mock.results = [result(call) for call in self.calls]
        self.company = self.company.sudo()

    def pushes(self):
        return self.Push.search([("call_id", "in", self.calls.ids)], order="id")

    def assert_all_done_once(self, at):
        """Every call reached Callmarker once and has its result once."""
        self.assertEqual(len(self.mock.calls), 3, "the service kept each call once")
        self.assertEqual(
            {body["call"]["id"] for body in self.mock.calls.values()},
            {str(call_id) for call_id in self.calls.ids},
        )
        self.assertEqual(set(self.pushes().mapped("state")), {"sent"})
        self.assertFalse(any(self.pushes().mapped("last_error")))
        for call in self.calls:
            self.assertEqual(call.quality_score, 80.0)
            self.assertEqual(len(call.quality_checklist_ids), 3)
            self.assertEqual(len(call.tag_ids), 2)
        self.assertEqual(self.env["pbx.call.checklist.line"].search_count([]), 9)
        # Recovered: no error shown, the last success is this run.
        self.assertFalse(self.company.callmarker_last_error)
        self.assertEqual(self.company.callmarker_last_success_at, at)
        self.assertEqual(self.company.callmarker_pulled_until, at)

    def test_server_errors_on_push_and_fetch_then_recovery(self):
        # The service stores the first call but its answer is lost in a 502;
        # fetching results fails with a 503.
        self.mock.fail("push", 502, after=True)
        self.mock.fail("results", 503, {"error": "maintenance"})
        with mute_logger(*MUTE):
            self.sync()
        first, second, third = self.pushes()
        self.assertEqual((first.state, first.attempts), ("failed", 1))
        self.assertIn("HTTP 502", first.last_error)
        self.assertEqual((second.state, third.state), ("pending", "pending"))
        error = self.company.callmarker_last_error
        self.assertIn("Sending calls:", error)
        self.assertIn("server error (HTTP 502)", error)
        self.assertIn("Fetching results:", error)
        self.assertIn("server error (HTTP 503)", error)
        self.assertEqual(self.company.callmarker_last_error_at, NOW)
        self.assertFalse(self.company.callmarker_last_success_at)
        self.assertFalse(self.company.callmarker_pulled_until, "the window is kept")
        self.assertFalse(self.calls.filtered("quality_analyzed_at"))

        later = NOW + timedelta(minutes=6)
        self.sync(later)
        self.assertEqual(first.service_status, "duplicate")
        self.assertEqual(len(self.mock.push_log), 4, "the first call went twice")
        self.assert_all_done_once(later)

        # The next fetch overlaps this one: nothing is stored twice.
        self.sync(later + timedelta(minutes=5))
        self.assertEqual(len(self.mock.push_log), 4)
        self.assert_all_done_once(later + timedelta(minutes=5))

    def test_timeouts_on_push_and_fetch_then_recovery(self):
        # Callmarker answers after the client gave up: the first call is
        # stored all the same, the results are lost.
        self.wait_at_most(10)
        self.mock.delay = 11
        with mute_logger(*MUTE):
            self.sync()
        first, second, third = self.pushes()
        self.assertEqual((first.state, first.attempts), ("failed", 1))
        self.assertIn("no answer in time", first.last_error)
        self.assertEqual((second.state, third.state), ("pending", "pending"))
        error = self.company.callmarker_last_error
        self.assertIn("Sending calls:", error)
        self.assertIn("Fetching results:", error)
        self.assertEqual(error.count("no answer in time"), 2)
        self.assertFalse(self.company.callmarker_last_success_at)
        self.assertFalse(self.company.callmarker_pulled_until)

        self.mock.delay = 0
        later = NOW + timedelta(minutes=6)
        self.sync(later)
        self.assertEqual(first.service_status, "duplicate")
        self.assert_all_done_once(later)
