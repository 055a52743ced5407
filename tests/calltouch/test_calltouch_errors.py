import logging
from datetime import timedelta

import requests

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.clinic_pbx.tools.http_service import ServiceError

from ..fakes.calltouch_server import make_call, make_request
from .common import NOW, TOKEN, CalltouchCase, T

SYNC_LOGGER = "odoo.addons.clinic_pbx.models.calltouch.res_company"


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@tagged("post_install", "-at_install")
class TestCalltouchErrors(CalltouchCase):
    def setUp(self):
        super().setUp()
        self.cursor = self.company.calltouch_synced_until
        self.server.add_call(make_call(3001, T, "79161112233"))
        self.server.add_call(make_call(3002, T, "79162223344"))
        self.server.add_request(make_request(3101, T, "79263334455", "Мария"))

    def wait_at_most(self, seconds):
        """Calltouch's answers are waited for ``seconds`` (not 20), as a
        manager sets it (docs/calltouch.md); 10 s is the least Odoo's tests
        allow (they raise any shorter timeout to 10 s)."""
        self.env["ir.config_parameter"].sudo().set_param(
            "clinic_pbx.calltouch_timeout", str(seconds)
        )

    def assert_nothing_imported(self):
        self.assertFalse(self.touches())
        self.assertEqual(self.company.calltouch_synced_until, self.cursor)

    @mute_logger(SYNC_LOGGER)
    def test_a_refused_token_pauses_the_sync_and_says_why(self):
        self.company.calltouch_token = "wrong-token"
        self.assertFalse(self.sync())
        self.assert_nothing_imported()
        self.assertTrue(self.company.calltouch_paused)
        self.assertIn("refused the ID or the Token", self.company.calltouch_last_error)
        self.assertIn("HTTP 401", self.company.calltouch_last_error)
        self.assertNotIn("wrong-token", self.company.calltouch_last_error)
        # Paused: the scheduled run leaves Calltouch alone.
        asked = len(self.server.log)
        self.env["res.company"]._cron_calltouch_sync()
        self.assertEqual(len(self.server.log), asked)
        # A corrected token is a new attempt.
        self.company.calltouch_token = TOKEN
        self.assertFalse(self.company.calltouch_paused)
        self.assertTrue(self.sync())
        self.assertEqual(len(self.touches()), 3)
        self.assertFalse(self.company.calltouch_last_error)

    @mute_logger(SYNC_LOGGER)
    def test_a_site_without_rights_is_403_and_pauses(self):
        self.company.calltouch_site_id = "99999"
        self.assertFalse(self.sync())
        self.assert_nothing_imported()
        self.assertTrue(self.company.calltouch_paused)
        self.assertIn("HTTP 403", self.company.calltouch_last_error)

    def test_rate_limit_honours_retry_after(self):
        self.server.fail_next("calls", status=429, retry_after=1)
        self.assertTrue(self.sync(), self.company.calltouch_last_error)
        self.assertEqual(len(self.touches()), 3)
        limited, retried = self.server.requests_to("calls")[:2]
        self.assertEqual((limited["status"], retried["status"]), (429, 200))
        self.assertGreaterEqual(retried["at"] - limited["at"], 1.0)

    @mute_logger(SYNC_LOGGER)
    def test_rate_limited_too_long_is_retried_next_run(self):
        self.server.fail_next("calls", status=429, retry_after=600)
        self.assertFalse(self.sync())
        self.assert_nothing_imported()
        self.assertIn("HTTP 429", self.company.calltouch_last_error)
        self.assertGreater(self.company.calltouch_retry_at, fields.Datetime.now())
        # The scheduled run waits as Calltouch asked.
        asked = len(self.server.log)
        self.env["res.company"]._cron_calltouch_sync()
        self.assertEqual(len(self.server.log), asked)

    @mute_logger(SYNC_LOGGER)
    def test_a_server_error_loses_nothing_and_the_next_run_imports_all(self):
        # The calls diary answers, then the requests journal fails once.
        self.server.fail_next("requests", status=500)
        self.assertFalse(self.sync())
        self.assert_nothing_imported()
        self.assertFalse(self.company.calltouch_paused)
        self.assertIn("not available", self.company.calltouch_last_error)
        self.assertIn("HTTP 500", self.company.calltouch_last_error)
        self.assertTrue(self.sync(now=NOW + timedelta(minutes=5)))
        self.assertEqual(len(self.touches()), 3)
        self.assertFalse(self.company.calltouch_last_error)
        self.assertEqual(
            self.company.calltouch_synced_until, NOW + timedelta(minutes=5)
        )

    @mute_logger(SYNC_LOGGER)
    def test_a_timeout_loses_nothing(self):
        self.wait_at_most(10)
        self.server.fail_next("calls", delay=11)
        self.assertFalse(self.sync())
        self.assert_nothing_imported()
        self.assertIn("no answer in time", self.company.calltouch_last_error)
        self.assertTrue(self.sync())
        self.assertEqual(len(self.touches()), 3)

    @mute_logger(SYNC_LOGGER)
    def test_server_error_then_timeout_then_recovery(self):
        company = self.company
        # The calls diary answers 502: nothing is imported, the manager sees why.
        self.server.fail_next("calls", status=502)
        self.assertFalse(self.sync())
        self.assert_nothing_imported()
        error = company.calltouch_last_error
        self.assertTrue(error.startswith("Calltouch is not available; the next run"))
        self.assertIn("Calls diary 25/01/2026-25/01/2026, page 1", error)
        self.assertIn("server error (HTTP 502)", error)
        self.assertFalse(company.calltouch_last_success_at)
        self.assertFalse(company.calltouch_paused)
        first_error_at = company.calltouch_last_error_at
        self.assertTrue(first_error_at)

        # Next run: the diary answers, the requests journal hangs longer than
        # the client waits (see test_a_timeout_loses_nothing).
        self.wait_at_most(10)
        self.server.fail_next("requests", delay=11)
        self.assertFalse(self.sync(now=NOW + timedelta(minutes=5)))
        self.assert_nothing_imported()
        error = company.calltouch_last_error
        self.assertIn("Requests journal 01/25/2026: no answer in time", error)
        self.assertGreaterEqual(company.calltouch_last_error_at, first_error_at)
        self.assertFalse(company.calltouch_last_success_at)

        # Calltouch is back: the whole window since the last success, once.
        self.assertTrue(self.sync(now=NOW + timedelta(minutes=10)))
        self.assertFalse(company.calltouch_last_error)
        self.assertTrue(company.calltouch_last_success_at)
        self.assertEqual(
            company.calltouch_last_result,
            "2 calls (2 new, 0 newly linked to PBX calls), 1 requests (1 new leads).",
        )
        self.assertEqual(company.calltouch_synced_until, NOW + timedelta(minutes=10))
        for _run in range(2):  # and again: the windows overlap
            self.assertEqual(
                sorted(self.touches().mapped(lambda t: t.calltouch_call_id or "")),
                ["", "3001", "3002"],
            )
            self.assertEqual(len(self.touches(calltouch_request_id="3101")), 1)
            self.assertEqual(len(self.touches().lead_id), 1)
            self.assertTrue(self.sync(now=NOW + timedelta(minutes=15)))

    def test_a_malformed_record_is_skipped_with_its_reason(self):
        self.server.add_call({"callId": None, "timestamp": 1769331600}, when=T)
        self.server.add_call(
            {"callId": 3003, "timestamp": "yesterday", "date": "soon"}, when=T
        )
        self.server.add_request({"requestId": "x1", "date": 1769331600000}, when=T)
        self.server.add_request(
            {"requestId": 4004, "date": 1769331600000, "client": {"phones": 7}},
            when=T,
        )
        # Empty values of another type are just empty: the request is kept.
        self.server.add_request(
            {
                "requestId": 4005,
                "date": 1769331600000,
                "client": {"phones": {}, "contacts": ""},
                "comments": {},
            },
            when=T,
        )
        with self.assertLogs(
            "odoo.addons.clinic_pbx.tools.calltouch", "WARNING"
        ) as logs:
            self.assertTrue(self.sync(), self.company.calltouch_last_error)
        self.assertEqual(len(self.touches()), 4)
        self.assertTrue(self.touches(calltouch_request_id="4005"))
        reasons = "\n".join(logs.output)
        self.assertIn("no callId", reasons)
        self.assertIn("call 3003: no usable timestamp or date", reasons)
        self.assertIn("is not a Calltouch id", reasons)
        self.assertIn("request 4004: client.phones is not a list", reasons)
        self.assertIn("4 malformed records skipped", self.company.calltouch_last_result)

    def test_a_swapped_date_format_is_refused_by_calltouch(self):
        # What the local Calltouch does with the other endpoint's format, so
        # that the tests above would catch a client sending the wrong one.
        client = self.company._calltouch_client()
        swapped = {
            "clientApiId": TOKEN,
            "dateFrom": "01/25/2026",
            "dateTo": "01/25/2026",
        }
        with self.assertRaises(ServiceError) as caught:
            client._get(client.call_url, dict(swapped, page=1, limit=10))
        self.assertEqual(caught.exception.status, 400)
        days_first = dict(swapped, siteId="67120", dateFrom="25/01/2026")
        with self.assertRaises(ServiceError):
            client._get(client.request_url, days_first)
        self.assertEqual(
            requests.get(
                client.call_url, params=dict(swapped, limit=5000), timeout=5
            ).status_code,
            400,
        )

    def test_the_token_never_reaches_the_logs(self):
        collect = _Collect()
        # Everything our code and the HTTP libraries say, down to debug level.
        verbose = ["odoo.addons.clinic_pbx", "urllib3", "requests"]
        saved = {name: logging.getLogger(name).level for name in verbose}
        for name in verbose:
            logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger().addHandler(collect)
        try:
            self.assertTrue(self.sync())
            self.server.fail_next("requests", status=500)
            self.sync(now=NOW + timedelta(minutes=5))
            self.server.fail_next("calls", status=429, retry_after=1)
            self.sync(now=NOW + timedelta(minutes=10))
            self.company.calltouch_token = TOKEN + "-old"
            self.sync(now=NOW + timedelta(minutes=15))
        finally:
            logging.getLogger().removeHandler(collect)
            for name, level in saved.items():
                logging.getLogger(name).setLevel(level)
        text = "\n".join(collect.lines)
        self.assertIn("clientApiId=***", text)  # the HTTP library's own lines
        self.assertIn("HTTP 500", text)
        self.assertIn("HTTP 401", text)
        self.assertNotIn(TOKEN, text)
        self.assertNotIn(TOKEN, self.company.calltouch_last_error)
