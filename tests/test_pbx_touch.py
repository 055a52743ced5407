from odoo.exceptions import AccessError
from odoo.tests import Form, TransactionCase, tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection, make_pbx_users

T0 = "2026-01-25T12:00:00+03:00"


@tagged("post_install", "-at_install")
class TestPbxTouch(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.ru")
        cls.users = make_pbx_users(cls.env, prefix="touch")
        cls.users["user"].pbx_extension = "101"
        cls.connection, _token = make_connection(cls.env)
        cls.patient = cls.env["res.partner"].create(
            {"name": "Мария Орлова", "mobile": "+7 916 123-45-67"}
        )
        _accepted, _dups, cls.call = cls.env["pbx.call"]._ingest_events(
            cls.connection, [validate_event(0, cdr_event("call-1", T0))]
        )
        cls.source = cls.env["utm.source"].create({"name": "Сарафанное радио"})

    def test_staff_log_a_touch_from_a_call_with_the_pop_up_defaults(self):
        user = self.users["user"]
        Touch = self.env["pbx.touch"].with_user(user)
        context = {
            "default_call_id": self.call.id,
            "default_partner_id": self.patient.id,
            "default_phone": "+7 916 123-45-67",
        }
        with Form(Touch.with_context(**context)) as form:
            self.assertEqual(form.call_id, self.call)
            self.assertEqual(form.partner_id, self.patient)
            self.assertEqual(form.phone, "+7 916 123-45-67")
            self.assertEqual(form.channel, "call")
            self.assertEqual(form.user_id, user)
            form.source_id = self.source
            form.comment = "Спросила про цены на имплантацию"
        touch = form.record
        self.assertEqual(touch.date, self.call.start)
        self.assertEqual(touch.phone_key, "+79161234567")
        self.assertEqual(touch.origin, "manual")
        self.assertEqual(self.call.touch_count, 1)
        self.assertEqual(self.patient.with_user(user).pbx_touch_count, 1)

    def test_the_call_alone_fills_in_the_form(self):
        action = self.call.with_user(self.users["user"]).action_log_touch()
        self.assertEqual(action["res_model"], "pbx.touch")
        Touch = self.env["pbx.touch"].with_user(self.users["user"])
        with Form(Touch.with_context(default_call_id=self.call.id)) as form:
            self.assertEqual(form.partner_id, self.patient)
            self.assertEqual(form.phone, "+79161234567")
        self.assertEqual(form.record.call_id, self.call)
        self.assertEqual(action["context"]["default_partner_id"], self.patient.id)

    def test_a_touch_cannot_point_at_a_call_the_user_may_not_read(self):
        # A touch shows its call's name (direction and numbers): linking any
        # call id would read calls past the record rules.
        outsider_call = self.env["pbx.call"]._ingest_events(
            self.connection,
            [validate_event(0, cdr_event("call-2", T0, extension="109"))],
        )[2]
        user = self.users["user"]
        self.assertFalse(outsider_call.with_user(user).has_access("read"))
        Touch = self.env["pbx.touch"].with_user(user)
        with self.assertRaises(AccessError):
            Touch.create({"call_id": outsider_call.id, "channel": "call"})
        with self.assertRaises(AccessError):
            Touch.with_context(default_call_id=outsider_call.id).create({})
        mine = Touch.create({"phone": "+79160000003", "channel": "visit"})
        with self.assertRaises(AccessError):
            mine.write({"call_id": outsider_call.id})
        self.assertFalse(mine.call_id)
        spec = {"call_id": {"fields": {"display_name": {}}}, "phone": {}}
        with self.assertRaises(AccessError):
            Touch.with_context(default_call_id=outsider_call.id).onchange({}, [], spec)
        with self.assertRaises(AccessError):
            Touch.onchange({"call_id": outsider_call.id}, ["call_id"], spec)
        # Their own call they link, and the form takes its number.
        result = Touch.onchange({"call_id": self.call.id}, ["call_id"], spec)
        self.assertEqual(result["value"]["phone"], "+79161234567")
        mine.write({"call_id": self.call.id})
        self.assertEqual(mine.call_id, self.call)

    def test_typing_a_known_number_finds_the_patient(self):
        Touch = self.env["pbx.touch"].with_user(self.users["user"])
        with Form(Touch) as form:
            form.channel = "visit"
            form.phone = "8 916 123 45 67"
            self.assertEqual(form.partner_id, self.patient)

    def test_touches_of_another_company_are_not_visible(self):
        other = self.env["res.company"].create({"name": "Other Clinic"})
        theirs = self.env["pbx.touch"].create(
            {"company_id": other.id, "phone": "+79160000000", "channel": "visit"}
        )
        mine = self.env["pbx.touch"].create({"phone": "+79160000001"})
        Touch = self.env["pbx.touch"].with_user(self.users["manager"])
        self.assertEqual(Touch.search([("id", "in", (theirs | mine).ids)]), mine)
        with self.assertRaises(AccessError):
            theirs.with_user(self.users["manager"]).read(["phone"])
        with self.assertRaises(AccessError):
            mine.with_user(self.users["outsider"]).read(["phone"])

    def test_pbx_users_create_and_managers_delete(self):
        touch = (
            self.env["pbx.touch"]
            .with_user(self.users["user"])
            .create({"phone": "+79160000002", "channel": "visit"})
        )
        self.assertEqual(touch.user_id, self.users["user"])
        with self.assertRaises(AccessError):
            touch.unlink()
        touch.with_user(self.users["manager"]).unlink()
        self.assertFalse(touch.exists())

    def test_the_patient_form_shows_the_touches(self):
        self.env["pbx.touch"].create(
            {"partner_id": self.patient.id, "channel": "visit", "phone": "+7916"}
        )
        action = self.patient.with_user(self.users["user"]).action_view_pbx_touches()
        self.assertEqual(action["domain"], [("partner_id", "=", self.patient.id)])
        self.assertEqual(action["context"]["default_partner_id"], self.patient.id)
        arch = (
            self.env["res.partner"]
            .with_user(self.users["user"])
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertIn("pbx_touch_ids", arch)
        self.assertIn("action_view_pbx_touches", arch)
        # Without the PBX groups neither the tab nor the button is there.
        arch = (
            self.env["res.partner"]
            .with_user(self.users["outsider"])
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertNotIn("pbx_touch_ids", arch)
