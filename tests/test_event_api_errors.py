import json
from unittest.mock import patch

import psycopg2
from werkzeug.wrappers import Request

import odoo.service.model
from odoo import sql_db
from odoo.http import _generate_routing_rules
from odoo.tests import HttpCase, tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.clinic_pbx.tools.call_events import MAX_BODY_BYTES

from .common import EventApiMixin, cdr_event, make_connection

T0 = "2026-11-05T09:17:30+03:00"


@tagged("post_install", "-at_install")
class TestEventApiErrors(EventApiMixin, HttpCase):
    """Every answer of /pbx/v1/events is JSON; refusals are logged without the token."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, cls.token = make_connection(cls.env, name="Errors PBX")

    def calls(self):
        return self.env["pbx.call"].search([("connection_id", "=", self.connection.id)])

    def assertJsonError(self, response, status):
        self.assertEqual(response.status_code, status, response.text[:300])
        self.assertTrue(
            response.headers["Content-Type"].startswith("application/json"),
            response.headers["Content-Type"],
        )
        self.assertIsInstance(response.json()["error"], str)
        return response.json()

    @mute_logger("odoo.addons.clinic_pbx.controllers.events")
    def test_every_refusal_is_json(self):
        post = self.post_events
        self.assertJsonError(post([cdr_event("c", T0)], None), 401)
        self.assertJsonError(post([], self.token, content_type="text/plain"), 415)
        self.assertJsonError(post(None, self.token, raw="{nope"), 400)
        self.assertJsonError(post(None, self.token, raw='{"events": 1}'), 400)
        huge = json.dumps({"events": [], "padding": "x" * (2 * MAX_BODY_BYTES)})
        self.assertJsonError(post(None, self.token, raw=huge), 413)
        response = self.url_open("/pbx/v1/events", timeout=30)
        self.assertJsonError(response, 405)
        self.assertEqual(response.headers["Allow"], "POST")
        self.assertFalse(self.calls())

    def test_refusals_are_logged_without_the_token(self):
        with self.assertLogs(
            "odoo.addons.clinic_pbx.controllers.events", "WARNING"
        ) as logs:
            self.post_events([cdr_event("c", T0)], self.token[:-1] + "x")
            self.post_events(None, self.token, raw="{nope")
        self.assertEqual(len(logs.output), 2)
        self.assertIn("missing or wrong API token", logs.output[0])
        self.assertIn(f"PBX connection {self.connection.id}", logs.output[1])
        self.assertIn("not valid JSON", logs.output[1])
        for line in logs.output:
            self.assertNotIn(self.token[:-1], line)

    @mute_logger("odoo.addons.clinic_pbx.controllers.events")
    def test_a_chunked_body_stops_being_read_at_the_limit(self):
        """Without a Content-Length the body is cut at 1 MiB, not read whole."""
        read_sizes = []
        original = Request.get_data

        def spy(request, *args, **kwargs):
            data = original(request, *args, **kwargs)
            read_sizes.append(len(data))
            return data

        def chunks():
            yield b'{"events": [], "padding": "'
            for _n in range(5 * 16):
                yield b"x" * 65536
            yield b'"}'

        with patch.object(Request, "get_data", spy):
            response = self.url_open(
                "/pbx/v1/events",
                data=chunks(),
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json",
                },
                timeout=60,
            )
        self.assertJsonError(response, 413)
        self.assertFalse(
            [size for size in read_sizes if size > MAX_BODY_BYTES + 1], read_sizes
        )

    @mute_logger("odoo.http", "odoo.sql_db")
    def test_an_unexpected_failure_is_json_500_and_writes_nothing(self):
        Call = self.registry["pbx.call"]
        with patch.object(Call, "_after_ingest", side_effect=ZeroDivisionError):
            response = self.post_events([cdr_event("c", T0)], self.token)
        body = self.assertJsonError(response, 500)
        self.assertNotIn("ZeroDivisionError", json.dumps(body))
        self.assertFalse(self.calls())

    @mute_logger("odoo.http", "odoo.sql_db")
    def test_a_database_lost_while_matching_the_route_is_json_503(self):
        """A failover can kill the connection of the cursor Odoo matched the
        route with, as Odoo closes it: that answer is JSON too."""
        original = sql_db.TestCursor.close
        failed = []

        def close(cursor):
            original(cursor)
            if not failed:
                failed.append(cursor)
                raise psycopg2.OperationalError("server closed the connection")

        with patch.object(sql_db.TestCursor, "close", close):
            response = self.post_events([cdr_event("c", T0)], self.token)
        self.assertTrue(failed, "the route's first cursor failed to close")
        self.assertJsonError(response, 503)
        self.assertEqual(response.headers["Retry-After"], "5")
        self.assertFalse(self.calls())

    @mute_logger("odoo.http", "odoo.service.model", "odoo.sql_db")
    def test_calls_that_stay_busy_answer_503_with_retry_after(self):
        """When every replay meets a serialization failure, the relay is told to
        come back later, and nothing of the batch is written."""
        Call = self.registry["pbx.call"]
        tries = []

        def busy(calls, *_args):
            tries.append(1)
            calls.env.cr.execute(
                SQL(
                    "DO $$ BEGIN RAISE EXCEPTION 'busy' "
                    "USING ERRCODE = 'serialization_failure'; END $$"
                )
            )

        with (
            patch.object(Call, "_after_ingest", busy),
            patch.object(odoo.service.model, "MAX_TRIES_ON_CONCURRENCY_FAILURE", 1),
        ):
            response = self.post_events([cdr_event("c", T0)], self.token)
        self.assertJsonError(response, 503)
        self.assertEqual(response.headers["Retry-After"], "5")
        self.assertGreater(len(tries), 1, "replayed before giving up")
        self.assertFalse(self.calls())
        # and once the calls are free again, the same batch goes through
        response = self.post_events([cdr_event("c", T0)], self.token)
        self.assertEqual(response.json(), {"accepted": 1, "duplicates": 0})

    def test_the_route_writes_on_the_primary_database(self):
        """Odoo runs read-only routes on a read replica first: an event batch
        must go straight to the primary."""
        endpoints = [
            endpoint
            for url, endpoint in _generate_routing_rules(
                ["base", "web", "clinic_pbx"], nodb_only=False
            )
            if url == "/pbx/v1/events"
        ]
        self.assertEqual(len(endpoints), 1)
        self.assertIs(endpoints[0].routing["readonly"], False)
