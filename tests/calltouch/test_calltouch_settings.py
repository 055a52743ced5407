from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.modules.migration import load_script
from odoo.tests import Form, TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger
from odoo.tools.sql import column_exists

from ..common import make_pbx_users
from ..fakes.calltouch_server import CalltouchServer, make_call
from .common import SITE_ID, TOKEN, T

FIELD_XMLIDS = (
    "field_res_company__calltouch_paused",
    "field_res_config_settings__calltouch_paused",
)


@tagged("post_install", "-at_install")
class TestCalltouchSettings(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = CalltouchServer(site_id=SITE_ID, token=TOKEN).start()
        cls.addClassCleanup(cls.server.stop)
        cls.users = make_pbx_users(cls.env, prefix="cts")
        cls.company = cls.env.company
        cls.good = {
            "calltouch_enabled": True,
            "calltouch_call_url": cls.server.call_url,
            "calltouch_request_url": cls.server.request_url,
            "calltouch_site_id": SITE_ID,
            "calltouch_token": TOKEN,
            "calltouch_time_lag": 5,
        }

    def settings(self, **values):
        return self.env["res.config.settings"].create(values)

    def test_defaults_point_at_calltouch(self):
        company = self.env["res.company"].create({"name": "New Clinic"})
        self.assertFalse(company.calltouch_enabled)
        self.assertEqual(
            company.calltouch_call_url,
            "https://api.calltouch.ru/calls-service/RestAPI/{siteId}/calls-diary/calls",
        )
        self.assertEqual(
            company.calltouch_request_url,
            "https://api.calltouch.ru/calls-service/RestAPI/requests",
        )
        self.assertEqual(company.calltouch_time_lag, 5)
        self.assertEqual(company.calltouch_timezone, "Europe/Moscow")

    def test_turning_it_on_requires_every_field(self):
        with self.assertRaises(ValidationError) as caught:
            self.settings(calltouch_enabled=True, calltouch_site_id=False)
        message = str(caught.exception)
        self.assertIn("ID (the Calltouch site id) is required.", message)
        self.assertIn("Token is required.", message)
        self.assertFalse(self.company.calltouch_enabled)
        with self.assertRaises(ValidationError) as caught:
            self.settings(
                **dict(
                    self.good,
                    calltouch_call_url="ftp://calltouch",
                    calltouch_site_id="my site",
                    calltouch_time_lag=-1,
                )
            )
        message = str(caught.exception)
        self.assertIn("Call Data URL must start with http:// or https://.", message)
        self.assertIn("ID must be the numeric site id", message)
        self.assertIn("Time Lag must be between 0 and 1440 minutes.", message)
        self.settings(**self.good).execute()
        self.assertTrue(self.company.calltouch_enabled)
        self.assertEqual(self.company.calltouch_site_id, SITE_ID)
        # Turned off, nothing is required any more.
        self.settings(calltouch_enabled=False, calltouch_token=False).execute()
        self.assertFalse(self.company.calltouch_enabled)

    def test_the_token_is_for_system_administrators_only(self):
        self.company.write(self.good)
        manager = self.users["manager"]
        company = self.company.with_user(manager)
        with self.assertRaises(AccessError):
            company.read(["calltouch_token"])
        self.assertNotIn("calltouch_token", company.fields_get())
        self.assertIn("calltouch_token", self.company.fields_get())
        arch = self.env["res.config.settings"].get_views([(False, "form")])["views"][
            "form"
        ]["arch"]
        self.assertIn('name="calltouch_token"', arch)
        self.assertIn('password="True"', arch)

    def test_test_connection_says_what_worked_and_what_failed(self):
        self.company.write(self.good)
        action = self.settings().action_calltouch_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("Calls diary: OK", action["params"]["message"])
        self.assertIn("Requests journal: OK", action["params"]["message"])
        self.company.calltouch_request_url = self.server.url + "/nowhere"
        action = self.settings().action_calltouch_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("Calls diary: OK", action["params"]["message"])
        self.assertIn("Requests journal: failed", action["params"]["message"])
        self.assertIn("HTTP 404", action["params"]["message"])
        self.company.write({"calltouch_token": "bad", "calltouch_request_url": False})
        action = self.settings().action_calltouch_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("Request Data URL is required.", action["params"]["message"])
        self.company.calltouch_request_url = self.server.request_url
        action = self.settings().action_calltouch_test_connection()
        self.assertIn("refused the ID or the Token", action["params"]["message"])

    def test_sync_now_imports_and_shows_the_result(self):
        self.company.write(dict(self.good, calltouch_synced_until=T))
        self.server.add_call(make_call(4001, T, "79161112233"))
        action = self.settings().action_calltouch_sync()
        self.assertEqual(action["params"]["type"], "success", action["params"])
        self.assertIn("1 calls (1 new", action["params"]["message"])
        settings = self.settings()
        self.assertTrue(settings.calltouch_last_success_at)
        self.assertEqual(settings.calltouch_last_result, action["params"]["message"])
        self.assertTrue(
            self.env["pbx.touch"].search([("calltouch_call_id", "=", "4001")])
        )

    @mute_logger("odoo.addons.clinic_pbx.models.calltouch.res_company")
    def test_sync_now_shows_the_error(self):
        self.company.write(
            dict(self.good, calltouch_token="nope", calltouch_synced_until=T)
        )
        action = self.settings().action_calltouch_sync()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("HTTP 401", action["params"]["message"])
        self.assertTrue(self.settings().calltouch_paused)
        self.company.calltouch_enabled = False
        with self.assertRaises(UserError):
            self.settings().action_calltouch_sync()

    def test_the_settings_and_their_health_are_for_administrators(self):
        # Portal users read their company: they must not learn the account,
        # its endpoints or Calltouch's error texts.
        self.company.write(
            dict(
                self.good,
                calltouch_last_result="3 calls (3 new, 1 newly linked)",
                calltouch_last_error="HTTP 500 from api-node3.calltouch.ru",
            )
        )
        portal = new_test_user(self.env, login="cts_portal", groups="base.group_portal")
        hidden = (
            "calltouch_enabled",
            "calltouch_call_url",
            "calltouch_request_url",
            "calltouch_site_id",
            "calltouch_time_lag",
            "calltouch_timezone",
            "calltouch_synced_until",
            "calltouch_last_success_at",
            "calltouch_last_result",
            "calltouch_last_error",
            "calltouch_last_error_at",
            "calltouch_paused",
            "calltouch_retry_at",
        )
        for user in (portal, self.users["outsider"], self.users["manager"]):
            company = self.company.with_user(user)
            self.assertEqual(company.read(["name"])[0]["name"], self.company.name)
            for name in hidden:
                with self.subTest(user=user.login, field=name):
                    with self.assertRaises(AccessError):
                        company.read([name])
        # An administrator still sees and changes them in Settings.
        admin = self.env.ref("base.user_admin")
        with Form(self.env["res.config.settings"].with_user(admin)) as form:
            self.assertEqual(form.calltouch_site_id, SITE_ID)
            self.assertIn("HTTP 500", form.calltouch_last_error)
            form.calltouch_time_lag = 7
        form.record.execute()
        self.assertEqual(self.company.calltouch_time_lag, 7)
        # Staff still open their touches.
        for user in (self.users["user"], self.users["manager"]):
            Touch = self.env["pbx.touch"].with_user(user)
            views = Touch.get_views([(False, "list"), (False, "form")])
            fields = views["models"]["pbx.touch"]["fields"]
            Touch.web_search_read([], {name: {} for name in fields})

    def test_an_update_from_18_0_1_1_keeps_a_paused_sync_paused(self):
        migration = load_script(
            "clinic_pbx/migrations/18.0.1.2.0/pre-migration.py",
            "clinic_pbx_paused_migration",
        )
        cr = self.env.cr
        self.company.write(dict(self.good, calltouch_paused=True))
        self.env.flush_all()
        # The database as 18.0.1.1.0 left it: the state was "stopped".
        cr.execute(
            "ALTER TABLE res_company "
            "RENAME COLUMN calltouch_paused TO calltouch_stopped"
        )
        cr.execute(
            "UPDATE ir_model_fields SET name = 'calltouch_stopped' "
            "WHERE name = 'calltouch_paused'"
        )
        cr.execute(
            "UPDATE ir_model_data SET name = replace(name, '_paused', '_stopped') "
            "WHERE module = 'clinic_pbx' AND name IN %s",
            [FIELD_XMLIDS],
        )
        self.assertEqual(cr.rowcount, 2)
        view = self.env.ref("clinic_pbx.res_config_settings_view_form_calltouch")
        cr.execute(
            "UPDATE ir_ui_view SET arch_db = "
            "replace(arch_db::text, 'calltouch_paused', 'calltouch_stopped')::jsonb "
            "WHERE id = %s",
            [view.id],
        )
        migration.migrate(cr, "18.0.1.1.0")
        self.assertFalse(column_exists(cr, "res_company", "calltouch_stopped"))
        cr.execute(
            "SELECT calltouch_paused FROM res_company WHERE id = %s", [self.company.id]
        )
        self.assertIs(cr.fetchone()[0], True)
        cr.execute(
            "SELECT d.name, f.name FROM ir_model_data d "
            "JOIN ir_model_fields f ON f.id = d.res_id "
            "WHERE d.module = 'clinic_pbx' AND d.model = 'ir.model.fields' "
            "AND f.name IN ('calltouch_paused', 'calltouch_stopped') ORDER BY d.name"
        )
        self.assertEqual(
            cr.fetchall(), [(xmlid, "calltouch_paused") for xmlid in FIELD_XMLIDS]
        )
        cr.execute("SELECT arch_db::text FROM ir_ui_view WHERE id = %s", [view.id])
        arch = cr.fetchone()[0]
        self.assertIn("calltouch_paused", arch)
        self.assertNotIn("calltouch_stopped", arch)
        # Run again (or on a database that never had the old column): no change.
        migration.migrate(cr, "18.0.1.2.0")
        self.assertTrue(column_exists(cr, "res_company", "calltouch_paused"))
