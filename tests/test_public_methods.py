"""Every public method that reads or writes with sudo() checks first.

Public methods (no leading underscore) can be called by any logged-in user
over /web/dataset/call_kw, which checks neither access rights nor record
rules: each method must do that itself before it uses sudo(). A portal user
(a patient with a portal account), an internal user without PBX groups, a
PBX User the call did not ring and a PBX Manager of another company are all
refused on a call, a connection or a queued push of company A.
"""

import json

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection

PBX_USER = "base.group_user,clinic_pbx.clinic_pbx_group_user"
PBX_MANAGER = "base.group_user,clinic_pbx.clinic_pbx_group_manager"
CALLER = "+7 916 555-12-34"
CALLER_KEY = "+79165551234"


class PublicMethodsCase:
    """Company A's ringing call, connections and queued push, and who may
    not touch them."""

    @classmethod
    def setup_company_a(cls):
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Clinic B (pm)"})

        def user(login, groups, company=None, **values):
            company = company or cls.company_a
            return new_test_user(
                cls.env,
                login=login,
                groups=groups,
                company_id=company.id,
                company_ids=[company.id],
                **values,
            )

        cls.anna = user("pm_anna", PBX_USER, pbx_extension="101")
        cls.olga = user("pm_olga", PBX_USER, pbx_extension="102")
        cls.manager_a = user("pm_manager_a", PBX_MANAGER)
        cls.portal = user("pm_portal", "base.group_portal")
        cls.outsider = user("pm_outsider", "base.group_user")
        cls.manager_b = user("pm_manager_b", PBX_MANAGER, company=cls.company_b)
        cls.user_b = user(
            "pm_user_b", PBX_USER, company=cls.company_b, pbx_extension="101"
        )
        cls.patient = cls.env["res.partner"].create(
            {
                "name": "Pm Patient",
                "mobile": CALLER,
                "company_id": cls.company_a.id,
                "country_id": cls.env.ref("base.ru").id,
            }
        )
        cls.connection, _token = make_connection(cls.env, name="PBX A (pm)")
        ringing = {
            "type": "ringing",
            "call_id": "pm-ring",
            "time": "2026-11-05T09:00:00+03:00",
            "direction": "incoming",
            "from": CALLER,
            "to": "+7 495 123-45-00",
            "extension": "101",
        }
        cls.call = cls.env["pbx.call"]._ingest_events(
            cls.connection, [validate_event(0, ringing)]
        )[2]
        cls.finished = cls.env["pbx.call"]._ingest_events(
            cls.connection,
            [validate_event(0, cdr_event("pm-done", "2026-11-05T08:00:00+03:00"))],
        )[2]
        cls.cdr_connection = cls.env["pbx.connection"].create(
            {"name": "CDR A (pm)", "kind": "freepbx_cdr", "cdr_database": "nowhere"}
        )
        cls.push = cls.env["pbx.callmarker.push"].create(
            {
                "call_id": cls.finished.id,
                "company_id": cls.company_a.id,
                "idempotency_key": "pm-key",
                "state": "failed",
                "attempts": 10,
            }
        )
        # Refused: no PBX access, or no access to company A's call.
        cls.strangers = {
            "portal user": cls.portal,
            "user without PBX groups": cls.outsider,
            "PBX Manager of another company": cls.manager_b,
        }


