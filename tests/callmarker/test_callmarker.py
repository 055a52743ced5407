import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, quote, urlsplit

from freezegun import freeze_time
from lxml import etree

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.modules.migration import load_script
from odoo.tests import Form, HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger
from odoo.tools.safe_eval import safe_eval

from odoo.addons.clinic_pbx.models.callmarker import pbx_callmarker_push
from odoo.addons.clinic_pbx.tools.call_events import validate_event

from ..common import cdr_event, make_connection, run_cron_until_caught_up
from ..fakes.callmarker_server import WAV
from .common import MUTE, NOW, T0, CallmarkerMixin, result


@tagged("post_install", "-at_install")
class TestCallmarkerPush(CallmarkerMixin, TransactionCase):
    def test_finished_call_is_sent_once_with_its_data(self):
        ringing = {
            "type": "ringing",
            "call_id": "c1",
            "time": T0,
            "direction": "incoming",
            "from": "+7 916 123-45-67",
            "to": "+7 495 123-45-00",
            "extension": "101",
        }
        call = self.ingest(ringing)
        self.assertFalse(self.push_of(call), "a ringing call is not sent")
        self.finished_call("c1")
        self.assertEqual(call.state, "done")
        self.assertEqual(self.push_of(call).state, "pending")

        self.sync()
        self.assertEqual(len(self.mock.calls), 1)
        body = next(iter(self.mock.calls.values()))
        sent = body["call"]
        self.assertEqual(body["integration_id"], "clinic-42")
        self.assertEqual(sent["id"], str(call.id))
        self.assertEqual(sent["pbx_call_id"], "c1")
        self.assertEqual(sent["started_at"], "2026-11-05T06:17:30Z")
        self.assertEqual(sent["direction"], "incoming")
        self.assertEqual(sent["from"], "+7 916 123-45-67")
        self.assertEqual(sent["to"], "+7 495 123-45-00")
        self.assertEqual(sent["caller_number"], "+79161234567")
        self.assertEqual(sent["admin"]["name"], "Anna Ivanova")
        self.assertEqual(sent["disposition"], "answered")
        self.assertEqual(
            (sent["wait_seconds"], sent["talk_seconds"], sent["total_seconds"]),
            (5, 60, 65),
        )
        self.assertIsNone(sent["recording"], "no recording, no link")
        push = self.push_of(call)
        self.assertEqual((push.state, push.attempts), ("sent", 1))
        self.assertEqual(push.service_status, "accepted")

        # More events of the same call and more runs send nothing again.
        self.ingest(cdr_event("c1", T0, talk_seconds=61))
        self.sync(NOW + timedelta(hours=1))
        self.sync(NOW + timedelta(days=2))
        self.assertEqual(self.mock.hits["push"], 1)
        self.assertEqual(len(self.Push.search([("call_id", "=", call.id)])), 1)

    def test_calls_finished_while_disabled_are_not_sent(self):
        self.company.sudo().callmarker_enabled = False
        call = self.finished_call("off")
        self.assertFalse(self.push_of(call))
        self.company.sudo().callmarker_enabled = True
        self.sync()
        self.assertEqual(self.mock.hits["push"], 0)

    def test_failed_push_is_retried_later_with_the_same_key(self):
        call = self.finished_call("c1")
        self.mock.fail("push", 503, {"error": "maintenance"})
        with mute_logger(*MUTE):
            self.sync()
        push = self.push_of(call)
        self.assertEqual((push.state, push.attempts), ("failed", 1))
        self.assertIn("503", push.last_error)
        self.assertEqual(push.next_attempt_at, NOW + timedelta(minutes=5))
        self.assertIn("Sending calls", self.company.callmarker_last_error)
        self.assertFalse(self.mock.calls)

        # Not due yet: nothing is sent.
        self.sync(NOW + timedelta(minutes=2))
        self.assertEqual(self.mock.hits["push"], 1)
        # Due: sent, and the run is a success again.
        self.sync(NOW + timedelta(minutes=6))
        push = self.push_of(call)
        self.assertEqual((push.state, push.attempts), ("sent", 2))
        self.assertFalse(push.last_error)
        self.assertEqual(len(self.mock.calls), 1)
        self.assertFalse(self.company.callmarker_last_error)

    def test_lost_answer_does_not_store_the_call_twice(self):
        call = self.finished_call("c1")
        # The service stores the call but its answer is lost on the way.
        self.mock.fail("push", 502, after=True)
        with mute_logger(*MUTE):
            self.sync()
        self.assertEqual(self.push_of(call).state, "failed")
        self.sync(NOW + timedelta(minutes=10))
        push = self.push_of(call)
        self.assertEqual((push.state, push.service_status), ("sent", "duplicate"))
        self.assertEqual(len(self.mock.push_log), 2, "the retry did reach the service")
        self.assertEqual(len(self.mock.calls), 1, "and the service kept one call")
        keys = {body["idempotency_key"] for body in self.mock.push_log}
        self.assertEqual(keys, {push.idempotency_key})

    def test_service_refusing_one_call_does_not_block_the_others(self):
        first = self.finished_call("c1")
        second = self.finished_call("c2", "2026-11-05T09:20:00+03:00")
        self.mock.fail("push", 422, {"error": "direction not supported"})
        self.sync()
        self.assertEqual(self.push_of(first).state, "failed")
        self.assertIn("direction not supported", self.push_of(first).last_error)
        self.assertEqual(self.push_of(second).state, "sent")

    def test_rate_limit_honours_retry_after(self):
        call = self.finished_call("c1")
        self.mock.fail("push", 429, headers={"Retry-After": "0"})
        self.sync()
        self.assertEqual(self.push_of(call).state, "sent", "retried within the run")
        self.assertEqual(self.mock.hits["push"], 2)

        other = self.finished_call("c2")
        self.mock.fail("push", 429, headers={"Retry-After": "3600"})
        with mute_logger(*MUTE):
            self.sync()
        push = self.push_of(other)
        self.assertEqual(push.state, "failed")
        self.assertEqual(push.next_attempt_at, NOW + timedelta(hours=1))
        self.sync(NOW + timedelta(minutes=30))
        self.assertEqual(self.push_of(other).state, "failed", "waits as asked")
        self.sync(NOW + timedelta(minutes=61))
        self.assertEqual(self.push_of(other).state, "sent")

    def test_timeout_is_retried(self):
        call = self.finished_call("c1")
        self.wait_at_most(10)  # the least Odoo's tests allow
        self.mock.delay = 10.5
        with mute_logger(*MUTE):
            self.sync()
        push = self.push_of(call)
        self.assertEqual(push.state, "failed")
        self.assertIn("no answer in time", push.last_error)
        self.mock.delay = 0
        self.sync(NOW + timedelta(minutes=6))
        self.assertEqual(self.push_of(call).state, "sent")

    def test_refused_token_pauses_until_it_is_changed(self):
        call = self.finished_call("c1")
        self.mock.token = "the-token-callmarker-expects"
        with self.assertLogs("odoo.addons.clinic_pbx", level="INFO") as logs:
            self.sync()
        company = self.company.sudo()
        self.assertTrue(company.callmarker_paused)
        self.assertIn("401", company.callmarker_last_error)
        self.assertEqual(
            (self.push_of(call).state, self.push_of(call).attempts), ("pending", 0)
        )
        secret = company.callmarker_token
        self.assertNotIn(secret, company.callmarker_last_error)
        self.assertNotIn(secret, "\n".join(logs.output))

        hits = dict(self.mock.hits)
        self.sync(NOW + timedelta(hours=1))
        self.assertEqual(self.mock.hits, hits, "paused: nothing is asked")

        company.callmarker_token = "the-token-callmarker-expects"
        self.assertFalse(company.callmarker_paused)
        self.sync(NOW + timedelta(hours=2))
        self.assertEqual(self.push_of(call).state, "sent")

    def test_manager_sends_a_given_up_call_again(self):
        call = self.finished_call("c1")
        self.mock.fail("push", 500, times=10)
        with mute_logger(*MUTE):
            for minutes in range(0, 60 * 24 * 3, 60):
                self.sync(NOW + timedelta(minutes=minutes))
        push = self.push_of(call)
        self.assertEqual((push.state, push.attempts), ("failed", 10))
        self.assertFalse(push.next_attempt_at, "automatic retries are over")
        self.sync(NOW + timedelta(days=5))
        self.assertEqual(self.mock.hits["push"], 10)

        push.with_user(self.manager).action_retry()
        self.sync(NOW + timedelta(days=5, minutes=1))
        self.assertEqual(self.push_of(call).state, "sent")
        self.assertEqual(len(self.mock.calls), 1)

    def other_company_call(self):
        """A finished call of a second company of the database."""
        other = self.env["res.company"].create({"name": "Second Clinic"})
        connection, _token = make_connection(self.env, name="Their PBX", company=other)
        event = validate_event(0, cdr_event("theirs", T0, **{"from": "+79165550000"}))
        return self.Call._ingest_events(connection, [event])[2]

    def test_a_manager_cannot_point_a_queued_row_at_another_call(self):
        # Else a manager of one clinic sends another clinic's call, with a
        # recording link, to their own Callmarker account.
        push = self.push_of(self.finished_call("c1"))
        theirs = self.other_company_call()
        as_manager = push.with_user(self.manager)
        for vals in (
            {"call_id": theirs.id},
            {"state": "pending", "attempts": 0},
            {"state": "sent"},
        ):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                as_manager.write(vals)
        with self.assertRaises(UserError):
            push.sudo().write({"call_id": theirs.id})
        self.assertEqual(push.state, "pending")

    def test_a_row_of_another_company_is_never_sent(self):
        call = self.finished_call("c1")
        theirs = self.other_company_call()
        self.env.flush_all()
        # A row that got there anyway (written before the company check).
        self.env.cr.execute(
            "UPDATE pbx_callmarker_push SET call_id = %s WHERE call_id = %s",
            [theirs.id, call.id],
        )
        self.env.invalidate_all()
        with mute_logger(
            "odoo.addons.clinic_pbx.models.callmarker.pbx_callmarker_push"
        ):
            self.sync()
        self.assertEqual(self.mock.hits["push"], 0, "nothing was sent")
        push = self.push_of(theirs)
        self.assertEqual(push.state, "failed")
        self.assertIn("another company", push.last_error)
        self.sync(NOW + timedelta(days=1))
        self.assertEqual(self.mock.hits["push"], 0, "nor later")

    def test_scheduled_action_commits_as_it_sends(self):
        calls = self.finished_call("c1") | self.finished_call("c2")
        commits = []
        self.patch(self.env.cr, "commit", lambda: commits.append(True))
        self.patch(pbx_callmarker_push, "COMMIT_EVERY", 1)
        cron = self.env.ref("clinic_pbx.ir_cron_callmarker_sync")
        self.assertEqual(cron.code.strip(), "model._cron_callmarker_sync()")
        with freeze_time(NOW):
            self.env["res.company"]._cron_callmarker_sync()
        self.assertEqual(
            set(self.Push.search([("call_id", "in", calls.ids)]).mapped("state")),
            {"sent"},
        )
        self.assertGreaterEqual(len(commits), 3, "one per call sent, one per company")

        # A paused company is left alone by the scheduled action.
        self.company.sudo().callmarker_paused = True
        self.finished_call("c3")
        hits = dict(self.mock.hits)
        self.env["res.company"]._cron_callmarker_sync()
        self.assertEqual(self.mock.hits, hits)

    def test_scheduled_action_catches_up_a_backlog_in_runs(self):
        calls = self.finished_call("c1") | self.finished_call("c2")
        self.company.sudo().callmarker_pulled_until = NOW - timedelta(days=3)
        self.patch(pbx_callmarker_push, "PUSH_BATCH", 1)
        self.patch(self.env.cr, "commit", lambda: None)
        with freeze_time(NOW):
            reported = run_cron_until_caught_up(
                self, self.env["res.company"]._cron_callmarker_sync
            )
        self.env.invalidate_all()
        # One call sent and one day of results fetched per run; each run says
        # how many batches of calls and days of results were left.
        self.assertEqual(reported, [3, 1, 0])
        self.assertEqual(
            set(self.Push.search([("call_id", "in", calls.ids)]).mapped("state")),
            {"sent"},
        )
        self.assertEqual(self.company.callmarker_pulled_until, NOW)


