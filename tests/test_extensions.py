import ast
import json

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import EventApiMixin, cdr_event, make_connection

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

    def test_users_cannot_give_themselves_an_extension(self):
        # An extension is access to the calls that ring it: Olga asking for
        # the reception's 101 would read its calls and get its pop-ups.
        olga = self.olga.with_user(self.olga)
        for vals in ({"pbx_extension": "101"}, {"pbx_extension": False}):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                olga.write(vals)
        self.assertEqual(self.olga.pbx_extension, "102")
        self.assertNotIn("pbx_extension", self.Users.SELF_WRITEABLE_FIELDS)
        self.assertIn("pbx_extension", self.Users.SELF_READABLE_FIELDS)
        # My Preferences shows it, read-only.
        with Form(olga, view="base.view_users_form_simple_modif") as prefs:
            self.assertEqual(prefs.pbx_extension, "102")
            with self.assertRaises(AssertionError):
                prefs.pbx_extension = "101"

    def test_pbx_managers_and_user_administrators_set_extensions(self):
        self.olga.with_user(self.manager).write({"pbx_extension": "105"})
        self.assertEqual(self.olga.pbx_extension, "105")
        user_admin = new_test_user(
            self.env,
            login="ext_user_admin",
            groups="base.group_user,base.group_erp_manager",
        )
        self.olga.with_user(user_admin).write({"pbx_extension": "106"})
        self.assertEqual(self.olga.pbx_extension, "106")
        with self.assertRaises(ValidationError):
            self.olga.with_user(self.manager).write({"pbx_extension": "x"})
        # The Extensions list is where a manager gives one.
        arch = self.Users.with_user(self.manager).get_view(
            self.env.ref("clinic_pbx.res_users_view_list_pbx_extensions").id, "list"
        )["arch"]
        self.assertIn('editable="bottom"', arch)

    def test_a_manager_sets_extensions_only_in_their_companies(self):
        other = self.env["res.company"].create({"name": "Other Clinic (ext)"})
        theirs = new_test_user(
            self.env,
            login="ext_theirs",
            groups=PBX_USER,
            company_id=other.id,
            company_ids=[Command.set(other.ids)],
        )
        with self.assertRaises(AccessError):
            theirs.with_user(self.manager).write({"pbx_extension": "101"})
        self.assertFalse(theirs.pbx_extension)
        # Nor anything else of a user: that stays with user administrators.
        with self.assertRaises(AccessError):
            self.olga.with_user(self.manager).write(
                {"pbx_extension": "107", "name": "Renamed"}
            )

    def test_a_change_of_extension_is_logged_on_the_user_s_contact(self):
        self.olga.with_user(self.manager).write({"pbx_extension": "105"})
        message = self.olga.partner_id.message_ids[:1]
        self.assertIn("102", message.body)
        self.assertIn("105", message.body)
        self.assertEqual(message.author_id, self.manager.partner_id)
        count = len(self.olga.partner_id.message_ids)
        self.olga.with_user(self.manager).write({"pbx_extension": "105"})
        self.assertEqual(len(self.olga.partner_id.message_ids), count)

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
            company_ids=[Command.set(other.ids)],
        )
        new_test_user(
            self.env,
            login="ext_portal",
            groups="base.group_portal",
            pbx_extension="101",
        )
        # An internal user without PBX: User does not count either.
        new_test_user(
            self.env, login="ext_no_pbx", groups="base.group_user", pbx_extension="101"
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


@tagged("post_install", "-at_install")
class TestExtensionOverHttp(EventApiMixin, HttpCase):
    """Olga tries to take the reception's extension from My Preferences."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.anna = new_test_user(
            cls.env, login="exth_anna", groups=PBX_USER, pbx_extension="101"
        )
        cls.olga = new_test_user(
            cls.env, login="exth_olga", groups=PBX_USER, pbx_extension="102"
        )
        cls.connection, cls.token = make_connection(cls.env, name="PBX (exth)")

    def call_kw(self, model, method, args, kwargs=None):
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
                        "kwargs": kwargs or {},
                    },
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        return response.json()

    @mute_logger("odoo.http")
    def test_a_refused_extension_reads_none_of_the_colleague_s_calls(self):
        self.authenticate(self.olga.login, self.olga.login)
        body = self.call_kw(
            "res.users",
            "web_save",
            [[self.olga.id], {"pbx_extension": "101"}],
            {"specification": {"pbx_extension": {}}},
        )
        self.assertEqual(body["error"]["data"]["name"], "odoo.exceptions.AccessError")
        self.assertEqual(self.olga.pbx_extension, "102")
        # The PBX then reports a call that rang the reception's 101.
        response = self.post_events(
            [cdr_event("exth-1", "2026-11-05T09:00:00+03:00", extension="101")],
            self.token,
        )
        self.assertEqual(response.status_code, 200, response.text)
        call = self.env["pbx.call"].search([("external_id", "=", "exth-1")])
        self.assertEqual(call.rang_user_ids, self.anna)
        with self.assertRaises(AccessError):
            call.with_user(self.olga).check_access("read")
        body = self.call_kw("pbx.call", "search_read", [[]], {"fields": ["src"]})
        self.assertEqual(body["result"], [])