@tagged("post_install", "-at_install")
class TestPublicMethods(PublicMethodsCase, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_company_a()

    def assert_refused(self, users, method, *args, records=None):
        records = records if records is not None else self.call
        for label, user in users.items():
            with self.subTest(user=label, method=method):
                with self.assertRaises(AccessError):
                    getattr(records.with_user(user), method)(*args)

    def test_log_a_touch_checks_that_the_user_may_read_the_call(self):
        refused = dict(self.strangers, **{"PBX User the call did not ring": self.olga})
        self.assert_refused(refused, "action_log_touch")
        self.assert_refused(refused, "action_pbx_log_touch", self.patient.id)
        action = self.call.with_user(self.anna).action_log_touch()
        self.assertEqual(action["context"]["default_phone"], CALLER_KEY)
        self.assertEqual(action["context"]["default_partner_id"], self.patient.id)

    def test_take_checks_the_call_first(self):
        refused = dict(self.strangers, **{"PBX User the call did not ring": self.olga})
        refused["PBX User of another company"] = self.user_b
        self.assert_refused(refused, "action_pbx_take")
        self.assertFalse(self.call.user_id)

    def test_ringing_calls_are_only_the_user_s_own(self):
        Call = self.env["pbx.call"]
        for user in (self.portal, self.outsider, self.olga, self.manager_b):
            with self.subTest(user=user.login):
                self.assertEqual(Call.with_user(user).pbx_popup_ringing(), [])
        self.assertEqual(
            [p["call_id"] for p in Call.with_user(self.anna).pbx_popup_ringing()],
            self.call.ids,
        )

    def test_the_report_reads_through_the_record_rules(self):
        for user in (self.portal, self.outsider):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["pbx.call"].with_user(user).read_group_batch(
                    [], ["__count"], [[]]
                )
        groups = (
            self.env["pbx.call"]
            .with_user(self.manager_b)
            .read_group_batch([], ["__count"], [[], ["direction"]])
        )
        self.assertEqual(groups[0][0]["__count"], 0, "no call of company A counted")

    def test_connection_buttons_check_write_access_first(self):
        refused = dict(self.strangers, **{"PBX User": self.anna})
        self.assert_refused(refused, "action_generate_token", records=self.connection)
        self.assertFalse(self.connection.token_hint)
        for method in ("action_sync_cdr", "action_test_cdr_connection"):
            self.assert_refused(refused, method, records=self.cdr_connection)
        self.assertFalse(self.cdr_connection.last_error)
        self.assert_refused(
            refused, "write", {"cdr_database": "x"}, records=self.cdr_connection
        )
        # The guard on where a connection points reads it as superuser: it
        # checks write access first, so the refusal tells nothing about it.
        self.cdr_connection.cdr_password = "s3cret"
        for label, user in refused.items():
            for vals in (
                {"cdr_host": "10.0.0.1"},
                {"recordings_base_url": "http://x/"},
            ):
                with self.subTest(user=label, vals=vals):
                    with self.assertRaises(AccessError) as caught:
                        self.cdr_connection.with_user(user).write(vals)
                    self.assertNotIn(self.cdr_connection.name, str(caught.exception))

    def test_retrying_a_push_checks_write_access_first(self):
        refused = dict(self.strangers, **{"PBX User": self.anna})
        self.assert_refused(refused, "action_retry", records=self.push)
        self.assertEqual((self.push.state, self.push.attempts), ("failed", 10))

    def test_settings_buttons_are_for_administrators(self):
        settings = self.env["res.config.settings"].create({})
        refused = dict(self.strangers, **{"PBX Manager": self.manager_a})
        for method in (
            "action_calltouch_test_connection",
            "action_calltouch_sync",
            "action_callmarker_test_connection",
            "action_callmarker_sync_now",
        ):
            self.assert_refused(refused, method, records=settings)

    def test_contact_writes_check_before_relinking_calls(self):
        refused = {
            "portal user": self.portal,
            "PBX Manager of another company": self.manager_b,
        }
        self.assert_refused(
            refused, "write", {"mobile": "+7 916 000-00-00"}, records=self.patient
        )
        self.assertEqual(self.call.partner_id, self.patient)

    def test_tag_categories_are_created_by_managers_only(self):
        Category = self.env["pbx.call.tag.category"]
        for user in (self.portal, self.anna):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                Category.with_user(user).create({"name": "Forged"})


@tagged("post_install", "-at_install")
class TestLogTouchOverHttp(PublicMethodsCase, HttpCase):
    """The attack as it was confirmed: call_kw on any call id."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_company_a()

    def call_kw(self, model, method, args):
        response = self.url_open(
            "/web/dataset/call_kw/%s/%s" % (model, method),
            data=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "id": 1,
                    "params": {
                        "model": model,
                        "method": method,
                        "args": args,
                        "kwargs": {},
                    },
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        return response

    @mute_logger("odoo.http")
    def test_a_portal_user_gets_an_error_not_the_caller_number(self):
        self.authenticate(self.portal.login, self.portal.login)
        for method in ("action_log_touch", "action_pbx_log_touch"):
            with self.subTest(method=method):
                response = self.call_kw("pbx.call", method, [[self.call.id]])
                body = response.json()
                self.assertNotIn("result", body)
                self.assertEqual(
                    body["error"]["data"]["name"], "odoo.exceptions.AccessError"
                )
                self.assertNotIn(CALLER_KEY, response.text)
                self.assertNotIn('"default_partner_id"', response.text)

    def test_the_receptionist_it_rang_still_logs_a_touch(self):
        self.authenticate(self.anna.login, self.anna.login)
        body = self.call_kw("pbx.call", "action_log_touch", [[self.call.id]]).json()
        self.assertEqual(body["result"]["context"]["default_phone"], CALLER_KEY)
