import json
import random
from collections import Counter
from datetime import datetime, timedelta
from unittest.mock import patch

import pytz
from lxml import etree

from odoo.models import BaseModel
from odoo.modules.migration import load_script
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection

TZ = "Europe/Moscow"
MISSED = {"disposition": "no_answer", "talk_seconds": 0}


@tagged("post_install", "-at_install")
class TestCallsReport(TransactionCase):
    maxDiff = None

    """The Calls Report's numbers on a fixed set of nine calls.

    Times are Moscow time (UTC+3); c6 at 00:30 on 6 November is still
    5 November in UTC, so it moves between days with the reader's timezone.
    c3 (missed) is called back by c7; c8 (missed) never is.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        connection, _token = make_connection(cls.env)
        cls.anna = new_test_user(
            cls.env, "report_anna", groups="clinic_pbx.clinic_pbx_group_user",
            name="Report Anna", tz=TZ,
        )  # fmt: skip
        cls.anna.pbx_extension = "101"
        cls.olga = new_test_user(
            cls.env, "report_olga", groups="clinic_pbx.clinic_pbx_group_user",
            name="Report Olga", tz=TZ,
        )  # fmt: skip
        cls.olga.pbx_extension = "102"
        cls.manager = new_test_user(
            cls.env, "report_manager", groups="clinic_pbx.clinic_pbx_group_manager",
            tz=TZ,
        )  # fmt: skip
        a, b, c = "+7 916 111-11-11", "+7 916 222-22-22", "+7 916 333-33-33"
        raw = [
            cdr_event("c1", "2026-11-05T09:00:00+03:00", extension="101",
                      talk_seconds=60, wait_seconds=5, **{"from": a}),
            cdr_event("c2", "2026-11-05T09:30:00+03:00", extension="101",
                      talk_seconds=120, wait_seconds=30, **{"from": a}),
            cdr_event("c3", "2026-11-05T10:15:00+03:00", extension="102",
                      wait_seconds=15, **MISSED, **{"from": b}),
            cdr_event("c4", "2026-11-05T11:00:00+03:00", direction="outgoing",
                      extension="102", talk_seconds=90, wait_seconds=10,
                      **{"from": "102", "to": a}),
            cdr_event("c5", "2026-11-05T23:30:00+03:00", direction="internal",
                      extension="101", talk_seconds=30, wait_seconds=2,
                      **{"from": "101", "to": "102"}),
            cdr_event("c6", "2026-11-06T00:30:00+03:00", extension="101",
                      talk_seconds=240, wait_seconds=8, **{"from": a}),
            cdr_event("c7", "2026-11-05T12:15:00+03:00", direction="outgoing",
                      extension="101", talk_seconds=45, wait_seconds=12,
                      **{"from": "101", "to": b}),
            cdr_event("c8", "2026-11-06T14:00:00+03:00", extension="102",
                      wait_seconds=25, **MISSED, **{"from": c}),
            cdr_event("c9", "2026-12-01T10:00:00+03:00", extension="102",
                      talk_seconds=100, wait_seconds=4, **{"from": a}),
        ]  # fmt: skip
        Call = cls.env["pbx.call"]
        Call._ingest_events(
            connection, [validate_event(i, e) for i, e in enumerate(raw)]
        )
        found = Call.search([("connection_id", "=", connection.id)])
        cls.calls = {call.external_id: call for call in found}
        cls.Report = Call.with_user(cls.manager).with_context(tz=TZ)

    def group(
        self, groupby, measures=("__count", "talk_seconds:avg"), domain=(), tz=TZ
    ):
        """{group key tuple: {measure: value}} as the pivot reads it."""
        rows = self.Report.with_context(tz=tz).read_group(
            list(domain), list(measures), list(groupby), lazy=False
        )
        result = {}
        for row in rows:
            key = []
            for spec in groupby:
                value = row[spec]
                key.append(value[1] if isinstance(value, tuple) else value)
            result[tuple(key)] = {
                m: row[m if m == "__count" else m.split(":")[0]] for m in measures
            }
        return result

    def assertGroups(self, groups, expected):
        """Compare {key: (count, average call duration)}."""
        self.assertEqual(
            {k: (r["__count"], r["talk_seconds:avg"]) for k, r in groups.items()},
            expected,
        )

    # -- the four groupings ---------------------------------------------------

    def test_by_the_days_per_type_and_total(self):
        by_type = self.group(["start:day", "direction"])
        self.assertGroups(by_type, {
            ("05 Nov 2026", "incoming"): (3, 90.0),
            ("05 Nov 2026", "outgoing"): (2, 67.5),
            ("05 Nov 2026", "internal"): (1, 30.0),
            ("06 Nov 2026", "incoming"): (2, 240.0),
            ("01 Dec 2026", "incoming"): (1, 100.0),
        })  # fmt: skip
        # The columns read Outgoing, Incoming, Internal.
        types = self.Report.read_group([], ["__count"], ["direction"], lazy=False)
        self.assertEqual(
            [row["direction"] for row in types], ["outgoing", "incoming", "internal"]
        )
        # The Total column: every answered call's talk time counts once.
        self.assertGroups(self.group(["start:day"]), {
            ("05 Nov 2026",): (6, 69.0),
            ("06 Nov 2026",): (2, 240.0),
            ("01 Dec 2026",): (1, 100.0),
        })  # fmt: skip

    def test_day_boundary_follows_the_readers_timezone(self):
        moscow = self.group(["start:day"], measures=("__count",))
        utc = self.group(["start:day"], measures=("__count",), tz="UTC")
        self.assertEqual(moscow[("06 Nov 2026",)]["__count"], 2)
        # At 21:30 UTC, c6 belongs to 5 November for a reader in UTC.
        self.assertEqual(utc[("05 Nov 2026",)]["__count"], 7)
        self.assertEqual(utc[("06 Nov 2026",)]["__count"], 1)

    def test_days_and_hours_across_daylight_saving_changes(self):
        rnd = random.Random(7)
        connection = self.calls["c1"].connection_id
        base = datetime(2026, 1, 1)
        moments = [
            base + timedelta(seconds=rnd.randrange(365 * 86400)) for _ in range(300)
        ]
        # Calls on both sides of the changes of 29 March and 25 October 2026.
        moments += [datetime(2026, 3, 29, 0, 59), datetime(2026, 3, 29, 1, 0)]
        moments += [datetime(2026, 10, 25, 0, 59), datetime(2026, 10, 25, 1, 0)]
        raw = [
            cdr_event(f"dst{n}", moment.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
            for n, moment in enumerate(moments)
        ]
        self.env["pbx.call"]._ingest_events(
            connection, [validate_event(i, e) for i, e in enumerate(raw)]
        )
        domain = [("external_id", "=like", "dst%")]
        for name in ("Europe/Berlin", "America/New_York", "Asia/Kathmandu",
                     "Australia/Adelaide", "Europe/Moscow", "UTC"):  # fmt: skip
            tz = pytz.timezone(name)
            local = [pytz.utc.localize(m).astimezone(tz) for m in moments]
            with self.subTest(tz=name):
                days = self.Report.with_context(tz=name).read_group(
                    domain, ["__count"], ["start:day"], lazy=False
                )
                self.assertEqual(
                    {row["start:day"]: row["__count"] for row in days},
                    dict(Counter(m.strftime("%d %b %Y") for m in local)),
                )  # fmt: skip
                hours = self.group(["start_hour"], ("__count",), domain, tz=name)
                self.assertEqual(
                    {key[0]: row["__count"] for key, row in hours.items()},
                    dict(Counter(f"{m.hour:02d}" for m in local)),
                )
                months = self.Report.with_context(tz=name).read_group(
                    domain, ["__count"], ["start:month"], lazy=False
                )
                self.assertEqual(
                    [row["__count"] for row in months],
                    [
                        n
                        for _m, n in sorted(
                            Counter((m.year, m.month) for m in local).items()
                        )
                    ],
                )

    def test_by_the_hours_in_the_readers_timezone(self):
        hours = self.group(["start_hour"], measures=("__count",))
        self.assertEqual(
            {key[0]: row["__count"] for key, row in hours.items()},
            {"00": 1, "09": 2, "10": 2, "11": 1, "12": 1, "14": 1, "23": 1},
        )
        utc = self.group(["start_hour"], measures=("__count",), tz="UTC")
        self.assertEqual(utc[("06",)]["__count"], 2)
        self.assertEqual(utc[("21",)]["__count"], 1)
        # The groups come in hour order, midnight first.
        rows = self.Report.read_group([], ["__count"], ["start_hour"], lazy=False)
        self.assertEqual([r["start_hour"] for r in rows][:2], ["00", "09"])
        # Drilling down into a cell finds the same calls.
        nine = self.Report.search([("start_hour", "=", "09")])
        self.assertEqual(sorted(nine.mapped("external_id")), ["c1", "c2"])
        self.assertEqual(self.calls["c6"].with_context(tz=TZ).start_hour, "00")

    def test_by_the_employees_and_days_keeps_calls_without_admin(self):
        groups = self.group(["user_id", "start:day"], measures=("__count",))
        self.assertEqual(
            {key: row["__count"] for key, row in groups.items()},
            {
                ("Report Anna", "05 Nov 2026"): 4,
                ("Report Anna", "06 Nov 2026"): 1,
                ("Report Olga", "05 Nov 2026"): 1,
                ("Report Olga", "01 Dec 2026"): 1,
                (False, "05 Nov 2026"): 1,
                (False, "06 Nov 2026"): 1,
            },
        )

    def test_each_group_drills_down_to_its_calls(self):
        for groupby in (["user_id", "start:day", "direction"], ["start_hour"],
                        ["user_id", "start:month"]):  # fmt: skip
            rows = self.Report.read_group([], ["__count"], groupby, lazy=False)
            self.assertEqual(sum(row["__count"] for row in rows), 9)
            for row in rows:
                with self.subTest(groupby=groupby, row=row["__domain"]):
                    self.assertEqual(
                        self.Report.search_count(row["__domain"]), row["__count"]
                    )

    def test_without_a_timezone_in_context_days_and_drill_down_are_utc(self):
        # As Odoo's read_group: the context's timezone or UTC, never the
        # user's preference, which its ranges and domains would not follow.
        Report = self.Report.with_context(tz=False)
        self.assertEqual(self.manager.tz, TZ)
        rows = Report.read_group([], ["__count"], ["start:day"], lazy=False)
        by_day = {row["start:day"]: row for row in rows}
        self.assertEqual(by_day["05 Nov 2026"]["__count"], 7)  # c5, c6 too in UTC
        for row in rows:
            self.assertEqual(Report.search_count(row["__domain"]), row["__count"])

    def test_one_scan_gives_what_each_grouping_gives(self):
        self.assert_one_scan_gives_what_each_grouping_gives(batch=True)

    def test_with_the_switch_off_each_grouping_is_read_as_odoo_reads_it(self):
        """clinic_pbx.report_batch off: the same results, by Odoo's own path
        (one scan per grouping, labels formatted by Odoo row by row)."""
        self.env["ir.config_parameter"].sudo().set_param(
            "clinic_pbx.report_batch", "False"
        )
        Model = type(self.Report)
        with patch.object(
            Model, "_pbx_format_values", side_effect=AssertionError("batch code")
        ):
            self.assert_one_scan_gives_what_each_grouping_gives(batch=False)

    def assert_one_scan_gives_what_each_grouping_gives(self, batch):
        fields = [
            "__count", "talk_seconds:avg", "wait_seconds:avg", "answered_pct:avg",
            "service_level_pct:avg", "missed_open_count:sum", "callback_delay:avg",
            "total_seconds:avg", "wait_seconds:max", "talk_seconds:min",
        ]  # fmt: skip

        def rounded(results):
            """As the browser receives them: JSON, where false is not 0."""
            return json.dumps([
                [{k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}
                 for row in result]
                for result in results
            ], sort_keys=True, indent=1)  # fmt: skip

        def assert_batch_as_single(domain, groupbys, measures=None):
            """The batch gives what one read_group per grouping gives."""
            measures = measures or fields
            single = [
                self.Report.read_group(domain, measures, g, lazy=False)
                for g in groupbys
            ]
            self.assertEqual(
                rounded(self.Report.read_group_batch(domain, measures, groupbys)),
                rounded(single),
            )
            return single

        layouts = [
            (["start:day"], ["direction"]),
            (["start_hour"], ["direction"]),
            (["user_id", "start:day"], ["direction"]),
            (["user_id", "start:month"], ["direction"]),
            (["direction", "user_id"], []),
        ]
        for rows, cols in layouts:
            groupbys = [
                rows[:i] + cols[:j]
                for i in range(len(rows) + 1)
                for j in range(len(cols) + 1)
            ]
            with self.subTest(rows=rows, cols=cols):
                assert_batch_as_single([], groupbys)
        # Sums only add up in a shorter way; a sum of nothing stays empty.
        sums = ["__count", "talk_seconds:sum", "quality_score:sum"]
        days = [[], ["start:day"], ["start:day", "direction"]]
        assert_batch_as_single([], days, sums)
        # A filter applies to the batch as to each grouping.
        domain = [("direction", "=", "incoming")]
        groupbys = [[], ["user_id"], ["user_id", "start:day"]]
        assert_batch_as_single(domain, groupbys)
        # Nothing found: the total still says 0, as read_group does.
        nothing = [("id", "=", 0)]
        single = assert_batch_as_single(
            nothing, [[], ["start:day"], ["start:day", "direction"]]
        )
        self.assertEqual(single[0][0]["__count"], 0)
        # ... and reads the calls once.
        original = BaseModel._read_group
        scans = []

        def counting(model, *args, **kwargs):
            if model._name == "pbx.call":
                scans.append(args)
            return original(model, *args, **kwargs)

        with patch.object(BaseModel, "_read_group", counting):
            self.Report.read_group_batch(domain, fields, groupbys)
        self.assertEqual(len(scans), 1 if batch else len(groupbys))

    def test_groups_are_labelled_as_odoo_labels_them(self):
        # The report formats each group value once; Odoo formats each row.
        Model = type(self.Report)
        for groupby in (["user_id", "start:day", "direction"], ["start_hour"],
                        ["start:month", "user_id"], ["start:week"]):  # fmt: skip
            for domain in ([], [("direction", "=", "incoming")], [("id", "=", 0)]):
                with self.subTest(groupby=groupby, domain=domain):
                    ours = self.Report.read_group(
                        domain, ["__count"], groupby, lazy=False
                    )
                    with patch.object(
                        Model,
                        "_read_group_format_result",
                        BaseModel._read_group_format_result,
                    ):
                        odoo = self.Report.read_group(
                            domain, ["__count"], groupby, lazy=False
                        )
                    self.assertEqual(ours, odoo)

    def sql_row(self, query):
        self.env.cr.execute(query)
        return self.env.cr.fetchone()

    def test_report_queries_leave_the_database_settings_alone(self):
        cr = self.env.cr

        def settings():
            return self.sql_row(
                "SELECT current_setting('work_mem'), current_setting('jit'), "
                "current_setting('parallel_tuple_cost')"
            )

        before = settings()
        seen = []
        original = type(cr).execute

        def watching(cursor, query, params=None, log_exceptions=True):
            if 'FROM "pbx_call"' in str(query) and "GROUP BY" in str(query):
                seen.append(settings())
            return original(cursor, query, params, log_exceptions)

        with patch.object(type(cr), "execute", watching):
            self.group(["start:day", "direction"])
        # The grouping itself ran with room to hash its groups in memory...
        self.assertEqual(seen, [("64MB", "off", "0")])
        # ... and the settings are what they were for the rest of the work.
        self.assertEqual(settings(), before)
        self.assertNotEqual(before[0], "64MB")

    def test_new_calls_are_written_once(self):
        # A call written twice leaves a dead row version and index entries
        # behind: a year of them doubles what the report has to read.

        def written():
            return self.sql_row(
                "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables "
                "WHERE relname = 'pbx_call'"
            )

        connection, _token = make_connection(self.env)
        raw = [
            cdr_event(f"once-{n}", f"2026-11-07T10:{n * 10:02d}:40+03:00",
                      talk_seconds=60 + n, wait_seconds=7)
            for n in range(5)
        ]  # fmt: skip
        raw[0]["recording_url"] = "https://pbx.example.com/rec/once-0.wav"
        inserted, updated = written()
        Call = self.env["pbx.call"]
        Call._ingest_events(
            connection, [validate_event(i, e) for i, e in enumerate(raw)]
        )
        self.env.flush_all()
        self.assertEqual(written(), (inserted + 5, updated))
        calls = Call.search(
            [("connection_id", "=", connection.id)], order="external_id"
        )
        self.assertEqual(calls.mapped("total_seconds"), [67, 68, 69, 70, 71])
        self.assertEqual(calls.mapped("has_recording"), [True] + [False] * 4)
        self.assertEqual(
            calls.mapped("start_slot"),
            [datetime(2026, 11, 7, 7, minute) for minute in (0, 0, 15, 30, 30)],
        )

    def test_an_update_fills_the_quarter_hours_of_existing_calls(self):
        migration = load_script(
            "clinic_pbx/migrations/18.0.1.1.0/pre-migration.py",
            "clinic_pbx_start_slot_migration",
        )
        connection, _token = make_connection(self.env)
        raw = [
            cdr_event(f"odd-{n}", moment)
            for n, moment in enumerate(("2026-11-07T10:07:59+03:00",
                                        "2026-11-07T10:14:59+03:00",
                                        "2026-11-07T10:59:01+05:45"))
        ]  # fmt: skip
        self.env["pbx.call"]._ingest_events(
            connection, [validate_event(i, e) for i, e in enumerate(raw)]
        )
        calls = self.Report.sudo().search([])
        expected = {call.id: call.start_slot for call in calls}
        self.assertIn(datetime(2026, 11, 7, 5, 0), expected.values())  # 10:59 +05:45
        self.assertTrue(all(expected.values()))
        self.env.flush_all()
        self.env.cr.execute("UPDATE pbx_call SET start_slot = NULL")
        self.env.invalidate_all()
        migration.migrate(self.env.cr, "18.0.1.0.0")
        self.assertEqual({call.id: call.start_slot for call in calls}, expected)

    def test_by_the_employees_and_months(self):
        groups = self.group(["user_id", "start:month", "direction"])
        ANNA, OLGA, NOV = "Report Anna", "Report Olga", "November 2026"
        self.assertGroups(groups, {
            (ANNA, NOV, "incoming"): (3, 140.0),
            (ANNA, NOV, "outgoing"): (1, 45.0),
            (ANNA, NOV, "internal"): (1, 30.0),
            (OLGA, NOV, "outgoing"): (1, 90.0),
            (OLGA, "December 2026", "incoming"): (1, 100.0),
            (False, NOV, "incoming"): (2, False),
        })  # fmt: skip

    # -- measures beyond the product ------------------------------------------

    def test_service_measures(self):
        measures = (
            "__count", "answered_pct:avg", "service_level_pct:avg",
            "missed_open_count:sum", "wait_seconds:avg", "callback_delay:avg",
        )  # fmt: skip
        (total,) = self.group([], measures=measures).values()
        self.assertEqual(total["__count"], 9)
        self.assertAlmostEqual(total["answered_pct:avg"], 700 / 9)
        # Incoming only: c1 (5 s), c6 (8 s), c9 (4 s) of six incoming calls.
        self.assertAlmostEqual(total["service_level_pct:avg"], 50.0)
        self.assertEqual(total["missed_open_count:sum"], 1)
        self.assertAlmostEqual(total["wait_seconds:avg"], 111 / 9)
        # Only c3 was called back, two hours later.
        self.assertEqual(self.calls["c3"].callback_delay, 7200)
        self.assertAlmostEqual(total["callback_delay:avg"], 7200)
        by_type = self.group(["direction"], measures=("service_level_pct:avg",))
        self.assertFalse(by_type[("outgoing",)]["service_level_pct:avg"])
        self.assertEqual(self.calls["c8"].missed_open_count, 1)
        self.assertEqual(self.calls["c3"].missed_open_count, 0)
        self.assertEqual(self.calls["c1"].service_level_pct, 100.0)

    def test_measures_are_offered_to_the_pivot(self):
        fields = self.Report.fields_get(
            ["start_hour", "answered_pct", "service_level_pct", "missed_open_count"],
            ["groupable", "aggregator"],
        )
        self.assertTrue(fields["start_hour"]["groupable"])
        self.assertEqual(fields["answered_pct"]["aggregator"], "avg")
        self.assertEqual(fields["service_level_pct"]["aggregator"], "avg")
        self.assertEqual(fields["missed_open_count"]["aggregator"], "sum")

    # -- the search view's filters ----------------------------------------------

    def _search_arch(self):
        action = self.env.ref("clinic_pbx.pbx_call_report_action")
        views = self.Report.get_views([(action.search_view_id.id, "search")])
        return etree.fromstring(views["views"]["search"]["arch"])

    def _found(self, domain):
        return sorted(self.Report.search(domain).mapped("external_id"))

    def filter_domain(self, name):
        node = self._search_arch().xpath(f"//filter[@name='{name}']")[0]
        return safe_eval(node.get("domain"), {"uid": self.manager.id})

    def field_domain(self, label, value):
        node = self._search_arch().xpath(f"//field[@string='{label}']")[0]
        if node.get("filter_domain"):
            return safe_eval(node.get("filter_domain"), {"self": value})
        return [(node.get("name"), node.get("operator") or "=", value)]

    def test_type_missed_called_back_filters(self):
        self.assertEqual(
            self._found(self.filter_domain("filter_outgoing")), ["c4", "c7"]
        )
        self.assertEqual(self._found(self.filter_domain("filter_internal")), ["c5"])
        self.assertEqual(len(self._found(self.filter_domain("filter_incoming"))), 6)
        self.assertEqual(self._found(self.filter_domain("filter_missed")), ["c3", "c8"])
        self.assertEqual(self._found(self.filter_domain("filter_called_back")), ["c3"])
        self.assertEqual(
            self._found(self.filter_domain("filter_not_called_back")), ["c8"]
        )

    def test_admin_filter_takes_several_admins(self):
        anna = self.field_domain("Admin", self.anna.id)
        olga = self.field_domain("Admin", self.olga.id)
        self.assertEqual(self._found(anna), ["c1", "c2", "c5", "c6", "c7"])
        # Two values of one search field are ORed, as the search bar does.
        self.assertEqual(len(self._found(["|", *anna, *olga])), 7)
        self.assertEqual(
            self._found(self.filter_domain("filter_my_calls")), []
        )  # the manager took no calls

    def test_phone_contains_in_any_format(self):
        for typed in ("916 333", "9163333333", "+7 (916) 333-33", "333-33-33"):
            with self.subTest(typed=typed):
                self.assertEqual(
                    self._found(self.field_domain("Number or contact", typed)), ["c8"]
                )

    def test_call_duration_range(self):
        low = self.field_domain("Call Duration from (sec)", 60)
        high = self.field_domain("Call Duration up to (sec)", 120)
        self.assertEqual(self._found(low + high), ["c1", "c2", "c4", "c9"])
        self.assertEqual(
            self._found(high), ["c1", "c2", "c3", "c4", "c5", "c7", "c8", "c9"]
        )
        self.assertEqual(
            self._found(self.field_domain("Call Duration from (sec)", 200)), ["c6"]
        )

    def test_total_duration_range(self):
        low = self.field_domain("Total Duration from (sec)", 100)
        high = self.field_domain("Total Duration up to (sec)", 150)
        self.assertEqual(self._found(low), ["c2", "c4", "c6", "c9"])
        self.assertEqual(self._found(low + high), ["c2", "c4", "c9"])
        self.assertEqual(
            self._found(self.field_domain("Total Duration up to (sec)", 20)), ["c3"]
        )

    def test_period_filter_and_report_together(self):
        # A calendar range (6 November, Moscow time) narrows every grouping.
        period = [
            ("start", ">=", "2026-11-05 21:00:00"),
            ("start", "<", "2026-11-06 21:00:00"),
        ]
        self.assertEqual(self._found(period), ["c6", "c8"])
        groups = self.group(
            ["user_id", "start:day"], measures=("__count",), domain=period
        )
        self.assertEqual(
            {key: row["__count"] for key, row in groups.items()},
            {("Report Anna", "06 Nov 2026"): 1, (False, "06 Nov 2026"): 1},
        )

    def test_users_count_only_their_own_calls(self):
        rows = (
            self.env["pbx.call"].with_user(self.olga).with_context(tz=TZ)
            .read_group([], ["__count"], ["direction"], lazy=False)
        )  # fmt: skip
        counts = {row["direction"]: row["__count"] for row in rows}
        # Olga took c4 and c9; c3 and c8 rang her extension and nobody took them.
        self.assertEqual(counts, {"outgoing": 1, "incoming": 3})
        # A number search finds only the calls she may see.
        found = (
            self.env["pbx.call"]
            .with_user(self.olga)
            .search([("number_search", "ilike", "916 111-11")])
        )
        self.assertEqual(sorted(found.mapped("external_id")), ["c4", "c9"])


@tagged("post_install", "-at_install")
class TestCallsReportSwitch(HttpCase):
    def test_the_browser_is_told_whether_the_table_is_read_in_one_request(self):
        manager = new_test_user(
            self.env,
            login="report_switch_manager",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_manager",
        )
        self.authenticate(manager.login, manager.login)
        info = self.make_jsonrpc_request("/web/session/get_session_info")
        self.assertIs(info["clinic_pbx_report_batch"], True)
        self.env["ir.config_parameter"].sudo().set_param(
            "clinic_pbx.report_batch", "False"
        )
        info = self.make_jsonrpc_request("/web/session/get_session_info")
        self.assertIs(info["clinic_pbx_report_batch"], False)
