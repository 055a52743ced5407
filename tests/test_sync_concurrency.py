"""The three syncs started at the same moment on two Odoo nodes.

Each "node" is a thread with a transaction of its own, committed for real,
as two Odoo servers on one PostgreSQL (or a scheduled action and a manager's
Sync now) run them. What these tests need in the database is committed too,
and removed again when they end.

Two ways two runs meet: at the same moment (the second tries while the
first waits for the service: the service holds its answers), and one after
the other with the second's transaction begun before the first committed
(the second cannot see the first's work).
"""

import secrets
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from odoo import SUPERUSER_ID, api, fields
from odoo.service.model import retrying
from odoo.tests import TransactionCase, tagged

from odoo.addons.clinic_pbx.tests.fakes.freepbx_cdr import CdrWriter, MariaDb
from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, committed_pbx
from .fakes.callmarker_server import CallmarkerServer
from .fakes.calltouch_server import CalltouchServer, make_call, make_request
from .fakes.tcp_proxy import TcpProxy

WAIT = 60  # seconds a node may take


class Node(threading.Thread):
    """One node's transaction: it reads with ``opening`` (its snapshot is
    taken there), waits for ``go``, runs ``job(env)`` and commits."""

    def __init__(self, registry, job, uid=SUPERUSER_ID, opening=None, go=None):
        super().__init__(daemon=True)
        self.registry, self.job, self.uid = registry, job, uid
        self.opening, self.go = opening, go
        self.opened = threading.Event()
        self.result = self.error = None

    def run(self):
        try:
            with self.registry.cursor() as cr:
                env = api.Environment(cr, self.uid, {})
                if self.opening:
                    self.opening(env)
                self.opened.set()
                if self.go is not None:
                    self.go.wait(WAIT)
                self.result = self.job(env)
        except Exception as error:  # noqa: BLE001 - handed to the test
            self.error = error
        finally:
            self.opened.set()

    def outcome(self):
        self.join(WAIT)
        if self.is_alive():
            raise AssertionError("a node did not finish in %s s" % WAIT)
        if self.error is not None:
            raise self.error
        return self.result


class TwoNodesCase(TransactionCase):
    """Runs jobs on two nodes; fixtures live in committed transactions."""

    @classmethod
    @contextmanager
    def committed(cls):
        with cls.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin_id = cls.env.ref("base.user_admin").id

    def at_once(self, first, second, hold, release):
        """Start both at the same moment while the service holds its answers.

        Returns (results, index of the node that finished while the other
        was waiting for the service, or None).
        """
        hold()
        go = threading.Event()
        nodes = [
            Node(self.registry, job, uid=uid, go=go) for job, uid in (first, second)
        ]
        for node in nodes:
            node.start()
        for node in nodes:
            node.opened.wait(WAIT)
        go.set()
        deadline = time.monotonic() + 20
        while all(node.is_alive() for node in nodes) and time.monotonic() < deadline:
            time.sleep(0.05)
        done = [index for index, node in enumerate(nodes) if not node.is_alive()]
        release()
        results = [node.outcome() for node in nodes]
        return results, done[0] if len(done) == 1 else None

    def one_after_the_other(self, first, second, opening):
        """``second``'s transaction begins (reading with ``opening``), then
        ``first`` runs and commits, then ``second`` runs."""
        go = threading.Event()
        late = Node(self.registry, second[0], uid=second[1], opening=opening, go=go)
        late.start()
        late.opened.wait(WAIT)
        early = Node(self.registry, first[0], uid=first[1])
        early.start()
        try:
            result = early.outcome()
        finally:
            go.set()
        return result, late.outcome()


# ----------------------------------------------------------------------------
# FreePBX CDR
# ----------------------------------------------------------------------------


