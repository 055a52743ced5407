from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..common import run_cron_until_caught_up
from ..fakes.calltouch_server import make_call, make_request
from .common import NOW, TOKEN, CalltouchCase, T


@tagged("post_install", "-at_install")
class TestCalltouchSync(CalltouchCase):
    def test_calls_diary_is_read_page_by_page_with_day_first_dates(self):
        for index in range(2050):
            when = T + timedelta(seconds=5 * index)
            self.server.add_call(make_call(500000 + index, when, f"7916{index:07d}"))
        stats = self.sync()
        self.assertTrue(stats, self.company.calltouch_last_error)
        self.assertEqual(len(self.touches(channel="call")), 2050)
        asked = self.server.requests_to("calls")
        self.assertEqual([entry["params"]["page"] for entry in asked], ["1", "2", "3"])
        for entry in asked:
            self.assertEqual(entry["status"], 200)
            self.assertEqual(entry["params"]["limit"], "1000")
            self.assertEqual(entry["params"]["dateFrom"], "25/01/2026")
            self.assertEqual(entry["params"]["dateTo"], "25/01/2026")
        touch = self.touch_of_call(500042)
        self.assertEqual(touch.phone, "+79160000042")
        self.assertEqual(touch.date, T + timedelta(seconds=5 * 42))
        self.assertEqual(touch.origin, "calltouch")
        self.assertEqual(touch.source_id.name, "yandex")
        self.assertEqual(touch.medium_id.name, "cpc")
        self.assertEqual(touch.campaign_id.name, "implants_msk")
        self.assertEqual(touch.keyword, "имплантация зубов")
        self.assertEqual(
            touch.landing_page, "https://clinic.example/implants?utm_source=yandex"
        )
        self.assertEqual(touch.tag_ids.mapped("name"), ["Первичный пациент"])
        self.assertEqual(touch.tracking_number, "74951234500")
        self.assertTrue(touch.is_target)
        # One utm record per name, however many calls carry it.
        self.assertEqual(
            self.env["utm.source"].search_count([("name", "=ilike", "yandex")]), 1
        )

    def test_bare_array_answer_is_the_whole_day(self):
        self.server.legacy_calls = True
        for index in range(3):
            self.server.add_call(
                make_call(600 + index, T + timedelta(minutes=index), "79161112233")
            )
        self.assertTrue(self.sync(), self.company.calltouch_last_error)
        self.assertEqual(len(self.touches(channel="call")), 3)
        self.assertEqual(len(self.server.requests_to("calls")), 1)

    def test_placeholders_are_not_utm_records(self):
        self.server.add_call(
            make_call(
                701,
                T,
                "79161112233",
                source="(direct)",
                medium="(none)",
                utmSource="<не указано>",
                utmMedium="(not set)",
                utmCampaign="(not set)",
                callTags=[],
            )
        )
        self.assertTrue(self.sync(), self.company.calltouch_last_error)
        touch = self.touch_of_call(701)
        self.assertTrue(touch)
        self.assertFalse(touch.source_id or touch.medium_id or touch.campaign_id)
        for model in ("utm.source", "utm.medium", "utm.campaign"):
            self.assertFalse(
                self.env[model].search(
                    [
                        (
                            "name",
                            "in",
                            ["(direct)", "(none)", "<не указано>", "(not set)"],
                        )
                    ]
                ),
                f"a placeholder became a {model}",
            )

    def test_overlapping_runs_create_nothing_new_and_refresh_changes(self):
        self.server.add_call(make_call(801, T, "79161112233"))
        self.server.add_call(make_call(802, T + timedelta(minutes=30), "79162223344"))
        self.server.add_request(
            make_request(9001, T + timedelta(minutes=10), "79263334455", "Петров")
        )
        self.assertTrue(self.sync())
        self.assertEqual(self.company.calltouch_synced_until, NOW)
        first_ids = self.touches().ids
        self.assertEqual(len(first_ids), 3)
        leads = self.env["crm.lead"].search_count([])
        # Calltouch adds a tag to a call afterwards; the next run overlaps.
        self.server.calls[0][1]["callTags"] = [
            {"category": "Итог", "type": "MANUAL", "names": ["Записан"]}
        ]
        later = NOW + timedelta(minutes=5)
        self.assertTrue(self.sync(now=later))
        self.assertEqual(self.touches().ids, first_ids)
        self.assertEqual(self.env["crm.lead"].search_count([]), leads)
        self.assertEqual(
            sorted(self.touch_of_call(801).tag_ids.mapped("name")),
            ["Записан", "Первичный пациент"],
        )
        self.assertEqual(self.company.calltouch_synced_until, later)
        # The second window started at the cursor minus the Time Lag:
        # 12:00 UTC - 5 min = 14:55 in Moscow.
        second = self.server.requests_to("requests")[-1]["params"]
        self.assertEqual(second["timeFrom"], "14:55:00")
        self.assertEqual(second["timeTo"], "15:05:00")

    def test_a_window_across_midnight_asks_each_local_day(self):
        self.company.calltouch_synced_until = NOW.replace(hour=20, minute=50)
        now = NOW.replace(hour=21, minute=10) + timedelta(days=0)
        # 20:45..21:10 UTC is 23:45..00:10 in Moscow: two local days.
        self.server.add_call(
            make_call(811, NOW.replace(hour=20, minute=58), "79161112233")
        )
        self.server.add_call(
            make_call(812, NOW.replace(hour=21, minute=5), "79162223344")
        )
        self.assertTrue(self.sync(now=now), self.company.calltouch_last_error)
        self.assertEqual(len(self.touches(channel="call")), 2)
        calls = self.server.requests_to("calls")[0]["params"]
        self.assertEqual(
            (calls["dateFrom"], calls["dateTo"]), ("25/01/2026", "26/01/2026")
        )
        days = [
            (e["params"]["dateFrom"], e["params"]["timeFrom"], e["params"]["timeTo"])
            for e in self.server.requests_to("requests")
        ]
        self.assertEqual(
            days,
            [
                ("01/25/2026", "23:45:00", "23:59:59"),
                ("01/26/2026", "00:00:00", "00:10:00"),
            ],
        )

    def test_calltouch_calls_never_create_pbx_calls(self):
        self.pbx_call("pbx-1", T, "+7 916 111-22-33")
        self.server.add_call(make_call(901, T, "79161112233"))
        self.server.add_call(make_call(902, T, "79169998877"))
        before = self.env["pbx.call"].search_count([])
        self.assertTrue(self.sync())
        self.assertEqual(self.env["pbx.call"].search_count([]), before)
        self.assertEqual(len(self.touches()), 2)

    def test_first_sync_reads_the_last_day(self):
        self.company.calltouch_synced_until = False
        self.assertTrue(self.sync())
        params = self.server.requests_to("calls")[0]["params"]
        # now - 1 day - 5 minutes = 24/01 14:55 in Moscow.
        self.assertEqual(
            (params["dateFrom"], params["dateTo"]), ("24/01/2026", "25/01/2026")
        )
        first_request = self.server.requests_to("requests")[0]["params"]
        self.assertEqual(first_request["dateFrom"], "01/24/2026")
        self.assertEqual(first_request["timeFrom"], "14:55:00")

    def test_a_long_pause_is_caught_up_a_week_per_run(self):
        self.company.calltouch_synced_until = NOW - timedelta(days=20)
        self.server.add_call(make_call(921, NOW - timedelta(days=19), "79161112233"))
        self.server.add_call(make_call(922, NOW - timedelta(days=2), "79162223344"))
        self.assertTrue(self.sync())
        # 20 days - 5 minutes ago .. 7 days later
        self.assertEqual(
            self.company.calltouch_synced_until,
            NOW - timedelta(days=20, minutes=5) + timedelta(days=7),
        )
        self.assertEqual(self.touches().mapped("calltouch_call_id"), ["921"])
        self.assertLessEqual(len(self.server.requests_to("requests")), 8)
        self.assertTrue(self.sync())
        self.assertTrue(self.sync())
        self.assertEqual(self.company.calltouch_synced_until, NOW)
        self.assertEqual(
            sorted(self.touches().mapped("calltouch_call_id")), ["921", "922"]
        )

    def test_cron_syncs_enabled_companies_only(self):
        self.company.calltouch_synced_until = fields.Datetime.now() - timedelta(
            minutes=10
        )
        other = self.env["res.company"].create({"name": "No Calltouch Clinic"})
        self.assertFalse(other.calltouch_enabled)
        # What the scheduled action runs, but for the commit after each company.
        Company = type(self.env["res.company"])
        sync_companies = Company._calltouch_sync_companies
        with patch.object(
            Company,
            "_calltouch_sync_companies",
            lambda companies, commit=None, now=None: sync_companies(companies, now=now),
        ):
            self.env["res.company"]._cron_calltouch_sync()
        # Only this company asked Calltouch: calls diary and requests journal.
        sites = {
            entry["params"].get("siteId")
            for entry in self.server.requests_to("requests")
        }
        self.assertEqual(sites, {"67120"})
        self.assertTrue(self.company.calltouch_last_success_at)
        self.assertNotIn(TOKEN, self.company.calltouch_last_result or "")

    def test_one_company_failing_neither_undoes_nor_stops_the_others(self):
        self.company.calltouch_synced_until = fields.Datetime.now() - timedelta(
            minutes=10
        )
        broken = self.env["res.company"].create(
            {
                "name": "Broken Clinic",
                "calltouch_enabled": True,
                "calltouch_call_url": self.server.call_url,
                "calltouch_request_url": self.server.request_url,
                "calltouch_site_id": "67121",
                "calltouch_token": TOKEN,
            }
        )
        Company = type(self.env["res.company"])
        window = Company._calltouch_window

        def failing(company, now):
            if company == broken:
                raise TypeError("something nobody expected")
            return window(company, now)

        commits = []
        with (
            patch.object(Company, "_calltouch_window", failing),
            mute_logger("odoo.addons.clinic_pbx.models.calltouch.res_company"),
        ):
            (broken | self.company)._calltouch_sync_companies(
                commit=lambda: commits.append(True)
            )
        self.assertIn("failed unexpectedly", broken.calltouch_last_error)
        self.assertIn("something nobody expected", broken.calltouch_last_error)
        self.assertTrue(self.company.calltouch_last_success_at)
        self.assertFalse(self.company.calltouch_last_error)
        self.assertEqual(len(commits), 2)


@tagged("post_install", "-at_install")
class TestCalltouchCatchUp(CalltouchCase):
    def test_a_long_pause_is_caught_up_in_runs_run_again_at_once(self):
        self.company.calltouch_synced_until = NOW - timedelta(days=20)
        for index, days in enumerate((19, 10, 0)):
            when = NOW - timedelta(days=days, hours=1)
            self.server.add_call(make_call(800 + index, when, "7916111223%d" % index))
        # The frozen clock stops the client's pacing: the fake does not count.
        self.patch(self.server, "rate_limit", 1000)
        self.patch(self.env.cr, "commit", lambda: None)
        with freeze_time(NOW):
            reported = run_cron_until_caught_up(
                self, self.env["res.company"]._cron_calltouch_sync
            )
        # A week per run: three runs, each saying how many weeks were left.
        self.assertFalse(self.company.calltouch_last_error)
        self.assertEqual(reported, [2, 1, 0])
        self.assertEqual(self.company.calltouch_synced_until, NOW)
        self.assertEqual(len(self.touches(channel="call")), 3)
