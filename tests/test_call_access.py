import json
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection


@tagged("post_install", "-at_install")
class TestCallAccess(TransactionCase):
    """Who sees which calls: own calls for users, all for managers, per company."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Clinic B"})
        both = [cls.company_a.id, cls.company_b.id]

        def user(login, groups, ext=None, companies=None):
            return new_test_user(
                cls.env,
                login=login,
                groups=groups,
                pbx_extension=ext,
                company_id=cls.company_a.id,
                company_ids=companies or [cls.company_a.id],
            )

        cls.anna = user("acc_anna", "clinic_pbx.clinic_pbx_group_user", "101")
        cls.maria = user("acc_maria", "clinic_pbx.clinic_pbx_group_user", "101")
        cls.olga = user("acc_olga", "clinic_pbx.clinic_pbx_group_user", "102")
        cls.manager = user("acc_manager", "clinic_pbx.clinic_pbx_group_manager")
        cls.boss = user(
            "acc_boss", "clinic_pbx.clinic_pbx_group_manager", companies=both
        )
        cls.outsider = user("acc_outsider", "base.group_user")
        cls.conn_a, _t = make_connection(cls.env, name="PBX A")
        cls.conn_b, _t = make_connection(cls.env, name="PBX B", company=cls.company_b)
        Call = cls.env["pbx.call"]

        def ingest(connection, call_id, **values):
            raw = cdr_event(call_id, "2026-11-05T09:00:00+03:00", **values)
            return Call._ingest_events(connection, [validate_event(0, raw)])[2]

        # reception: rang 101 (Anna and Maria share it) and 102, Olga answered
        cls.olga_took = ingest(
            cls.conn_a, "a1", extension="102", rang_extensions=["101", "102"]
        )
        # rang only 101 and nobody answered
        cls.missed_101 = ingest(
            cls.conn_a, "a2", extension="101", disposition="no_answer", talk_seconds=0
        )
        # Olga's own outgoing call
        cls.olga_out = ingest(
            cls.conn_a, "a3", direction="outgoing", extension="102", **{"from": "102"}
        )
        cls.other_company = ingest(cls.conn_b, "b1", extension="101")
        cls.calls_a = cls.olga_took | cls.missed_101 | cls.olga_out

    def visible(self, user, companies=None):
        Call = self.env["pbx.call"].with_user(user)
        if companies:
            Call = Call.with_context(allowed_company_ids=companies.ids)
        return Call.search([("id", "in", (self.calls_a | self.other_company).ids)])

    def test_users_see_calls_they_took_or_that_rang_them(self):
        self.assertEqual(self.visible(self.olga), self.olga_took | self.olga_out)
        self.assertEqual(self.visible(self.anna), self.olga_took | self.missed_101)
        # and read them: Olga took the call that rang Anna too
        self.assertEqual(
            [row["id"] for row in self.visible(self.anna).read(["src"])],
            self.visible(self.anna).ids,
        )
        with self.assertRaises(AccessError):
            self.olga_out.with_user(self.anna).read(["src"])
        self.assertEqual(self.visible(self.maria), self.visible(self.anna))

    def test_staff_who_only_place_calls_see_them_until_a_call_rings_them(self):
        # Ivan's extension never rang: his calls are found through the index
        # of the calls' Admin alone, and the first call that rings him is
        # visible at once, as is the Admin filter's answer.
        ivan = new_test_user(
            self.env,
            login="acc_ivan",
            groups="clinic_pbx.clinic_pbx_group_user",
            pbx_extension="103",
            company_id=self.company_a.id,
            company_ids=[self.company_a.id],
        )
        Call = self.env["pbx.call"]

        def ingest(call_id, **values):
            raw = cdr_event(call_id, "2026-11-05T10:00:00+03:00", **values)
            return Call._ingest_events(self.conn_a, [validate_event(0, raw)])[2]

        out = ingest("i1", direction="outgoing", extension="103", **{"from": "103"})
        self.assertEqual(out.user_id, ivan)
        self.assertEqual(Call._pbx_rung_users([ivan.id]), [])
        mine = Call.with_user(ivan).search([("id", "in", (self.calls_a | out).ids)])
        self.assertEqual(mine, out)
        self.assertEqual(
            Call.with_user(self.manager).search(
                [
                    ("admin_search_id", "=", ivan.id),
                    ("id", "in", (self.calls_a | out).ids),
                ]
            ),
            out,
        )
        rang = ingest(
            "i2", extension="103", rang_extensions=["103"], disposition="no_answer",
            talk_seconds=0,
        )  # fmt: skip
        self.assertFalse(rang.user_id)
        everything = (self.calls_a | out | rang).ids
        mine = Call.with_user(ivan).search([("id", "in", everything)])
        self.assertEqual(mine, out | rang)
        # Odoo checks the rule again on the records it reads.
        self.assertEqual({row["id"] for row in mine.read(["src"])}, set(mine.ids))
        self.assertEqual(
            Call.with_user(self.manager).search(
                [("admin_search_id", "=", ivan.id), ("id", "in", everything)]
            ),
            out | rang,
        )
        self.assertEqual(
            Call.with_user(self.manager).search(
                [("admin_search_id", "!=", ivan.id), ("id", "in", everything)]
            ),
            self.calls_a,
        )
        self.assertEqual(
            Call.with_user(self.manager).search(
                [
                    ("staff_search_ids", "in", [ivan.id, self.olga.id]),
                    ("id", "in", everything),
                ]
            ),
            out | rang | self.olga_took | self.olga_out,
        )

    def test_the_call_log_page_is_read_without_compiling_its_queries(self):
        # The pager counts up to 10,001 calls: PostgreSQL would compile that
        # walk (JIT) for longer than it takes. Only the page's queries run
        # without; the transaction's setting is what it was afterwards.
        cr = self.env.cr

        def jit():
            cr.execute(
                "SELECT current_setting('jit'), current_setting('random_page_cost')"
            )
            return cr.fetchone()

        before = jit()
        seen = []
        original = type(cr).execute

        def watching(cursor, query, params=None, log_exceptions=True):
            if 'FROM "pbx_call"' in str(query):
                seen.append(jit())
            return original(cursor, query, params, log_exceptions)

        Call = self.env["pbx.call"].with_user(self.anna)
        with patch.object(type(cr), "execute", watching):
            page = Call.web_search_read(
                [], {"src": {}}, limit=1, order="start DESC, id DESC", count_limit=10001
            )
        self.assertEqual(page["length"], 2)
        self.assertEqual(set(seen), {("off", "1.1")})
        self.assertEqual(jit(), before)

    def test_admin_of_a_shared_extension_is_left_empty_until_claimed(self):
        self.assertFalse(self.missed_101.user_id)
        self.assertEqual(self.olga_took.user_id, self.olga)
        self.assertEqual(
            self.olga_took.rang_user_ids, self.anna | self.maria | self.olga
        )

    def test_managers_see_all_calls_of_their_companies(self):
        self.assertEqual(self.visible(self.manager), self.calls_a)
        self.assertEqual(
            self.visible(self.boss, self.company_a | self.company_b),
            self.calls_a | self.other_company,
        )
        self.assertEqual(self.visible(self.boss, self.company_a), self.calls_a)

    def test_users_without_pbx_groups_see_nothing(self):
        with self.assertRaises(AccessError):
            self.visible(self.outsider)

    def test_nobody_but_the_system_deletes_or_edits_calls(self):
        for user in (self.anna, self.manager, self.boss):
            with self.assertRaises(AccessError):
                self.olga_took.with_user(user).unlink()
            with self.assertRaises(AccessError):
                self.olga_took.with_user(user).write({"disposition": "busy"})
        self.olga_took.with_user(self.env.ref("base.user_admin")).unlink()
        self.assertFalse(self.olga_took.exists())

    def test_connections_and_their_secrets(self):
        Connection = self.env["pbx.connection"]
        self.assertEqual(
            Connection.with_user(self.manager).search(
                [("id", "in", (self.conn_a | self.conn_b).ids)]
            ),
            self.conn_a,
        )
        self.assertNotIn(
            "cdr_password", Connection.with_user(self.manager).fields_get()
        )
        self.assertNotIn("token_hash", Connection.with_user(self.boss).fields_get())
        with self.assertRaises(AccessError):
            self.conn_a.with_user(self.anna).write({"name": "Renamed"})

    def test_claiming_a_shared_extension_call(self):
        call = self.missed_101
        self.assertTrue(call._claim(self.anna))
        self.assertEqual(call.user_id, self.anna)
        self.assertFalse(call._claim(self.maria), "the first claim wins")
        self.assertEqual(call.user_id, self.anna)
        self.assertEqual(self.visible(self.anna) & call, call)

    def test_a_connection_with_calls_is_archived_not_deleted(self):
        connection = self.conn_a.with_user(self.manager)
        with self.assertRaises(UserError):
            connection.unlink()
        connection.action_archive()
        self.assertFalse(self.conn_a.active)
        self.assertTrue(self.olga_took.exists(), "archiving keeps the call history")
        unused, _token = make_connection(self.env, name="Never used")
        unused.with_user(self.manager).unlink()
        self.assertFalse(unused.exists())

    def test_the_merge_state_with_the_pbx_urls_is_for_administrators(self):
        # The folded events keep the PBX's recording URLs, which never go to
        # the browser (only the Recordings route fetches them).
        call = self.olga_took
        call.sudo().merge_state = dict(
            call.sudo().merge_state, end_recording_url="http://pbx.lan/rec/a1.wav"
        )
        for user in (self.olga, self.manager):
            Call = call.with_user(user)
            with self.subTest(user=user.login):
                self.assertNotIn("merge_state", list(Call.fields_get()))
                with self.assertRaises(AccessError):
                    Call.read(["merge_state"])
                with self.assertRaises(AccessError):
                    Call.search_read([("id", "=", call.id)], ["merge_state"])
                # What the Call Log opens still reads, without the URL.
                views = Call.get_views([(False, "list"), (False, "form")])
                fields = views["models"]["pbx.call"]["fields"]
                self.assertNotIn("merge_state", list(fields))
                data = Call.web_read({name: {} for name in fields})
                self.assertNotIn("pbx.lan", json.dumps(data, default=str))
                self.assertTrue(data[0]["has_recording"])

    def test_where_a_pbx_is_reached_is_for_managers(self):
        located = (
            "recordings_base_url",
            "cdr_host",
            "cdr_port",
            "cdr_database",
            "cdr_table",
            "cdr_cursor",
            "last_error",
            "last_error_at",
            "last_success_at",
            "rows_imported",
            "token_hint",
        )
        self.conn_a.write(
            {
                "recordings_base_url": "http://pbx.lan/monitor/",
                "last_error": "Cannot connect to 10.0.0.5:3306",
            }
        )
        connection = self.conn_a.with_user(self.olga)
        self.assertEqual(connection.read(["name"])[0]["name"], "PBX A")
        described = list(connection.fields_get())
        for name in located:
            with self.subTest(field=name):
                self.assertNotIn(name, described)
                with self.assertRaises(AccessError):
                    connection.read([name])
        self.assertEqual(
            self.conn_a.with_user(self.manager).read(["recordings_base_url"])[0][
                "recordings_base_url"
            ],
            "http://pbx.lan/monitor/",
        )
        # The call form's PBX page still shows the connection's name.
        data = self.olga_took.with_user(self.olga).web_read(
            {"connection_id": {"fields": {"display_name": {}}}}
        )
        self.assertEqual(data[0]["connection_id"]["display_name"], "PBX A")

    def test_a_manager_cannot_move_a_connection_to_another_company(self):
        # With its token they would then feed calls and pop-ups to company B.
        connection = self.conn_a.with_user(self.manager)
        with self.assertRaises(AccessError):
            connection.write({"company_id": self.company_b.id})
        self.assertEqual(self.conn_a.company_id, self.company_a)
        with self.assertRaises(AccessError):
            self.env["pbx.connection"].with_user(self.manager).create(
                {"name": "Planted", "company_id": self.company_b.id}
            )
        # A manager of both companies may.
        self.conn_a.with_user(self.boss).with_context(
            allowed_company_ids=(self.company_a | self.company_b).ids
        ).write({"company_id": self.company_b.id})
        self.assertEqual(self.conn_a.company_id, self.company_b)
