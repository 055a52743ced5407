from odoo.tests import HttpCase, tagged

from .common import make_pbx_users


@tagged("post_install", "-at_install")
class TestMenuTour(HttpCase):
    def test_pbx_user_opens_the_pbx_app(self):
        users = make_pbx_users(self.env, prefix="tour")
        self.start_tour("/odoo", "clinic_pbx_menu_tour", login=users["user"].login)
