import secrets
import socket
from datetime import datetime, timedelta
from unittest.mock import patch

import odoo
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.clinic_pbx.models.freepbx import pbx_connection
from odoo.addons.clinic_pbx.models.freepbx.pbx_connection import SYNC
from odoo.addons.clinic_pbx.tests.fakes.freepbx_cdr import CdrWriter, MariaDb
from odoo.addons.clinic_pbx.tools.sync_lock import lock_namespace

from ..common import make_pbx_users, run_cron_until_caught_up
from ..fakes.recording_server import RecordingServer, make_wav

T0 = datetime(2026, 11, 5, 9, 17, 30)  # PBX time (Moscow, UTC+3)
WAV = make_wav()


def closed_port():
    """A local TCP port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@tagged("post_install", "-at_install")
class TestCdrSync(HttpCase):
    """The FreePBX CDR sync against a real MariaDB with FreePBX's cdr table."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        suffix = secrets.token_hex(4)
        cls.mariadb = MariaDb("clinic_pbx_cdr_test_%s" % suffix).build()
        cls.addClassCleanup(cls.mariadb.drop)
        # The read-only user docs/freepbx-cdr.md tells PBX admins to create.
        cls.reader = "clinic_pbx_cdr_ro_%s" % suffix
        cls.mariadb.add_reader(cls.reader, "ro-pw-" + suffix)
        cls.mariadb.execute("CREATE TABLE cdr_not_granted LIKE cdr")
        cls.recordings = cls.enterClassContext(
            RecordingServer({}, username="monitor", password="s3cret-rec")
        )
        cls.recordings_url = cls.recordings.url + "/monitor/"
        cls.users = make_pbx_users(cls.env, prefix="cdr")
        cls.staff = {
            ext: new_test_user(
                cls.env,
                login=f"cdr_ext_{ext}",
                groups="base.group_user,clinic_pbx.clinic_pbx_group_user",
                pbx_extension=ext,
            )
            for ext in ("101", "102", "103", "104", "105")
        }
        cls.connection = cls.env["pbx.connection"].create(
            {
                "name": "Reception FreePBX",
                "kind": "freepbx_cdr",
                "country_id": cls.env.ref("base.ru").id,
                "timezone": "Europe/Moscow",
                "cdr_host": "127.0.0.1",
                "cdr_port": 3306,
                "cdr_database": cls.mariadb.name,
                "cdr_table": "cdr",
                "cdr_user": cls.reader,
                "cdr_password": "ro-pw-" + suffix,
                "cdr_overlap_minutes": 15,
                "recordings_base_url": cls.recordings_url,
                "recordings_username": "monitor",
                "recordings_password": "s3cret-rec",
            }
        )
        cls.Call = cls.env["pbx.call"]

    def setUp(self):
        super().setUp()
        self.mariadb.clear()
        self.writer = CdrWriter("Europe/Moscow")

    def sync(self, **kwargs):
        summary = self.connection._sync_cdr(**kwargs)
        self.env.invalidate_all()
        return summary

    def calls(self):
        return self.Call.search([("connection_id", "=", self.connection.id)])

    def call_of(self, rows):
        return self.Call.search(
            [
                ("connection_id", "=", self.connection.id),
                ("external_id", "=", rows[0]["linkedid"]),
            ]
        )

    # ------------------------------------------------------------------

    def test_ring_group_four_missed_and_one_answered_is_one_answered_call(self):
        rows = self.writer.ring_group(T0, "8 916 123-45-67", answered_by="105")
        self.mariadb.insert(rows)
        summary = self.sync()
        self.assertEqual((summary["calls"], summary["rows"]), (1, 5))
        call = self.calls()
        self.assertEqual(len(call), 1)
        self.assertEqual(call.external_id, rows[0]["linkedid"])
        self.assertEqual(str(call.start), "2026-11-05 06:17:30")
        self.assertEqual(call.direction, "incoming")
        self.assertEqual(call.disposition, "answered")
        self.assertEqual(call.user_id, self.staff["105"], "Admin = who answered")
        self.assertEqual(call.answered_extension, "105")
        self.assertEqual(
            call.rang_user_ids, sum(self.staff.values(), self.env["res.users"])
        )
        self.assertEqual((call.talk_seconds, call.wait_seconds), (120, 20))
        self.assertEqual(call.did, "74951234500")
        self.assertEqual(call.external_key, "+79161234567")
        self.assertFalse(call.missed)
        self.assertEqual(call.state, "done")
        self.assertTrue(call.has_recording)
        self.assertEqual(self.connection.rows_imported, 5)
        self.assertTrue(self.connection.last_success_at)
        self.assertFalse(self.connection.last_error)
        self.assertEqual(str(self.connection.cdr_cursor), "2026-11-05 06:17:30")

    def test_queue_transfer_outgoing_internal_and_missed_calls(self):
        queue = self.writer.queue(T0, "89161230001", answered_by="102")
        transfer = self.writer.transfer(T0 + timedelta(minutes=5), "89161230002")
        outgoing = self.writer.outgoing(
            T0 + timedelta(minutes=10), "103", "8 (916) 765-43-21"
        )
        internal = self.writer.internal(T0 + timedelta(minutes=15), "104", "101")
        missed = self.writer.ring_group(
            T0 + timedelta(minutes=20), "89161230003", members=("101", "102")
        )
        voicemail = self.writer.voicemail(T0 + timedelta(minutes=25), "89161230004")
        busy = self.writer.outgoing(
            T0 + timedelta(minutes=30), "101", "89161230005", disposition="BUSY"
        )
        for rows in (queue, transfer, outgoing, internal, missed, voicemail, busy):
            self.mariadb.insert(rows)
        self.sync()
        self.assertEqual(len(self.calls()), 7)

        call = self.call_of(queue)
        self.assertEqual(
            (call.disposition, call.user_id), ("answered", self.staff["102"])
        )
        self.assertEqual((call.talk_seconds, call.wait_seconds), (90, 60))
        self.assertEqual(call.rang_user_ids, self.staff["101"] | self.staff["102"])

        call = self.call_of(transfer)
        self.assertEqual(
            (call.disposition, call.user_id), ("answered", self.staff["101"])
        )
        self.assertEqual(call.talk_seconds, 90, "both transfer segments")
        self.assertEqual(call.rang_user_ids, self.staff["101"] | self.staff["102"])

        call = self.call_of(outgoing)
        self.assertEqual(call.direction, "outgoing")
        self.assertEqual(call.user_id, self.staff["103"])
        self.assertEqual(call.external_key, "+79167654321")
        self.assertEqual((call.src, call.dst), ("103", "8 (916) 765-43-21"))
        self.assertEqual(call.talk_seconds, 75)

        call = self.call_of(internal)
        self.assertEqual(call.direction, "internal")
        self.assertEqual(call.user_id, self.staff["104"])
        self.assertEqual(call.rang_user_ids, self.staff["101"])
        self.assertFalse(call.external_key)

        call = self.call_of(missed)
        self.assertEqual(call.disposition, "no_answer")
        self.assertTrue(call.missed)
        self.assertFalse(call.user_id)
        self.assertEqual(call.wait_seconds, 20)

        call = self.call_of(voicemail)
        self.assertEqual((call.disposition, call.missed), ("no_answer", True))

        call = self.call_of(busy)
        self.assertEqual((call.direction, call.disposition), ("outgoing", "busy"))

    def test_rereading_rows_never_duplicates(self):
        rows = self.writer.ring_group(T0, "89161234567", answered_by="103")
        self.mariadb.insert(rows)
        self.sync()
        call = self.calls()
        before = call.read(["write_date", "disposition", "user_id", "talk_seconds"])
        # Read the whole table again, twice.
        self.connection.cdr_cursor = False
        summary = self.sync()
        self.assertEqual(summary["calls"], 0, "nothing new")
        summary = self.sync()
        self.assertEqual(summary["calls"], 0)
        self.assertEqual(self.calls(), call)
        self.assertEqual(
            call.read(["write_date", "disposition", "user_id", "talk_seconds"]), before
        )

    def test_a_leg_written_late_is_picked_up_by_the_overlap(self):
        rows = self.writer.ring_group(T0, "89161234567", answered_by="104")
        answered = [row for row in rows if row["disposition"] == "ANSWERED"]
        self.mariadb.insert([row for row in rows if row not in answered])
        later = self.writer.internal(T0 + timedelta(minutes=10), "101", "102")
        self.mariadb.insert(later)
        self.sync()
        call = self.call_of(rows)
        self.assertEqual(call.disposition, "no_answer")
        self.assertEqual(str(self.connection.cdr_cursor), "2026-11-05 06:27:30")
        # The answered leg reaches the table after the sync: its calldate
        # lies 10 minutes before the cursor, inside the 15-minute overlap.
        self.mariadb.insert(answered)
        summary = self.sync()
        self.assertEqual(summary["calls"], 1)
        self.assertEqual(call.disposition, "answered")
        self.assertEqual(call.user_id, self.staff["104"])
        self.assertEqual(call.extension, "104")
        self.assertEqual(len(call.rang_user_ids), 5)
        self.assertEqual(call.talk_seconds, 120)
        self.assertFalse(call.missed)
        self.assertEqual(len(self.calls()), 2)

    def test_the_cursor_skips_what_lies_before_it(self):
        old = self.writer.internal(T0 - timedelta(days=2), "101", "102")
        new = self.writer.internal(T0, "103", "104")
        self.mariadb.insert(old + new)
        # "Read Up To" set by hand: start from yesterday.
        self.connection.cdr_cursor = datetime(2026, 11, 4, 0, 0, 0)
        self.sync()
        self.assertEqual(self.calls().mapped("external_id"), [new[0]["linkedid"]])

    def test_scheduled_action_imports_a_long_history_in_bounded_runs(self):
        # Five calls an hour apart (more than the overlap read again).
        calls = [
            self.writer.ring_group(
                T0 + timedelta(hours=i), "8916123450%d" % i, answered_by="101"
            )
            for i in range(5)
        ]
        for rows in calls:
            self.mariadb.insert(rows)
        self.patch(pbx_connection, "PAGE_SIZE", 11)  # two calls' rows
        self.patch(pbx_connection, "CRON_PAGES", 1)
        reported = run_cron_until_caught_up(
            self, self.env["pbx.connection"]._cron_sync_cdr
        )
        self.env.invalidate_all()
        # Each run read one page and said that this connection had more,
        # until a run found no more.
        self.assertGreaterEqual(len(reported), 3)
        self.assertEqual(reported, [1] * (len(reported) - 1) + [0])
        self.assertEqual(len(self.calls()), 5)
        for rows in calls:
            self.assertEqual(self.call_of(rows).disposition, "answered")

    def test_a_call_across_page_boundaries_is_folded_whole(self):
        calls = [
            self.writer.ring_group(
                T0 + timedelta(seconds=i),
                "8916123450%d" % i,
                answered_by="10%d" % (i + 1),
            )
            for i in range(4)
        ]
        # The legs of a queue call start at different times and mix with
        # other calls' rows.
        queue = self.writer.queue(T0 + timedelta(seconds=1), "89161234599")
        for rows in calls + [queue]:
            self.mariadb.insert(rows)
        self.sync(page_size=3)
        self.assertEqual(len(self.calls()), 5)
        for i, rows in enumerate(calls):
            call = self.call_of(rows)
            self.assertEqual(call.disposition, "answered")
            self.assertEqual(call.user_id, self.staff["10%d" % (i + 1)])
            self.assertEqual(len(call.rang_user_ids), 5)
        call = self.call_of(queue)
        self.assertEqual((call.user_id, call.talk_seconds), (self.staff["102"], 90))

    @mute_logger("odoo.addons.clinic_pbx.models.freepbx.pbx_connection")
    def test_malformed_rows_are_reported_and_the_rest_imported(self):
        good = self.writer.ring_group(T0, "89161234567", answered_by="102")
        good[0]["calldate"] = "0000-00-00 00:00:00"
        no_linkedid = self.writer.internal(T0 + timedelta(minutes=1))
        no_linkedid[0]["linkedid"] = ""
        other = self.writer.outgoing(T0 + timedelta(minutes=2))
        for rows in (good, no_linkedid, other):
            self.mariadb.insert(rows)
        self.sync()
        self.assertEqual(len(self.calls()), 2)
        self.assertEqual(self.call_of(good).user_id, self.staff["102"])
        self.assertTrue(self.call_of(other))
        error = self.connection.last_error
        self.assertIn(good[0]["uniqueid"] + ": calldate", error)
        self.assertIn(no_linkedid[0]["uniqueid"] + ": no linkedid", error)
        self.assertTrue(self.connection.last_error_at)
        self.assertTrue(self.connection.last_success_at)
        self.assertEqual(str(self.connection.cdr_cursor), "2026-11-05 06:19:30")

    @mute_logger("odoo.addons.clinic_pbx.models.freepbx.pbx_connection")
    def test_database_down_is_reported_and_nothing_moves(self):
        self.mariadb.insert(self.writer.internal(T0))
        password = self.connection.cdr_password
        self.connection.write({"cdr_port": closed_port(), "cdr_password": "pw-XYZ"})
        cursor = datetime(2026, 11, 5, 5, 0, 0)
        self.connection.cdr_cursor = cursor
        summary = self.sync()
        self.assertIn(
            "Cannot connect to the CDR database at 127.0.0.1", summary["error"]
        )
        self.assertIn("Connection refused", self.connection.last_error)
        self.assertNotIn("pw-XYZ", self.connection.last_error)
        self.assertTrue(self.connection.last_error_at)
        self.assertFalse(self.connection.last_success_at)
        self.assertEqual(self.connection.cdr_cursor, cursor)
        self.assertEqual(self.connection.rows_imported, 0)
        self.assertFalse(self.calls())
        # Back up: the next run continues from the same cursor.
        self.connection.write({"cdr_port": 3306, "cdr_password": password})
        self.sync()
        self.assertEqual(len(self.calls()), 1)
        self.assertFalse(self.connection.last_error)
        self.assertTrue(self.connection.last_success_at)

    @mute_logger("odoo.addons.clinic_pbx.models.freepbx.pbx_connection")
    def test_a_failed_page_keeps_the_cursor_of_the_last_committed_one(self):
        first = self.writer.internal(T0, "101", "102")
        second = self.writer.internal(T0 + timedelta(minutes=1), "103", "104")
        self.mariadb.insert(first + second)
        Call = type(self.env["pbx.call"])
        ingest = Call._ingest_events
        pages = []

        def flaky(model, connection, events):
            pages.append(events)
            result = ingest(model, connection, events)
            if len(pages) == 2:
                raise RuntimeError("disk full")
            return result

        with patch.object(Call, "_ingest_events", flaky):
            summary = self.sync(page_size=1)
        self.assertIn("RuntimeError", summary["error"])
        self.assertEqual(self.calls().mapped("external_id"), [first[0]["linkedid"]])
        self.assertEqual(str(self.connection.cdr_cursor), "2026-11-05 06:17:30")
        self.assertIn("RuntimeError", self.connection.last_error)
        self.sync(page_size=1)
        self.assertEqual(len(self.calls()), 2)
        self.assertEqual(str(self.connection.cdr_cursor), "2026-11-05 06:18:30")
        self.assertFalse(self.connection.last_error)

    @mute_logger("odoo.addons.clinic_pbx.models.freepbx.pbx_connection")
    def test_an_unexpected_failure_after_the_first_sync_is_recorded(self):
        self.mariadb.insert(self.writer.internal(T0, "101", "102"))
        self.sync()
        cursor = self.connection.cdr_cursor
        self.assertTrue(cursor)
        self.mariadb.insert(self.writer.internal(T0 + timedelta(minutes=1)))
        Call = type(self.env["pbx.call"])
        # As the scheduled action runs it: no language in the context.
        self.assertFalse(self.env.context.get("lang"))
        with patch.object(Call, "_ingest_events", side_effect=RuntimeError("disk")):
            summary = self.sync()
        self.assertIn("Importing the calls failed (RuntimeError)", summary["error"])
        self.assertIn("RuntimeError", self.connection.last_error)
        self.assertEqual(self.connection.cdr_cursor, cursor)
        self.sync()
        self.assertEqual(len(self.calls()), 2)
        self.assertFalse(self.connection.last_error)

    def test_recording_plays_through_the_call_log_route(self):
        rows = self.writer.ring_group(T0, "89161234567", answered_by="101")
        self.mariadb.insert(rows)
        self.sync()
        call = self.calls()
        name = rows[0]["recordingfile"]
        path = "/monitor/2026/11/05/" + name
        self.assertEqual(
            call.sudo().recording_url, self.recordings_url + "2026/11/05/" + name
        )
        self.recordings.files[path] = WAV
        listener = new_test_user(
            self.env,
            login="cdr_listener_mgr",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_manager,"
            "clinic_pbx.clinic_pbx_group_recordings",
        )
        self.authenticate(listener.login, listener.login)
        response = self.url_open("/pbx/recording/%d" % call.id, timeout=30)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, WAV)
        self.assertIn(
            path, [seen for seen, _range, auth in self.recordings.requests if auth]
        )

    def test_buttons_and_scheduled_action(self):
        self.mariadb.insert(self.writer.internal(T0))
        manager = self.users["manager"]
        connection = self.connection.with_user(manager)
        action = connection.action_test_cdr_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("2026-11-05 09:17:30", action["params"]["message"])
        action = connection.action_sync_cdr()
        self.env.invalidate_all()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("1 new or changed calls", action["params"]["message"])
        self.assertEqual(len(self.calls()), 1)
        with self.assertRaises(AccessError):
            self.connection.with_user(self.users["user"]).action_sync_cdr()

        self.mariadb.insert(self.writer.internal(T0 + timedelta(minutes=1)))
        api_connection = self.env["pbx.connection"].create(
            {"name": "Event API", "kind": "event_api"}
        )
        cron = self.env.ref("clinic_pbx.pbx_connection_cdr_cron")
        self.assertEqual((cron.interval_number, cron.interval_type), (5, "minutes"))
        cron.method_direct_trigger()
        self.env.invalidate_all()
        self.assertEqual(len(self.calls()), 2)
        self.assertFalse(api_connection.last_success_at)

    @mute_logger("odoo.addons.clinic_pbx.models.freepbx.pbx_connection")
    def test_test_connection_explains_what_is_wrong(self):
        connection = self.connection
        password = connection.cdr_password

        def message():
            action = connection.action_test_cdr_connection()
            self.assertEqual(action["params"]["type"], "danger")
            return action["params"]["message"]

        connection.cdr_password = "wrong-pw-123"
        self.assertIn("refused the user name or password", message())
        self.assertNotIn("wrong-pw-123", message())
        # MariaDB does not tell a user without the grant whether a table exists.
        connection.write({"cdr_password": password, "cdr_table": "cdr_missing"})
        self.assertIn(".cdr_missing: the table does not exist or", message())
        connection.cdr_table = "cdr_not_granted"
        self.assertIn(
            "(GRANT SELECT ON %s.cdr_not_granted)" % self.mariadb.name, message()
        )
        connection.write({"cdr_table": "cdr", "cdr_database": "clinic_pbx_cdr_nowhere"})
        self.assertIn("clinic_pbx_cdr_nowhere does not exist", message())
        connection.cdr_database = self.mariadb.name
        self.assertFalse(connection.last_error, "testing changes nothing")
        with self.assertRaises(ValidationError):
            connection.cdr_table = "cdr; DROP TABLE cdr"

    def test_two_syncs_of_one_connection_never_run_together(self):
        self.mariadb.insert(self.writer.internal(T0))
        # Another worker's sync of this connection holds its lock.
        other = odoo.sql_db.db_connect(self.env.cr.dbname).cursor()
        try:
            other.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                (lock_namespace(SYNC.name), self.connection.id),
            )
            action = self.connection.action_sync_cdr()
            self.assertEqual(action["params"]["type"], "warning")
            self.assertIn("being synced", action["params"]["message"])
            self.assertFalse(self.calls())
        finally:
            other.rollback()
            other.close()
        summary = self.sync()
        self.assertEqual(len(self.calls()), 1, summary)
