import json
import select
import unittest

import psycopg2

from odoo.sql_db import connection_info_for

from odoo.addons.clinic_pbx.tools.bus_notify import notifier


class TestBusNotify(unittest.TestCase):
    """The pop-ups wake Odoo's websocket dispatchers (LISTEN imbus on the
    postgres database) through one kept connection, which survives being
    closed by the server."""

    def setUp(self):
        super().setUp()
        _dbname, info = connection_info_for("postgres")
        self.listener = psycopg2.connect(**info)
        self.listener.autocommit = True
        self.addCleanup(self.listener.close)
        with self.listener.cursor() as cr:
            cr.execute("LISTEN imbus")

    def received(self, timeout=5):
        payloads = []
        if select.select([self.listener], [], [], timeout)[0]:
            self.listener.poll()
            payloads = [json.loads(n.payload) for n in self.listener.notifies]
            self.listener.notifies.clear()
        return payloads

    def test_payloads_reach_the_listeners_on_one_kept_connection(self):
        self.assertTrue(notifier.notify([json.dumps([["db", "res.partner", 1]])]))
        self.assertEqual(self.received(), [[["db", "res.partner", 1]]])
        backend = notifier._connection.get_backend_pid()
        self.assertTrue(notifier.notify([json.dumps([["db", "res.partner", 2]])]))
        self.assertEqual(self.received(), [[["db", "res.partner", 2]]])
        self.assertEqual(notifier._connection.get_backend_pid(), backend)

    def test_a_connection_closed_by_the_server_is_opened_again(self):
        notifier.notify([json.dumps(["warm up"])])
        self.received()
        backend = notifier._connection.get_backend_pid()
        with self.listener.cursor() as cr:
            # what a failover or an administrator's pg_terminate_backend does
            cr.execute("SELECT pg_terminate_backend(%s)", [backend])
        self.assertTrue(notifier.notify([json.dumps([["db", "res.partner", 3]])]))
        self.assertEqual(self.received(), [[["db", "res.partner", 3]]])
        self.assertNotEqual(notifier._connection.get_backend_pid(), backend)