@tagged("post_install", "-at_install")
class TestCallmarkerResults(CallmarkerMixin, TransactionCase):
    def setUp(self):
        super().setUp()
        self.c1 = self.finished_call("c1")
        self.c2 = self.finished_call("c2", "2026-11-05T10:00:00+03:00")

    def test_results_are_stored_on_the_calls(self):
        self.mock.results = [result(self.c1)]
        self.sync()
        call = self.c1
        self.assertEqual(
            sorted(call.tag_ids.mapped("display_name")),
            ["Intent: Booking", "Outcome: Appointment made"],
        )
        self.assertEqual(call.quality_score, 80.0)
        self.assertEqual(
            [(line.criterion, line.passed) for line in call.quality_checklist_ids],
            [
                ("Greeted with the clinic's name", True),
                ("Asked for the patient's name", True),
                ("Offered the nearest slot", False),
            ],
        )
        self.assertEqual(call.quality_checklist_ids[2].weight, 2)
        self.assertEqual(call.quality_summary, "Booked a cleaning for Thursday.")
        self.assertEqual(call.quality_analyzed_at, datetime(2026, 11, 5, 11, 58))
        self.assertFalse(self.c2.quality_analyzed_at)
        intent, outcome = call.tag_ids.sorted("display_name")
        self.assertEqual(intent.category_id.name, "Intent")
        self.assertTrue(intent.color and outcome.color)
        self.assertNotEqual(intent.color, outcome.color, "categories are told apart")
        self.assertEqual(
            intent.with_context(pbx_tag_short=True).display_name,
            "Booking",
            "the Call Log shows short tags",
        )
        self.assertEqual(self.company.callmarker_pulled_until, NOW)
        self.assertEqual(self.company.callmarker_last_success_at, NOW)

    def test_repull_updates_and_never_duplicates(self):
        self.mock.results = [result(self.c1), result(self.c2)]
        self.sync()
        lines_before = self.c1.quality_checklist_ids
        Tag = self.env["pbx.call.tag"]
        Category = self.env["pbx.call.tag.category"]
        self.assertEqual(Tag.search_count([]), 2, "both calls share the two tags")

        # The same results again (the windows overlap by the Time Lag).
        self.sync(NOW + timedelta(minutes=3))
        self.assertEqual(self.c1.quality_checklist_ids, lines_before)
        self.assertEqual(Tag.search_count([]), 2)

        # A newer analysis of c1: other outcome, better score, other checklist.
        self.mock.results = [
            result(
                self.c1,
                "2026-11-05T12:01:00Z",
                tags=[
                    {"category": "intent", "name": "booking"},
                    {"category": "Outcome", "name": "Call back later"},
                ],
                score={"value": 95, "max": 100},
                checklist=[
                    {"criterion": "Greeted with the clinic's name", "passed": True},
                    {"criterion": "Asked for the patient's name", "passed": False},
                    {"criterion": "Said goodbye", "passed": True},
                ],
            )
        ]
        self.sync(NOW + timedelta(minutes=10))
        self.assertEqual(
            sorted(self.c1.tag_ids.mapped("display_name")),
            ["Intent: Booking", "Outcome: Call back later"],
        )
        self.assertEqual(self.c1.quality_score, 95.0)
        lines = self.c1.quality_checklist_ids
        self.assertEqual(
            [(line.criterion, line.passed) for line in lines],
            [
                ("Greeted with the clinic's name", True),
                ("Asked for the patient's name", False),
                ("Said goodbye", True),
            ],
        )
        self.assertEqual(lines[:2].ids, lines_before[:2].ids, "lines updated in place")
        self.assertEqual(Category.search_count([]), 2)
        self.assertEqual(Tag.search_count([]), 3)
        # c2 kept its analysis.
        self.assertEqual(self.c2.quality_score, 80.0)

        # An older analysis arriving late does not overwrite the newer one.
        self.mock.results = [
            result(self.c1, "2026-11-05T11:30:00Z", score={"value": 1, "max": 10})
        ]
        self.company.sudo().callmarker_pulled_until = NOW - timedelta(hours=1)
        self.sync(NOW + timedelta(minutes=20))
        self.assertEqual(self.c1.quality_score, 95.0)

    def test_window_reaches_back_by_the_time_lag(self):
        self.sync()
        self.sync(NOW + timedelta(minutes=30))
        first, second = self.mock.result_queries
        self.assertEqual(first["to"], "2026-11-05T12:00:00Z")
        self.assertEqual(first["from"], "2026-11-04T11:55:00Z")
        self.assertEqual(second["from"], "2026-11-05T11:55:00Z")
        self.assertEqual(second["to"], "2026-11-05T12:30:00Z")
        self.assertEqual(second["integration_id"], "clinic-42")

    def test_a_long_pause_is_caught_up_a_day_per_run(self):
        self.company.sudo().callmarker_pulled_until = NOW - timedelta(days=3)
        self.sync()
        self.assertEqual(self.mock.result_queries[-1]["to"], "2026-11-03T12:00:00Z")
        self.assertEqual(self.company.callmarker_pulled_until, NOW - timedelta(days=2))
        self.sync()
        self.sync()
        self.assertEqual(self.mock.result_queries[-1]["to"], "2026-11-05T12:00:00Z")
        self.assertEqual(self.company.callmarker_pulled_until, NOW)

    def test_an_unusable_url_is_reported_not_raised(self):
        # Written past the settings' checks (RPC, company form).
        self.company.sudo().callmarker_call_data_url = "http://:80/results"
        with mute_logger(*MUTE):
            self.sync()
        self.assertIn("must start with http", self.company.callmarker_last_error)
        self.assertFalse(self.company.callmarker_pulled_until)

    def test_all_pages_are_read(self):
        calls = [self.finished_call(f"p{i}") for i in range(5)]
        self.mock.page_size = 2
        self.mock.results = [result(call) for call in calls]
        self.sync()
        self.assertTrue(all(call.quality_score == 80.0 for call in calls))
        self.assertEqual(self.mock.hits["results"], 3)

    def test_malformed_results_are_skipped_with_a_reason(self):
        other_company = self.env["res.company"].create({"name": "Other Clinic"})
        other_connection, _token = make_connection(
            self.env, name="Other PBX", company=other_company
        )
        foreign = self.Call._ingest_events(
            other_connection, [validate_event(0, cdr_event("x1", T0))]
        )[2]
        self.mock.results = [
            result(self.c1),
            result(self.c2, score={"value": "high", "max": 10}),
            result(foreign),
            "not an object",
            {"call_id": str(self.c2.id), "tags": []},
            result(self.c2, call_id="²"),
        ]
        with mute_logger(*MUTE):
            self.sync()
        self.assertEqual(self.c1.quality_score, 80.0)
        self.assertFalse(self.c2.quality_analyzed_at)
        self.assertFalse(foreign.quality_analyzed_at)
        skipped = self.company.callmarker_skipped
        self.assertIn(f"{self.c2.id}: score value must be a number", skipped)
        self.assertIn(f"{foreign.id}: no such call in this company", skipped)
        self.assertIn("²: not a call id of this database", skipped)
        self.assertIn("a result must be an object", skipped)
        self.assertIn("analyzed_at must be an ISO 8601 time", skipped)
        self.assertFalse(self.company.callmarker_last_error, "the run itself worked")
        self.assertEqual(self.company.callmarker_pulled_until, NOW)

    def test_failed_fetch_keeps_the_window(self):
        self.sync()
        self.mock.results = [result(self.c1)]
        self.mock.fail("results", 500)
        with mute_logger(*MUTE):
            self.sync(NOW + timedelta(minutes=30))
        self.assertEqual(self.company.callmarker_pulled_until, NOW, "not moved")
        self.assertIn("Fetching results", self.company.callmarker_last_error)
        self.assertIn("500", self.company.callmarker_last_error)
        self.assertEqual(self.company.callmarker_last_success_at, NOW)
        self.assertFalse(self.c1.quality_analyzed_at)

        self.sync(NOW + timedelta(minutes=60))
        self.assertEqual(self.c1.quality_score, 80.0)
        self.assertEqual(self.mock.result_queries[-1]["from"], "2026-11-05T11:55:00Z")
        self.assertFalse(self.company.callmarker_last_error)

    def test_an_answer_without_results_is_an_error(self):
        self.mock.fail("results", 200, {"data": []})
        with mute_logger(*MUTE):
            self.sync()
        self.assertIn('"results" list', self.company.callmarker_last_error)
        self.assertFalse(self.company.callmarker_pulled_until)


