import secrets
from datetime import timedelta

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.clinic_pbx.tests.fakes.freepbx_cdr import CdrWriter, MariaDb
from odoo.addons.clinic_pbx.tools.cdr_source import CdrSource

from ..fakes.tcp_proxy import TcpProxy
from .test_cdr_sync import T0

SYNC_LOGGER = "odoo.addons.clinic_pbx.models.freepbx.pbx_connection"
CALLS = 40  # ring group calls of 5 rows each


@tagged("post_install", "-at_install")
class TestCdrSyncFaults(HttpCase):
    """The FreePBX CDR sync while its MariaDB goes away and comes back.

    Odoo reads the shared MariaDB through a local TCP proxy that refuses
    connections or drops them in the middle of a result, as a PBX that
    restarts or a network that fails would.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        suffix = secrets.token_hex(4)
        cls.mariadb = MariaDb("clinic_pbx_cdr_faults_%s" % suffix).build()
        cls.addClassCleanup(cls.mariadb.drop)
        reader, password = "clinic_pbx_cdr_f_%s" % suffix, "ro-pw-" + suffix
        cls.mariadb.add_reader(reader, password)
        cls.proxy = TcpProxy("127.0.0.1", 3306).start()
        cls.addClassCleanup(cls.proxy.stop)
        cls.connection = cls.env["pbx.connection"].create(
            {
                "name": "FreePBX behind a flaky network",
                "kind": "freepbx_cdr",
                "country_id": cls.env.ref("base.ru").id,
                "timezone": "Europe/Moscow",
                "cdr_host": "127.0.0.1",
                "cdr_port": cls.proxy.port,
                "cdr_database": cls.mariadb.name,
                "cdr_table": "cdr",
                "cdr_user": reader,
                "cdr_password": password,
                "cdr_overlap_minutes": 15,
            }
        )

    def setUp(self):
        super().setUp()
        self.mariadb.clear()
        self.proxy.cut_after(None)
        self.proxy.cuts = 0
        self.proxy.up()
        self.writer = CdrWriter("Europe/Moscow")
        self.linkedids = []
        self.row_count = 0

    def add_calls(self, count, start):
        for n in range(count):
            rows = self.writer.ring_group(
                start + timedelta(seconds=30 * n),
                "8916%07d" % (len(self.linkedids)),
                answered_by="10%d" % (n % 5 + 1),
            )
            self.mariadb.insert(rows)
            self.linkedids.append(rows[0]["linkedid"])
            self.row_count += len(rows)

    def sync(self, **kwargs):
        with mute_logger(SYNC_LOGGER):
            summary = self.connection._sync_cdr(**kwargs)
        self.env.invalidate_all()
        return summary

    def health(self):
        connection = self.connection
        return {
            "cursor": connection.cdr_cursor,
            "rows": connection.rows_imported,
            "success": connection.last_success_at,
            "error": connection.last_error,
            "error_at": connection.last_error_at,
        }

    def imported(self):
        """PBX call id -> number of calls of this connection with it."""
        self.env.invalidate_all()
        calls = self.env["pbx.call"].search(
            [("connection_id", "=", self.connection.id)]
        )
        counts = {}
        for call in calls:
            counts[call.external_id] = counts.get(call.external_id, 0) + 1
        return counts

    def assert_every_call_once(self):
        self.assertEqual(self.imported(), dict.fromkeys(self.linkedids, 1))
        calls = self.env["pbx.call"].search(
            [("connection_id", "=", self.connection.id)]
        )
        self.assertEqual(set(calls.mapped("disposition")), {"answered"})
        self.assertEqual(set(calls.mapped("state")), {"done"})
        self.assertEqual(self.connection.rows_imported, self.row_count)
        self.assertFalse(self.connection.last_error)
        self.assertGreaterEqual(
            self.connection.last_success_at, self.connection.last_error_at
        )

    def answer_size(self, page_size):
        """Bytes MariaDB sends for a whole first sync with ``page_size``."""
        before = self.proxy.answered
        connection = self.connection.sudo()
        with CdrSource(
            "127.0.0.1",
            self.proxy.port,
            self.mariadb.name,
            "cdr",
            connection.cdr_user,
            connection.cdr_password,
            "Europe/Moscow",
        ) as source:
            pages = list(source.pages(None, page_size))
        self.assertGreater(len(pages), 2 if page_size < 100 else 0)
        return self.proxy.answered - before

    # ------------------------------------------------------------------

    def test_refused_connections_move_nothing_and_the_next_sync_brings_all(self):
        self.add_calls(10, T0)
        self.sync()
        before = self.health()
        self.assertTrue(before["success"])
        self.add_calls(10, T0 + timedelta(hours=1))

        self.proxy.down()  # MariaDB (or the PBX) is down: connection refused
        summary = self.sync()
        after = self.health()
        self.assertEqual(summary["calls"], 0)
        self.assertEqual(
            after["error"],
            "Cannot connect to the CDR database at 127.0.0.1:%s (Connection "
            "refused). Nothing was imported; the next sync starts again from "
            "the same point." % self.proxy.port,
        )
        self.assertTrue(after["error_at"])
        for field in ("cursor", "rows", "success"):
            self.assertEqual(after[field], before[field], field)
        self.assertEqual(len(self.imported()), 10)

        self.proxy.up()  # back
        summary = self.sync()
        self.assertEqual(summary["calls"], 10)
        self.assert_every_call_once()

    def test_a_connection_dropped_in_the_first_page_moves_nothing(self):
        self.add_calls(CALLS, T0)
        size = self.answer_size(page_size=2000)
        # Cut the first sync's connection half-way through its one page.
        self.proxy.cut_after(size // 2)
        summary = self.sync()
        self.assertEqual(self.proxy.cuts, 1)
        self.assertEqual(summary["calls"], 0)
        health = self.health()
        self.assertEqual(
            health["error"],
            "The CDR database at 127.0.0.1 closed the connection. Nothing was "
            "imported; the next sync starts again from the same point.",
        )
        self.assertFalse(health["cursor"], "nothing was read to the end")
        self.assertFalse(health["rows"])
        self.assertFalse(health["success"])
        self.assertFalse(self.imported())

        self.proxy.cut_after(None)
        summary = self.sync()
        self.assertEqual(summary["calls"], CALLS)
        self.assert_every_call_once()

    def test_a_connection_dropped_in_a_later_page_keeps_the_pages_before(self):
        self.add_calls(CALLS, T0)
        size = self.answer_size(page_size=25)
        self.proxy.cut_after(size * 2 // 3)
        summary = self.sync(page_size=25)
        self.assertIn("closed the connection", summary["error"])
        health = self.health()
        imported = self.imported()
        self.assertTrue(imported, "the pages before the cut are imported")
        self.assertLess(len(imported), CALLS)
        self.assertEqual(set(imported.values()), {1})
        # The cursor is the newest row of the last page imported.
        calls = self.env["pbx.call"].search(
            [("connection_id", "=", self.connection.id)]
        )
        self.assertEqual(health["cursor"], max(calls.mapped("start")))
        self.assertEqual(health["rows"], len(imported) * 5)
        self.assertEqual(
            health["error"],
            "The CDR database at 127.0.0.1 closed the connection. The calls "
            "read before were imported; the next sync goes on from there.",
        )

        self.proxy.cut_after(None)
        self.sync(page_size=25)
        self.assert_every_call_once()
