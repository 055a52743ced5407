import ast

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, TransactionCase, new_test_user, tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import make_connection

PBX_USER = "base.group_user,clinic_pbx.clinic_pbx_group_user"


@tagged("post_install", "-at_install")
class TestExtensions(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.anna = new_test_user(
            cls.env, login="ext_anna", groups=PBX_USER, pbx_extension="101"
        )
        cls.maria = new_test_user(
            cls.env, login="ext_maria", groups=PBX_USER, pbx_extension="101"
        )
        cls.olga = new_test_user(
            cls.env, login="ext_olga", groups=PBX_USER, pbx_extension="102"
        )
        cls.manager = new_test_user(
            cls.env,
            login="ext_manager",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_manager",
        )
        cls.Users = cls.env["res.users"]

    def test_extension_must_be_2_to_8_digits_with_a_clear_message(self):
        for bad in ("1", "123456789", "10a", "+101", "10 1", "１０１"):
            with self.subTest(bad=bad), self.assertRaises(ValidationError) as caught:
                self.olga.pbx_extension = bad
            self.assertIn("must be 2 to 8 digits", str(caught.exception))
            self.assertIn(self.olga.name, str(caught.exception))
        for good in ("10", "101", "12345678"):
            self.olga.pbx_extension = good
            self.assertEqual(self.olga.pbx_extension, good)

    def test_spaces_around_an_extension_are_dropped(self):
        self.olga.pbx_extension = " 103 "
        self.assertEqual(self.olga.pbx_extension, "103")

    def test_users_set_their_own_extension_in_their_preferences(self):
        olga = self.olga.with_user(self.olga)
        with Form(olga, view="base.view_users_form_simple_modif") as prefs:
            prefs.pbx_extension = "105"
        self.assertEqual(self.olga.pbx_extension, "105")
        with self.assertRaises(ValidationError):
            olga.write({"pbx_extension": "x"})

    def test_users_cannot_change_a_colleague_s_extension(self):
        with self.assertRaises(AccessError):
            self.anna.with_user(self.olga).write({"pbx_extension": "102"})
        self.assertEqual(self.anna.pbx_extension, "101")

    def test_administrators_set_it_on_the_user_form(self):
        with Form(self.olga, view="base.view_users_form") as form:
            form.pbx_extension = "110"
        self.assertEqual(self.olga.pbx_extension, "110")

    def test_several_users_share_an_extension(self):
        by_ext = self.Users._pbx_users_by_extension(["101", "102"], self.env.company)
        self.assertEqual(by_ext["101"], (self.anna | self.maria).ids)
        self.assertEqual(by_ext["102"], self.olga.ids)

    def test_archived_portal_and_other_company_users_do_not_share(self):
        other = self.env["res.company"].create({"name": "Other Clinic"})
        new_test_user(
            self.env,
            login="ext_elsewhere",
            groups=PBX_USER,
            pbx_extension="101",
            company_id=other.id,
            company_ids=[(6, 0, other.ids)],
        )
        new_test_user(
            self.env,
            login="ext_portal",
            groups="base.group_portal",
            pbx_extension="101",
        )
        self.maria.active = False
        by_ext = self.Users._pbx_users_by_extension(["101"], self.env.company)
        self.assertEqual(by_ext["101"], self.anna.ids)

    def test_a_call_on_a_shared_extension_rings_all_its_users(self):
        connection, _token = make_connection(self.env)
        event = validate_event(
            0,
            {
                "type": "ringing",
                "call_id": "shared",
                "time": "2026-11-05T09:00:00+03:00",
                "direction": "incoming",
                "from": "+7 916 000-11-22",
                "to": "+7 495 123-45-00",
                "extension": "101",
            },
        )
        call = self.env["pbx.call"]._ingest_events(connection, [event])[2]
        self.assertEqual(call.rang_user_ids, self.anna | self.maria)
        # Nobody is the Admin until one of them takes it.
        self.assertFalse(call.user_id)
        # Both see the call in their Call Log; Olga (102) does not.
        for user in (self.anna, self.maria):
            self.assertEqual(self.env["pbx.call"].with_user(user).search([]), call)
        self.assertFalse(self.env["pbx.call"].with_user(self.olga).search([]))

    def test_managers_list_extensions_and_who_shares_them(self):
        action = self.env.ref("clinic_pbx.res_users_action_pbx_extensions")
        groups = self.Users.with_user(self.manager)._read_group(
            ast.literal_eval(action.domain), ["pbx_extension"], ["id:recordset"]
        )
        shared = {ext: users for ext, users in groups}
        self.assertEqual(shared["101"], self.anna | self.maria)
        self.assertEqual(shared["102"], self.olga)
        self.assertIn("pbx_extension", action.context)
        menu = self.env.ref("clinic_pbx.res_users_menu_pbx_extensions")
        self.assertIn(
            self.env.ref("clinic_pbx.clinic_pbx_group_manager"),
            menu.parent_id.groups_id,
        )