@tagged("post_install", "-at_install")
class TestCallmarkerCallLog(CallmarkerMixin, TransactionCase):
    """What staff see: tag and score filters, grouping and report measures."""

    def setUp(self):
        super().setUp()
        self.booking = self.finished_call("c1")
        self.complaint = self.finished_call("c2")
        self.silent = self.finished_call("c3")
        self.mock.results = [
            result(self.booking, score={"value": 40, "max": 100}),
            result(
                self.complaint,
                tags=[{"category": "Intent", "name": "Complaint"}],
                score={"value": 9, "max": 10},
            ),
        ]
        self.sync()

    def search_filter(self, name, user=None):
        """Calls shown by the Call Log's search filter ``name``."""
        Call = self.Call.with_user(user or self.manager)
        arch = Call.get_views([(False, "search")])["views"]["search"]["arch"]
        node = etree.fromstring(arch).xpath(f"//filter[@name='{name}']")[0]
        return Call.search(safe_eval(node.get("domain"), {}))

    def test_low_score_filter_follows_the_company_threshold(self):
        ours = self.booking | self.complaint | self.silent
        self.assertEqual(self.search_filter("filter_low_score") & ours, self.booking)
        self.company.sudo().callmarker_low_score = 95
        self.assertEqual(
            self.search_filter("filter_low_score") & ours, self.booking | self.complaint
        )
        self.assertEqual(self.search_filter("filter_not_analyzed") & ours, self.silent)

    def test_a_call_classified_without_a_score_has_no_score(self):
        self.mock.results = [
            result(self.silent, score=None, checklist=None, summary=None),
        ]
        self.sync()
        silent = self.silent.with_user(self.anna)
        self.assertTrue(silent.quality_analyzed_at)
        self.assertTrue(silent.tag_ids)
        # Not a red "0.0": no score, not a low one.
        self.assertFalse(silent.quality_scored)
        self.assertFalse(silent.quality_low)
        ours = self.booking | self.complaint | self.silent
        self.assertEqual(self.search_filter("filter_low_score") & ours, self.booking)
        self.assertIn(self.silent, self.search_filter("filter_analyzed"))
        list_arch = silent.get_views([(False, "list")])["views"]["list"]["arch"]
        score = etree.fromstring(list_arch).xpath("//field[@name='quality_score']")[0]
        self.assertEqual(score.get("invisible"), "not quality_scored")
        # A later analysis that scores it.
        self.mock.results = [
            result(self.silent, "2026-11-05T12:01:00Z", score={"value": 3, "max": 10}),
        ]
        self.sync(NOW + timedelta(minutes=10))
        self.assertTrue(silent.quality_scored)
        self.assertEqual(silent.quality_score, 30.0)
        self.assertTrue(silent.quality_low)

    def test_a_zero_score_after_an_unscored_analysis_is_stored(self):
        self.mock.results = [result(self.silent, score=None)]
        self.sync()
        self.mock.results = [
            result(self.silent, "2026-11-05T12:01:00Z", score={"value": 0, "max": 10}),
        ]
        self.sync(NOW + timedelta(minutes=10))
        self.assertTrue(self.silent.quality_scored)
        self.env.cr.execute(
            "SELECT quality_score FROM pbx_call WHERE id = %s", [self.silent.id]
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0.0)
        self.assertTrue(self.silent.quality_low)

    def test_scores_stored_before_the_scored_flag_stay_visible(self):
        migration = load_script(
            "clinic_pbx/migrations/18.0.1.1.0/post-migration.py",
            "clinic_pbx_scored_migration",
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE pbx_call SET quality_scored = NULL WHERE id IN %s",
            [tuple(self.booking.ids + self.silent.ids)],
        )
        self.env.invalidate_all()
        migration.migrate(self.env.cr, "18.0.1.0.0")
        self.assertTrue(self.booking.quality_scored)
        self.assertEqual(self.booking.quality_score, 40.0)
        self.assertFalse(self.silent.quality_scored)

    def test_filter_and_group_by_tag(self):
        Call = self.Call.with_user(self.anna)
        self.assertEqual(Call.search([("tag_ids", "ilike", "Booking")]), self.booking)
        self.assertEqual(
            Call.search([("tag_ids", "ilike", "Intent")]), self.booking | self.complaint
        )
        groups = {
            tag.display_name: count
            for tag, count in Call._read_group(
                [("id", "in", (self.booking | self.complaint).ids)],
                ["tag_ids"],
                ["__count"],
            )
        }
        self.assertEqual(
            groups,
            {
                "Intent: Booking": 1,
                "Outcome: Appointment made": 1,
                "Intent: Complaint": 1,
            },
        )
        arch = Call.get_views([(False, "search")])["views"]["search"]["arch"]
        group_tag = etree.fromstring(arch).xpath("//filter[@name='groupby_tag']")[0]
        self.assertIn("tag_ids", group_tag.get("context"))

    def test_average_score_by_admin_counts_analysed_calls_only(self):
        groups = self.Call.with_user(self.manager).read_group(
            [("id", "in", (self.booking | self.complaint | self.silent).ids)],
            ["quality_score:avg"],
            ["user_id"],
        )
        self.assertEqual(len(groups), 1)
        self.assertEqual(groups[0]["user_id"][0], self.anna.id)
        self.assertEqual(groups[0]["quality_score"], 65.0)

    def test_pbx_user_reads_tags_and_checklist_of_own_calls_only(self):
        outsider = new_test_user(
            self.env,
            login="cm_olga",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_user",
            pbx_extension="102",
        )
        own = self.booking.with_user(self.anna)
        self.assertEqual(len(own.quality_checklist_ids), 3)
        self.assertTrue(own.tag_ids)
        Lines = self.env["pbx.call.checklist.line"]
        self.assertFalse(Lines.with_user(outsider).search([]))
        self.assertTrue(Lines.with_user(self.anna).search([]))
        with self.assertRaises(AccessError):
            self.booking.quality_checklist_ids[0].with_user(outsider).read(
                ["criterion"]
            )


