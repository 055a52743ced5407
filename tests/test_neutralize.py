import secrets
from datetime import datetime

from odoo.exceptions import UserError
from odoo.modules.neutralize import get_neutralization_queries
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.clinic_pbx.tests.fakes.freepbx_cdr import CdrWriter, MariaDb
from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import EventApiMixin, cdr_event, make_connection
from .fakes.callmarker_server import CallmarkerServer
from .fakes.calltouch_server import CalltouchServer

T0 = datetime(2026, 11, 5, 9, 17, 30)  # PBX time


@tagged("post_install", "-at_install")
class TestNeutralize(EventApiMixin, HttpCase):
    """A neutralized copy of a production database (a staging or a test copy)
    leaves the clinic's PBX and services alone."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        # The production services, played by local servers.
        cls.calltouch = CalltouchServer(site_id="67120", token="ct-prod").start()
        cls.addClassCleanup(cls.calltouch.stop)
        cls.callmarker = CallmarkerServer(token="cm-prod").start()
        cls.addClassCleanup(cls.callmarker.stop)
        cls.company.write(
            {
                "calltouch_enabled": True,
                "calltouch_call_url": cls.calltouch.call_url,
                "calltouch_request_url": cls.calltouch.request_url,
                "calltouch_site_id": "67120",
                "calltouch_token": "ct-prod",
                "callmarker_enabled": True,
                "callmarker_call_data_url": cls.callmarker.results_url,
                "callmarker_request_data_url": cls.callmarker.push_url,
                "callmarker_integration_id": cls.callmarker.integration_id,
                "callmarker_token": "cm-prod",
            }
        )
        # The production PBX: its Event API token and its CDR database.
        cls.api, cls.token = make_connection(
            cls.env,
            name="Production PBX",
            recordings_base_url="https://pbx.clinic.example/monitor/",
            recordings_username="monitor",
            recordings_password="rec-prod",
        )
        cls.api.token_hint = "…" + cls.token[-4:]
        suffix = secrets.token_hex(4)
        cls.mariadb = MariaDb("clinic_pbx_neutralize_%s" % suffix).build()
        cls.addClassCleanup(cls.mariadb.drop)
        reader = "clinic_pbx_neu_%s" % suffix
        cls.mariadb.add_reader(reader, "pw-" + suffix)
        cls.mariadb.insert(CdrWriter("Europe/Moscow").internal(T0))
        cls.cdr = cls.env["pbx.connection"].create(
            {
                "name": "Production FreePBX",
                "kind": "freepbx_cdr",
                "timezone": "Europe/Moscow",
                "cdr_host": "127.0.0.1",
                "cdr_port": 3306,
                "cdr_database": cls.mariadb.name,
                "cdr_user": reader,
                "cdr_password": "pw-" + suffix,
                "recordings_base_url": "http://127.0.0.1:9/monitor/",
                "recordings_username": "monitor",
                "recordings_password": "rec-prod",
            }
        )
        # A finished call waiting to be sent to Callmarker.
        cls.call = cls.env["pbx.call"]._ingest_events(
            cls.api,
            [validate_event(0, cdr_event("neu-1", "2026-11-05T09:00:00+03:00"))],
        )[2]

    def neutralize(self):
        """What `odoo-bin neutralize` runs for this module."""
        self.env.flush_all()
        for query in get_neutralization_queries(["clinic_pbx"]):
            self.env.cr.execute(query)
        self.env.invalidate_all()

    def run_cron(self, xmlid):
        self.env.ref(xmlid).method_direct_trigger()
        self.env.invalidate_all()

    def test_production_works_before(self):
        # What the test below takes away is really there before.
        self.assertEqual(
            self.cdr.action_test_cdr_connection()["params"]["type"], "success"
        )
        response = self.post_events(
            [cdr_event("neu-2", "2026-11-05T09:05:00+03:00")], self.token
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(
            self.env["pbx.callmarker.push"].search([("call_id", "=", self.call.id)])
        )

    @mute_logger("odoo.addons.clinic_pbx.models.freepbx.pbx_connection")
    def test_a_neutralized_copy_leaves_the_pbx_and_the_services_alone(self):
        self.neutralize()
        # The production PBX's token no longer opens the Event API.
        response = self.post_events(
            [cdr_event("neu-3", "2026-11-05T09:10:00+03:00")], self.token
        )
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self.api.sudo().token_hash)
        self.assertFalse(self.api.token_hint)
        self.assertFalse(self.api.sudo().recordings_password)
        self.assertFalse(
            self.env["pbx.call"].search([("external_id", "=", "neu-3")]),
            "nothing was written",
        )
        # Calltouch is neither synced by the scheduled action nor by hand.
        self.assertFalse(self.company.calltouch_enabled)
        self.assertFalse(self.company.calltouch_token)
        self.run_cron("clinic_pbx.ir_cron_calltouch_sync")
        with self.assertRaises(UserError):
            self.env["res.config.settings"].create({}).action_calltouch_sync()
        self.assertEqual(self.calltouch.log, [])
        # Nothing is sent to Callmarker, nothing fetched.
        self.assertFalse(self.company.callmarker_enabled)
        self.assertFalse(self.company.callmarker_token)
        self.run_cron("clinic_pbx.ir_cron_callmarker_sync")
        with self.assertRaises(UserError):
            self.env["res.config.settings"].create({}).action_callmarker_sync_now()
        self.assertEqual(self.callmarker.hits, {"push": 0, "results": 0})
        push = self.env["pbx.callmarker.push"].search([("call_id", "=", self.call.id)])
        self.assertEqual(push.state, "pending")
        # The production CDR database is not read, by the scheduled action
        # or by a button, and no stored password is left.
        cdr = self.cdr.sudo()
        self.assertFalse(cdr.cdr_password or cdr.cdr_user)
        self.assertFalse(cdr.recordings_password or cdr.recordings_username)
        self.run_cron("clinic_pbx.pbx_connection_cdr_cron")
        action = self.cdr.action_test_cdr_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("Cannot connect", action["params"]["message"])
        self.assertFalse(
            self.env["pbx.call"].search([("connection_id", "=", self.cdr.id)])
        )
        self.assertFalse(cdr.cdr_cursor)
