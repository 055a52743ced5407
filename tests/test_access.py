import re

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, tagged

from .common import make_pbx_users


@tagged("post_install", "-at_install")
class TestAccess(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = make_pbx_users(cls.env)
        cls.our_models = (
            cls.env["ir.model"]
            .browse(
                cls.env["ir.model.data"]
                .search([("module", "=", "clinic_pbx"), ("model", "=", "ir.model")])
                .mapped("res_id")
            )
            .filtered(
                lambda model: (
                    model.model.startswith("pbx.")
                    and not cls.env[model.model]._abstract
                )
            )
        )

    def test_every_model_has_access_rules_for_each_group(self):
        self.assertGreaterEqual(len(self.our_models), 5)
        manager = self.env.ref("clinic_pbx.clinic_pbx_group_manager")
        for model in self.our_models:
            rows = self.env["ir.model.access"].search([("model_id", "=", model.id)])
            self.assertTrue(
                rows.group_id & (manager | manager.trans_implied_ids),
                f"{model.model} has no access rule for PBX Managers",
            )
        for name in ("pbx.call", "pbx.connection"):
            self.assertTrue(
                self.env[name].with_user(self.users["user"]).has_access("read"),
                f"PBX Users cannot read {name}",
            )

    def test_user_without_pbx_groups_reads_nothing(self):
        outsider = self.users["outsider"]
        for model in self.our_models:
            with self.assertRaises(
                AccessError, msg=f"{model.model} is readable without PBX groups"
            ):
                self.env[model.model].with_user(outsider).search([], limit=1)

    def test_pbx_user_cannot_create_or_delete_calls(self):
        Call = self.env["pbx.call"].with_user(self.users["manager"])
        self.assertFalse(Call.has_access("create"))
        self.assertFalse(Call.has_access("unlink"))
        self.assertTrue(Call.has_access("read"))

    def test_only_an_administrator_moves_stored_passwords(self):
        connection = self.env["pbx.connection"].create(
            {
                "name": "CDR with password",
                "kind": "freepbx_cdr",
                "cdr_host": "10.0.0.5",
                "cdr_password": "s3cret",
                "recordings_base_url": "https://pbx.clinic.example/monitor/",
            }
        )
        as_manager = connection.with_user(self.users["manager"])
        for vals in (
            {"cdr_host": "attacker.example"},
            {"cdr_port": 3307},
            {"recordings_base_url": "https://attacker.example/"},
        ):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                as_manager.write(vals)
        self.assertEqual(connection.cdr_host, "10.0.0.5")
        # Other settings, and the same values again, stay theirs to change.
        as_manager.write({"cdr_overlap_minutes": 90, "cdr_host": "10.0.0.5"})
        self.assertEqual(connection.cdr_overlap_minutes, 90)
        connection.write({"cdr_host": "10.0.0.6"})  # an administrator
        self.assertEqual(connection.cdr_host, "10.0.0.6")

    def test_only_an_administrator_points_a_connection_at_a_database(self):
        # Test connection and Sync now tell a refused connection from a
        # timeout or another service's answer: pointed anywhere, they would
        # scan the ports the server reaches. A manager uses what an
        # administrator set.
        connection = self.env["pbx.connection"].create(
            {"name": "CDR without password", "kind": "freepbx_cdr", "cdr_host": "db"}
        )
        manager = self.users["manager"]
        as_manager = connection.with_user(manager)
        for vals in ({"cdr_host": "10.0.0.1"}, {"cdr_port": 22}):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                as_manager.write(vals)
        self.assertEqual((connection.cdr_host, connection.cdr_port), ("db", 3306))
        Connection = self.env["pbx.connection"].with_user(manager)
        for vals, context in (
            ({"cdr_host": "10.0.0.1", "cdr_port": 22}, {}),
            ({}, {"default_cdr_host": "10.0.0.1"}),
        ):
            with self.subTest(vals=vals, context=context):
                with self.assertRaises(AccessError):
                    Connection.with_context(**context).create(
                        {"name": "Scanner", "kind": "freepbx_cdr", **vals}
                    )
        # The rest stays theirs: the same values again, other settings, and
        # new connections with the default location.
        as_manager.write({"cdr_host": "db", "cdr_port": 3306, "cdr_table": "cdr2"})
        self.assertEqual(connection.cdr_table, "cdr2")
        created = Connection.create({"name": "Default", "kind": "freepbx_cdr"})
        self.assertEqual(created.sudo().cdr_host, "127.0.0.1")
        # The form shows them read-only to managers.
        for user, readonly in (
            (manager, True),
            (self.env.ref("base.user_admin"), False),
        ):
            arch = self.env["pbx.connection"].with_user(user).get_view()["arch"]
            for name in ("cdr_host", "cdr_port"):
                with self.subTest(user=user.login, field=name):
                    self.assertEqual(
                        bool(re.search(r'name="%s"[^>]*readonly="1"' % name, arch)),
                        readonly,
                    )