@tagged("post_install", "-at_install")
class TestCallmarkerSettings(CallmarkerMixin, TransactionCase):
    start_service = False

    def settings(self, **values):
        return self.env["res.config.settings"].create(values)

    def test_enabling_requires_every_field(self):
        with self.assertRaises(ValidationError) as caught:
            self.settings(callmarker_enabled=True)
        message = str(caught.exception)
        for label in ("Call Data URL", "Request Data URL", "ID", "Token"):
            self.assertIn(label, message)
        self.assertFalse(self.company.callmarker_enabled, "nothing was saved")

        with self.assertRaises(ValidationError) as caught:
            self.settings(
                callmarker_enabled=True,
                callmarker_call_data_url="callmarker.example/results",
                callmarker_request_data_url="https://callmarker.example/calls",
                callmarker_integration_id="clinic-42",
                callmarker_token="secret",
            )
        self.assertIn("Call Data URL must start with http", str(caught.exception))

        for url in ("http://:80/results", "http://[::1/results"):
            with self.assertRaises(ValidationError, msg=url):
                self.settings(
                    callmarker_enabled=True,
                    callmarker_call_data_url=url,
                    callmarker_request_data_url="https://callmarker.example/calls",
                    callmarker_integration_id="clinic-42",
                    callmarker_token="secret",
                )

        with self.assertRaises(ValidationError):
            self.settings(
                callmarker_enabled=True,
                callmarker_call_data_url="https://callmarker.example/results",
                callmarker_request_data_url="https://callmarker.example/calls",
                callmarker_integration_id="clinic-42",
                callmarker_token="secret",
                callmarker_time_lag=-3,
            )

        self.settings(
            callmarker_enabled=True,
            callmarker_call_data_url="https://callmarker.example/results",
            callmarker_request_data_url="https://callmarker.example/calls",
            callmarker_integration_id="clinic-42",
            callmarker_token="secret",
        ).execute()
        self.assertTrue(self.company.callmarker_enabled)
        self.assertEqual(self.company.callmarker_integration_id, "clinic-42")

    def test_token_is_for_system_administrators_only(self):
        self.company.sudo().callmarker_token = "secret-token"
        company = self.company.with_user(self.manager)
        with self.assertRaises(AccessError):
            company.read(["callmarker_token"])
        field = self.env["res.config.settings"]._fields["callmarker_token"]
        self.assertEqual(field.groups, "base.group_system")

    def test_the_settings_and_their_health_are_for_administrators(self):
        # Portal users read their company: they must not learn the account,
        # its endpoints, Callmarker's error texts or the skipped call ids.
        self.start_mock()
        self.company.sudo().write(
            {
                "callmarker_last_error": "HTTP 500 from callmarker.example",
                "callmarker_skipped": "4242: no such call in this company",
            }
        )
        portal = new_test_user(self.env, login="cm_portal", groups="base.group_portal")
        hidden = (
            "callmarker_enabled",
            "callmarker_call_data_url",
            "callmarker_request_data_url",
            "callmarker_integration_id",
            "callmarker_time_lag",
            "callmarker_pulled_until",
            "callmarker_last_success_at",
            "callmarker_last_error",
            "callmarker_last_error_at",
            "callmarker_paused",
            "callmarker_skipped",
        )
        for user in (portal, self.anna, self.manager):
            company = self.company.with_user(user)
            for name in hidden:
                with self.subTest(user=user.login, field=name):
                    with self.assertRaises(AccessError):
                        company.read([name])
        # An administrator still sees and changes them in Settings.
        admin = self.env.ref("base.user_admin")
        with Form(self.env["res.config.settings"].with_user(admin)) as form:
            self.assertEqual(form.callmarker_integration_id, self.mock.integration_id)
            self.assertIn("4242", form.callmarker_skipped)
            form.callmarker_time_lag = 7
        form.record.execute()
        self.assertEqual(self.company.callmarker_time_lag, 7)
        action = form.record.with_user(admin).action_callmarker_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        # The Low Score filter of the Call Log still works for the staff.
        call = self.finished_call("cm-low")
        call.sudo().write({"quality_score": 40, "quality_scored": True})
        for user in (self.anna, self.manager):
            Call = self.Call.with_user(user)
            self.assertEqual(Call.search([("quality_low", "=", True)]), call)
            self.assertTrue(call.with_user(user).quality_low)

    def test_test_connection_reports_and_resumes(self):
        self.start_mock()
        self.company.sudo().write(
            {"callmarker_paused": True, "callmarker_last_error": "refused"}
        )
        action = self.settings().action_callmarker_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertFalse(self.company.callmarker_paused)
        self.assertFalse(self.company.callmarker_last_error)
        self.assertEqual(self.mock.hits["results"], 1)

        self.mock.token = "another"
        with self.assertLogs("odoo.addons.clinic_pbx", level="WARNING") as logs:
            action = self.settings().action_callmarker_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("401", action["params"]["message"])
        self.assertIn("401", self.company.callmarker_last_error)
        self.assertNotIn(self.mock.token, "\n".join(logs.output))
        self.assertNotIn("cm-token", "\n".join(logs.output))