@tagged("post_install", "-at_install")
class TestCdrSyncOnTwoNodes(TwoNodesCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        suffix = secrets.token_hex(4)
        cls.mariadb = MariaDb("clinic_pbx_cdr_nodes_%s" % suffix).build()
        cls.addClassCleanup(cls.mariadb.drop)
        reader, password = "clinic_pbx_cdr_n_%s" % suffix, "ro-pw-" + suffix
        cls.mariadb.add_reader(reader, password)
        cls.proxy = TcpProxy("127.0.0.1", 3306).start()
        cls.addClassCleanup(cls.proxy.stop)
        with cls.committed() as env:
            connection = env["pbx.connection"].create(
                {
                    "name": "FreePBX read by two nodes",
                    "kind": "freepbx_cdr",
                    "country_id": env.ref("base.ru").id,
                    "timezone": "Europe/Moscow",
                    "cdr_host": "127.0.0.1",
                    "cdr_port": cls.proxy.port,
                    "cdr_database": cls.mariadb.name,
                    "cdr_table": "cdr",
                    "cdr_user": reader,
                    "cdr_password": password,
                }
            )
            cls.connection_id = connection.id
        cls.addClassCleanup(cls.remove_connection)

    @classmethod
    def remove_connection(cls):
        with cls.committed() as env:
            env["pbx.call"].search([("connection_id", "=", cls.connection_id)]).unlink()
            env["pbx.connection"].browse(cls.connection_id).unlink()

    def setUp(self):
        super().setUp()
        with self.committed() as env:
            # The receipts too: rows read again would be known events.
            for model in ("pbx.call", "pbx.event.receipt"):
                env[model].search([("connection_id", "=", self.connection_id)]).unlink()
            env["pbx.connection"].browse(self.connection_id).write(
                {
                    "cdr_cursor": False,
                    "rows_imported": 0,
                    "last_success_at": False,
                    "last_error": False,
                    "last_error_at": False,
                }
            )
        self.mariadb.clear()
        self.proxy.accepted = 0
        writer = CdrWriter("Europe/Moscow")
        start = datetime(2026, 11, 5, 9, 0, 0)
        self.linkedids = []
        for n in range(10):
            rows = writer.ring_group(
                start + timedelta(minutes=n), "8916123%04d" % n, answered_by="101"
            )
            self.mariadb.insert(rows)
            self.linkedids.append(rows[0]["linkedid"])

    def cron(self):
        return (lambda env: env["pbx.connection"]._cron_sync_cdr(), SUPERUSER_ID)

    def sync_now(self):
        def job(env):
            return env["pbx.connection"].browse(self.connection_id).action_sync_cdr()

        return (job, self.admin_id)

    def opening(self, env):
        env["pbx.connection"].browse(self.connection_id).read(["cdr_cursor"])

    def assert_imported_once(self):
        """One run read MariaDB; every call is there once, counted once."""
        self.assertEqual(self.proxy.accepted, 1, "one run connected to MariaDB")
        with self.committed() as env:
            connection = env["pbx.connection"].browse(self.connection_id)
            calls = env["pbx.call"].search([("connection_id", "=", connection.id)])
            self.assertEqual(
                sorted(calls.mapped("external_id")), sorted(self.linkedids)
            )
            self.assertEqual(connection.rows_imported, 50)
            self.assertFalse(connection.last_error)
            self.assertTrue(connection.last_success_at)

    def assert_gave_way(self, action):
        self.assertEqual(action["params"]["type"], "warning")
        self.assertIn(
            "is being synced or changed right now", action["params"]["message"]
        )

    def test_the_scheduled_action_and_sync_now_at_once(self):
        (cron, action), waited = self.at_once(
            self.cron(), self.sync_now(), self.proxy.hold, self.proxy.release
        )
        self.assertIsNotNone(waited, "one run gave way without waiting")
        if waited == 1:
            self.assert_gave_way(action)
        else:
            self.assertEqual(action["params"]["type"], "success")
        self.assert_imported_once()

    def test_two_scheduled_runs_at_once(self):
        _results, waited = self.at_once(
            self.cron(), self.cron(), self.proxy.hold, self.proxy.release
        )
        self.assertIsNotNone(waited, "one run gave way without waiting")
        self.assert_imported_once()

    def test_sync_now_begun_before_the_scheduled_run_committed(self):
        _cron, action = self.one_after_the_other(
            self.cron(), self.sync_now(), self.opening
        )
        self.assert_gave_way(action)
        self.assert_imported_once()

    def test_scheduled_run_begun_before_sync_now_committed(self):
        action, _cron = self.one_after_the_other(
            self.sync_now(), self.cron(), self.opening
        )
        self.assertEqual(action["params"]["type"], "success")
        self.assert_imported_once()


# ----------------------------------------------------------------------------
# Calltouch
# ----------------------------------------------------------------------------

CALLTOUCH_FIELDS = (
    "calltouch_enabled",
    "calltouch_call_url",
    "calltouch_request_url",
    "calltouch_site_id",
    "calltouch_token",
    "calltouch_time_lag",
    "calltouch_timezone",
    "calltouch_synced_until",
    "calltouch_last_success_at",
    "calltouch_last_result",
    "calltouch_last_error",
    "calltouch_last_error_at",
    "calltouch_paused",
    "calltouch_retry_at",
)


@tagged("post_install", "-at_install")
class TestCalltouchSyncOnTwoNodes(TwoNodesCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = CalltouchServer(site_id="67120", token="ct-nodes-token").start()
        cls.addClassCleanup(cls.server.stop)
        with cls.committed() as env:
            company = env.ref("base.main_company")
            cls.company_id = company.id
            saved = company.read(list(CALLTOUCH_FIELDS))[0]
            cls.saved = {name: saved[name] for name in CALLTOUCH_FIELDS}
            cls.first = {
                model: env[model].search([], order="id desc", limit=1).id or 0
                for model in ("pbx.touch", "crm.lead")
            }
            company.write(
                {
                    "calltouch_enabled": True,
                    "calltouch_call_url": cls.server.call_url,
                    "calltouch_request_url": cls.server.request_url,
                    "calltouch_site_id": "67120",
                    "calltouch_token": "ct-nodes-token",
                    "calltouch_time_lag": 5,
                    "calltouch_timezone": "Europe/Moscow",
                }
            )
            cls.settings_id = (
                env["res.config.settings"].with_user(cls.admin_id).create({}).id
            )
        cls.addClassCleanup(cls.restore)

    @classmethod
    def remove_imported(cls, env):
        for model, last in cls.first.items():
            env[model].search([("id", ">", last)]).unlink()

    @classmethod
    def restore(cls):
        with cls.committed() as env:
            cls.remove_imported(env)
            env["res.config.settings"].browse(cls.settings_id).unlink()
            env["res.company"].browse(cls.company_id).write(cls.saved)

    def setUp(self):
        super().setUp()
        now = fields.Datetime.now()
        with self.committed() as env:
            self.remove_imported(env)
            env["res.company"].browse(self.company_id).write(
                {
                    "calltouch_synced_until": now - timedelta(hours=1),
                    "calltouch_last_error": False,
                    "calltouch_paused": False,
                    "calltouch_retry_at": False,
                }
            )
        self.server.reset()
        when = now - timedelta(minutes=30)
        for n in range(3):
            self.server.add_call(
                make_call(
                    880001 + n,
                    when,
                    "7916555000%d" % n,
                    callTags=[],
                    utmSource=None,
                    utmMedium=None,
                    utmCampaign=None,
                    utmTerm=None,
                    source=None,
                    medium=None,
                    keyword=None,
                )
            )
        self.server.add_request(
            make_request(
                880101, when, "79165550009", "Мария", session={}, RequestTags=[]
            )
        )

    def cron(self):
        return (lambda env: env["res.company"]._cron_calltouch_sync(), SUPERUSER_ID)

    def sync_now(self):
        def job(env):
            settings = env["res.config.settings"].browse(self.settings_id)
            return settings.action_calltouch_sync()

        return (job, self.admin_id)

    def opening(self, env):
        env["res.config.settings"].browse(self.settings_id).read(["calltouch_enabled"])

    def assert_imported_once(self):
        asked = [entry["endpoint"] for entry in self.server.log]
        self.assertEqual(asked.count("calls"), 1, "one run asked Calltouch")
        with self.committed() as env:
            company = env["res.company"].browse(self.company_id)
            touches = env["pbx.touch"].search([("id", ">", self.first["pbx.touch"])])
            self.assertEqual(
                sorted(touches.mapped(lambda t: t.calltouch_call_id or "")),
                ["", "880001", "880002", "880003"],
            )
            self.assertEqual(
                sorted(touches.mapped(lambda t: t.calltouch_request_id or "")),
                ["", "", "", "880101"],
            )
            leads = env["crm.lead"].search([("id", ">", self.first["crm.lead"])])
            self.assertEqual(len(leads), 1)
            self.assertFalse(company.calltouch_last_error)
            self.assertIn("3 calls (3 new", company.calltouch_last_result)

    def assert_gave_way(self, action):
        self.assertEqual(action["params"]["title"], "Calltouch sync is busy")

    def test_the_scheduled_action_and_sync_now_at_once(self):
        (_cron, action), waited = self.at_once(
            self.cron(), self.sync_now(), self.server.hold, self.server.release
        )
        self.assertIsNotNone(waited, "one run gave way without waiting")
        if waited == 1:
            self.assert_gave_way(action)
        self.assert_imported_once()

    def test_two_scheduled_runs_at_once(self):
        _results, waited = self.at_once(
            self.cron(), self.cron(), self.server.hold, self.server.release
        )
        self.assertIsNotNone(waited, "one run gave way without waiting")
        self.assert_imported_once()

    def test_sync_now_begun_before_the_scheduled_run_committed(self):
        _cron, action = self.one_after_the_other(
            self.cron(), self.sync_now(), self.opening
        )
        self.assert_gave_way(action)
        self.assert_imported_once()

    def test_scheduled_run_begun_before_sync_now_committed(self):
        action, _cron = self.one_after_the_other(
            self.sync_now(), self.cron(), self.opening
        )
        self.assertEqual(action["params"]["title"], "Calltouch synchronised")
        self.assert_imported_once()


# ----------------------------------------------------------------------------
# Callmarker
# ----------------------------------------------------------------------------

CALLMARKER_FIELDS = (
    "callmarker_enabled",
    "callmarker_call_data_url",
    "callmarker_request_data_url",
    "callmarker_integration_id",
    "callmarker_token",
    "callmarker_time_lag",
    "callmarker_pulled_until",
    "callmarker_last_success_at",
    "callmarker_last_error",
    "callmarker_last_error_at",
    "callmarker_paused",
    "callmarker_skipped",
)


@tagged("post_install", "-at_install")
class TestCallmarkerSyncOnTwoNodes(TwoNodesCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mock = CallmarkerServer(token="cm-nodes-token").start()
        cls.addClassCleanup(cls.mock.stop)
        with cls.committed() as env:
            company = env.ref("base.main_company")
            cls.company_id = company.id
            saved = company.read(list(CALLMARKER_FIELDS))[0]
            cls.saved = {name: saved[name] for name in CALLMARKER_FIELDS}
            cls.first = {
                model: env[model].search([], order="id desc", limit=1).id or 0
                for model in ("pbx.call.tag", "pbx.call.tag.category")
            }
            company.write(
                {
                    "callmarker_enabled": True,
                    "callmarker_call_data_url": cls.mock.results_url,
                    "callmarker_request_data_url": cls.mock.push_url,
                    "callmarker_integration_id": cls.mock.integration_id,
                    "callmarker_token": cls.mock.token,
                    "callmarker_time_lag": 5,
                }
            )
            cls.connection_id = (
                env["pbx.connection"]
                .create(
                    {
                        "name": "PBX of two nodes",
                        "kind": "event_api",
                        "company_id": company.id,
                        "country_id": env.ref("base.ru").id,
                    }
                )
                .id
            )
            cls.settings_id = (
                env["res.config.settings"].with_user(cls.admin_id).create({}).id
            )
        cls.addClassCleanup(cls.restore)

    @classmethod
    def remove_calls(cls, env):
        for model in ("pbx.call", "pbx.event.receipt"):
            env[model].search([("connection_id", "=", cls.connection_id)]).unlink()
        for model, last in cls.first.items():
            env[model].search([("id", ">", last)]).unlink()

    @classmethod
    def restore(cls):
        with cls.committed() as env:
            cls.remove_calls(env)
            env["pbx.connection"].browse(cls.connection_id).unlink()
            env["res.config.settings"].browse(cls.settings_id).unlink()
            env["res.company"].browse(cls.company_id).write(cls.saved)

    def setUp(self):
        super().setUp()
        now = fields.Datetime.now()
        with self.committed() as env:
            self.remove_calls(env)
            env["res.company"].browse(self.company_id).write(
                {
                    "callmarker_pulled_until": now - timedelta(hours=1),
                    "callmarker_last_error": False,
                    "callmarker_paused": False,
                }
            )
            connection = env["pbx.connection"].browse(self.connection_id)
            start = (now - timedelta(hours=2)).replace(tzinfo=timezone.utc)
            events = [
                validate_event(
                    0,
                    cdr_event(
                        "nodes-%d" % n, (start + timedelta(minutes=n)).isoformat()
                    ),
                )
                for n in range(3)
            ]
            calls = env["pbx.call"]._ingest_events(connection, events)[2]
            self.call_ids = calls.ids
        self.mock.calls.clear()
        self.mock.push_log.clear()
        self.mock.arrived.clear()
        self.mock.hits = {"push": 0, "results": 0}
        analyzed = (now - timedelta(minutes=10)).isoformat() + "Z"
        self.mock.results = [
            {
                "call_id": str(call_id),
                "analyzed_at": analyzed,
                "tags": [{"category": "Nodes intent", "name": "Booking"}],
                "score": {"value": 9, "max": 10},
                "checklist": [
                    {"criterion": "Greeted", "passed": True},
                    {"criterion": "Offered a slot", "passed": False},
                ],
            }
            for call_id in self.call_ids
        ]

    def cron(self):
        return (lambda env: env["res.company"]._cron_callmarker_sync(), SUPERUSER_ID)

    def sync_now(self):
        def job(env):
            settings = env["res.config.settings"].browse(self.settings_id)
            return settings.action_callmarker_sync_now()

        return (job, self.admin_id)

    def opening(self, env):
        env["res.config.settings"].browse(self.settings_id).read(["callmarker_enabled"])

    def assert_done_once(self):
        self.assertEqual(self.mock.hits, {"push": 3, "results": 1}, "one run")
        self.assertEqual(len(self.mock.push_log), 3, "every call pushed once")
        with self.committed() as env:
            company = env["res.company"].browse(self.company_id)
            calls = env["pbx.call"].browse(self.call_ids)
            self.assertEqual(set(calls.mapped("callmarker_push_ids.state")), {"sent"})
            self.assertEqual(set(calls.mapped("quality_score")), {90.0})
            for call in calls:
                self.assertEqual(len(call.quality_checklist_ids), 2)
                self.assertEqual(call.tag_ids.mapped("name"), ["Booking"])
            self.assertEqual(
                env["pbx.call.tag.category"].search_count(
                    [("name", "=", "Nodes intent")]
                ),
                1,
            )
            self.assertFalse(company.callmarker_last_error)
            self.assertTrue(company.callmarker_last_success_at)

    def assert_gave_way(self, action):
        self.assertEqual(action["params"]["type"], "warning")
        self.assertIn("Another Callmarker sync", action["params"]["message"])

    def test_the_scheduled_action_and_sync_now_at_once(self):
        (_cron, action), waited = self.at_once(
            self.cron(), self.sync_now(), self.mock.hold, self.mock.release
        )
        self.assertIsNotNone(waited, "one run gave way without waiting")
        if waited == 1:
            self.assert_gave_way(action)
        self.assert_done_once()

    def test_two_scheduled_runs_at_once(self):
        _results, waited = self.at_once(
            self.cron(), self.cron(), self.mock.hold, self.mock.release
        )
        self.assertIsNotNone(waited, "one run gave way without waiting")
        self.assert_done_once()

    def test_sync_now_begun_before_the_scheduled_run_committed(self):
        _cron, action = self.one_after_the_other(
            self.cron(), self.sync_now(), self.opening
        )
        self.assert_gave_way(action)
        self.assert_done_once()

    def test_scheduled_run_begun_before_sync_now_committed(self):
        action, _cron = self.one_after_the_other(
            self.sync_now(), self.cron(), self.opening
        )
        self.assertEqual(action["params"]["type"], "success")
        self.assert_done_once()


# ----------------------------------------------------------------------------
# Records a sync names (tags, UTM records): found or created once
# ----------------------------------------------------------------------------


@tagged("post_install", "-at_install")
class TestFindOrCreateOnTwoNodes(TwoNodesCase):
    """Two nodes name the same new tag at once; each request runs as Odoo
    runs one (``retrying``: again after a serialization failure)."""

    def setUp(self):
        super().setUp()
        self.name = "Nodes %s" % secrets.token_hex(4)
        self.addCleanup(self.remove_named)

    def remove_named(self):
        with self.committed() as env:
            for model in ("pbx.call.tag", "pbx.call.tag.category"):
                env[model].search([("name", "=", self.name)]).unlink()
            for model in ("pbx.touch.tag", "crm.tag", "utm.source"):
                env[model].with_context(active_test=False).search(
                    [("name", "=", self.name)]
                ).unlink()

    @staticmethod
    def request(job):
        return (lambda env: retrying(lambda: job(env), env), SUPERUSER_ID)

    @staticmethod
    def opening(env):
        env.cr.execute("SELECT 1")  # the transaction's snapshot is taken here

    def assert_one(self, model, results):
        first, second = results
        self.assertTrue(first, "the first node got its record")
        self.assertEqual(first, second, "both nodes got the same record")
        with self.committed() as env:
            self.assertEqual(
                env[model]
                .with_context(active_test=False)
                .search_count([("name", "=", self.name)]),
                1,
            )

    def both_ways(self, model, job):
        """At the same moment, and with the second node's transaction begun
        before the first committed."""
        results, _waited = self.at_once(
            self.request(job), self.request(job), lambda: None, lambda: None
        )
        self.assert_one(model, results)
        self.remove_named()
        results = self.one_after_the_other(
            self.request(job), self.request(job), self.opening
        )
        self.assert_one(model, results)

    def test_callmarker_tag_and_category(self):
        def job(env):
            tags = env["pbx.call.tag"]._callmarker_ensure([(self.name, self.name)])
            return [tag.id for tag in tags.values()]

        self.both_ways("pbx.call.tag", job)
        self.assert_one("pbx.call.tag.category", [1, 1])

    def test_touch_tag(self):
        self.both_ways(
            "pbx.touch.tag",
            lambda env: env["pbx.touch.tag"]._ids_by_name([self.name])[self.name],
        )

    def test_calltouch_crm_tag(self):
        self.both_ways(
            "crm.tag",
            lambda env: env["crm.lead"]._calltouch_tag_ids([self.name])[self.name],
        )

    def test_calltouch_utm_source(self):
        self.both_ways(
            "utm.source",
            lambda env: env["pbx.touch"]._utm_ids([{"source": self.name}])[
                "source", self.name
            ],
        )


# ----------------------------------------------------------------------------
# Call back activities
# ----------------------------------------------------------------------------


@tagged("post_install", "-at_install")
class TestCallbackOnTwoNodes(TwoNodesCase):
    """Two missed calls from one number on two nodes: the second node's
    transaction began before the first one committed its Call back activity,
    and did not have to wait for it."""

    def test_the_second_missed_call_joins_the_first_ones_activity(self):
        number = "+7 916 %03d-%02d-%02d" % (
            secrets.randbelow(1000),
            secrets.randbelow(100),
            secrets.randbelow(100),
        )
        with committed_pbx(["9302"]) as ids:

            def missed(call_id):
                def job(env):
                    connection = env["pbx.connection"].browse(ids["connection_id"])
                    raw = cdr_event(
                        call_id,
                        "2026-11-05T11:00:00+03:00",
                        extension="9302",
                        disposition="no_answer",
                        talk_seconds=0,
                        **{"from": number},
                    )
                    calls = env["pbx.call"]._ingest_events(
                        connection, [validate_event(0, raw)]
                    )[2]
                    return calls.callback_activity_id.id

                return (lambda env: retrying(lambda: job(env), env), SUPERUSER_ID)

            first, second = self.one_after_the_other(
                missed("two-nodes-1"),
                missed("two-nodes-2"),
                lambda env: env.cr.execute("SELECT 1"),
            )
            self.assertTrue(first)
            self.assertEqual(second, first, "one activity for the number")
            with self.committed() as env:
                activity = env["mail.activity"].browse(first)
                self.assertIn("Missed 2×", str(activity.note))
