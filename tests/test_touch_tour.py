from odoo.tests import HttpCase, tagged

from .common import make_pbx_users


@tagged("post_install", "-at_install")
class TestTouchTour(HttpCase):
    def test_reception_logs_a_visit_in_the_browser(self):
        self.env.company.country_id = self.env.ref("base.ru")
        users = make_pbx_users(self.env, prefix="touchtour")
        patient = self.env["res.partner"].create(
            {"name": "Tour Patient", "mobile": "+7 916 555-00-11"}
        )
        self.start_tour("/odoo", "clinic_pbx_touch_tour", login=users["user"].login)
        touch = self.env["pbx.touch"].search([("partner_id", "=", patient.id)])
        self.assertEqual(touch.channel, "visit")
        self.assertEqual(touch.comment, "Asked about implant prices")
        self.assertEqual(touch.phone_key, "+79165550011")
        self.assertEqual(touch.user_id, users["user"])

    def test_the_calltouch_block_in_the_settings(self):
        self.start_tour("/odoo", "clinic_pbx_calltouch_settings_tour", login="admin")