@tagged("post_install", "-at_install")
class TestCallmarkerRecordingLink(CallmarkerMixin, HttpCase):
    """The recording link Callmarker gets works without a login, for that
    one recording, until it expires."""

    def setUp(self):
        super().setUp()
        # The PBX serves its recordings from the mock, on loopback: allowed
        # only under the connection's Recordings URL.
        self.connection.recordings_base_url = self.mock.recording_url("")
        self.call = self.finished_call(
            "c1", recording_url=self.mock.recording_url("c1.wav")
        )
        self.other = self.finished_call(
            "c2", recording_url=self.mock.recording_url("c2.wav")
        )
        self.company._callmarker_sync()
        bodies = {body["call"]["id"]: body["call"] for body in self.mock.calls.values()}
        self.link = bodies[str(self.call.id)]["recording"]["url"]

    def open(self, url):
        return self.url_open(url, timeout=30)

    def nonce(self, call):
        return self.push_of(call).sudo().link_nonce

    @mute_logger("odoo.http")
    def test_link_lasts_hours_and_dies_when_the_push_is_reset(self):
        # A link read in a log or a dashboard is worth little for long, and
        # "Send Again" takes back whatever was handed out before.
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.link).query).items()}
        expires = int(query["expires"])
        self.assertLessEqual(expires - time.time(), 6 * 3600)
        Call = self.env["pbx.call"]
        last_second = datetime.fromtimestamp(expires - 1, timezone.utc).replace(
            tzinfo=None
        )
        self.assertTrue(
            Call._callmarker_check_recording_link(
                self.call.id, expires, query["signature"], last_second
            )
        )
        self.assertEqual(self.open(self.link).status_code, 200)

        push = self.push_of(self.call)
        push.sudo().state = "failed"  # e.g. its answer was lost
        push.with_user(self.manager).action_retry()
        self.assertEqual(self.open(self.link).status_code, 403)
        self.assertFalse(
            Call._callmarker_check_recording_link(
                self.call.id, expires, query["signature"], last_second
            )
        )
        # The next attempt sends a link that works.
        self.company._callmarker_sync()
        resent = self.mock.push_log[-1]["call"]["recording"]["url"]
        self.assertNotEqual(resent, self.link)
        self.assertEqual(self.open(resent).status_code, 200)

    def test_link_plays_that_recording_without_login(self):
        self.assertTrue(self.link.startswith(self.base_url()))
        response = self.open(self.link)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, WAV)
        self.assertEqual(response.headers["Content-Type"], "audio/wav")
        self.assertEqual(self.mock.recording_requests, ["/recordings/c1.wav"])
        self.assertEqual(
            response.headers["Content-Security-Policy"], "default-src 'none'; sandbox"
        )
        self.assertEqual(
            response.headers["Content-Disposition"],
            f'inline; filename="call-{self.call.id}.wav"',
        )

    @mute_logger("odoo.addons.clinic_pbx.models.pbx_call_recording")
    def test_link_never_serves_a_page(self):
        # Anyone holding a link could otherwise send it to a logged-in user
        # and run a script in Odoo's origin.
        self.mock.recording_type = "text/html"
        response = self.open(self.link)
        self.assertEqual(response.status_code, 404)
        self.assertNotEqual(response.content, WAV)

    @mute_logger("odoo.http")
    def test_link_is_refused_for_another_call_or_when_tampered(self):
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.link).query).items()}
        expires, signature = query["expires"], query["signature"]
        tampered = signature[:-1] + ("1" if signature[-1] == "0" else "0")
        later = int(expires) + 3600
        base = f"{self.base_url()}/pbx/callmarker/recording"
        for url in (
            f"{base}/{self.other.id}?expires={expires}&signature={signature}",
            f"{base}/{self.call.id}?expires={later}&signature={signature}",
            f"{base}/{self.call.id}?expires={expires}&signature={tampered}",
            f"{base}/{self.call.id}?expires=soon&signature={signature}",
            f"{base}/{self.call.id}?expires={expires}",
            f"{base}/{self.call.id}",
        ):
            self.assertEqual(self.open(url).status_code, 403, url)
        self.assertFalse(self.mock.recording_requests, "refused before the PBX")

    @mute_logger("odoo.http")
    def test_a_signature_of_any_characters_is_403(self):
        # Not a server error (and a traceback in the log) for each request.
        base = f"{self.base_url()}/pbx/callmarker/recording/{self.call.id}"
        for signature in ("é" * 64, "\u0660" * 64, "A" * 64, "0" * 63 + "\n"):
            url = f"{base}?expires=9999999999&signature={quote(signature)}"
            self.assertEqual(self.open(url).status_code, 403, signature)
        self.assertFalse(self.mock.recording_requests)

    @mute_logger("odoo.http")
    def test_link_expires(self):
        now = fields.Datetime.now()
        expired = self.call._callmarker_recording_link(
            now - timedelta(minutes=1), self.nonce(self.call)
        )
        self.assertEqual(self.open(expired).status_code, 403)
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.link).query).items()}
        Call = self.env["pbx.call"]
        self.assertTrue(
            Call._callmarker_check_recording_link(
                self.call.id, query["expires"], query["signature"], now
            )
        )
        self.assertFalse(
            Call._callmarker_check_recording_link(
                self.call.id,
                query["expires"],
                query["signature"],
                now + timedelta(days=4),
            )
        )

    @mute_logger("odoo.http")
    def test_call_without_recording_gets_no_link(self):
        silent = self.finished_call("c3")
        self.company._callmarker_sync()
        bodies = {body["call"]["id"]: body["call"] for body in self.mock.calls.values()}
        self.assertIsNone(bodies[str(silent.id)]["recording"])
        url = silent._callmarker_recording_link(
            fields.Datetime.now() + timedelta(hours=1), self.nonce(silent)
        )
        self.assertEqual(self.open(url).status_code, 404)
