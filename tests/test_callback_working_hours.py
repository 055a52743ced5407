"""Missed calls in the clinic's working hours: after hours, due dates, and the
working time it took to call back."""

from datetime import timezone

import psycopg2

from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, clinic_calendar, make_connection, msk

CALLER = "+7 916 555-77-01"
PBX_USER = "base.group_user,clinic_pbx.clinic_pbx_group_user"


def utc(moment):
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


@tagged("post_install", "-at_install")
class TestCallbackWorkingHours(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, _token = make_connection(cls.env)
        cls.Call = cls.env["pbx.call"]
        cls.company = cls.env.company
        # The clinic opens Monday to Friday, 8:00 to 20:00 in Moscow; Wednesday
        # 4 November 2026 is a public holiday (Unity Day).
        cls.calendar = clinic_calendar(cls.env, "Clinic hours")
        cls.env["resource.calendar.leaves"].create(
            {
                "name": "Unity Day",
                "calendar_id": cls.calendar.id,
                "date_from": utc(msk(4, 0)),
                "date_to": utc(msk(4, 23, 59)),
                "time_type": "leave",
            }
        )
        cls.company.write(
            {
                "resource_calendar_id": cls.calendar.id,
                "pbx_callback_target_hours": 2.0,
                "pbx_callback_assignment": "extension",
            }
        )
        cls.anna = new_test_user(
            cls.env, login="wh_anna", name="Anna", groups=PBX_USER, pbx_extension="101"
        )
        cls.seq = 0

    def ingest(self, at, **values):
        type(self).seq += 1
        raw = cdr_event(f"wh{self.seq}", at.isoformat(), **values)
        return self.Call._ingest_events(self.connection, [validate_event(0, raw)])[2]

    def missed(self, at, number=CALLER):
        return self.ingest(
            at, disposition="no_answer", talk_seconds=0, **{"from": number}
        )

    def call_back(self, at, number=CALLER):
        return self.ingest(
            at,
            direction="outgoing",
            disposition="answered",
            talk_seconds=40,
            extension="101",
            **{"from": "101", "to": number},
        )

    def test_in_hours_due_after_the_target(self):
        call = self.missed(msk(5, 12))  # Thursday noon
        self.assertFalse(call.after_hours)
        self.assertEqual(call.callback_due, utc(msk(5, 14)))
        self.assertEqual(str(call.callback_activity_id.date_deadline), "2026-11-05")

    def test_missed_on_friday_night_is_due_on_monday_after_opening(self):
        call = self.missed(msk(6, 21))  # Friday 21:00, the clinic closed at 20:00
        self.assertTrue(call.after_hours)
        self.assertEqual(call.callback_due, utc(msk(9, 10)), "Monday 8:00 + 2 h")
        self.assertEqual(str(call.callback_activity_id.date_deadline), "2026-11-09")

    def test_a_weekend_call_is_after_hours(self):
        self.assertTrue(self.missed(msk(7, 11)).after_hours)  # Saturday 11:00

    def test_the_holiday_counts_as_closed(self):
        holiday = self.missed(msk(4, 11), number="+7 916 555-77-02")
        self.assertTrue(holiday.after_hours, "Wednesday 4 November is a holiday")
        self.assertEqual(holiday.callback_due, utc(msk(5, 10)))
        # Tuesday 19:30: half an hour of work left that day, none on the
        # holiday, the rest on Thursday morning.
        evening = self.missed(msk(3, 19, 30))
        self.assertFalse(evening.after_hours)
        self.assertEqual(evening.callback_due, utc(msk(5, 9, 30)))

    def test_working_time_to_call_back_and_the_target(self):
        # Missed on Thursday at 19:30, called back on Friday at 9:00: 13.5
        # hours later, but 1.5 working hours (19:30-20:00, then 8:00-9:00).
        evening = self.missed(msk(5, 19, 30))
        self.call_back(msk(6, 9))
        self.assertTrue(evening.called_back)
        self.assertEqual(evening.callback_delay, int(13.5 * 3600))
        self.assertEqual(evening.callback_work_seconds, int(1.5 * 3600))
        self.assertTrue(evening.callback_in_target)
        # Missed on Monday at 10:00, called back at 13:00: 3 working hours.
        late = self.missed(msk(9, 10), number="+7 916 555-77-03")
        self.call_back(msk(9, 13), number="+7 916 555-77-03")
        self.assertEqual(late.callback_work_seconds, 3 * 3600)
        self.assertFalse(late.callback_in_target)

    def test_the_report_counts_working_time(self):
        self.missed(msk(5, 19, 30))  # called back within target (1.5 h)
        self.call_back(msk(6, 9))
        self.missed(msk(9, 10), number="+7 916 555-77-03")  # 3 h: late
        self.call_back(msk(9, 13), number="+7 916 555-77-03")
        self.missed(msk(7, 11), number="+7 916 555-77-04")  # Saturday, not back
        (total,) = self.Call.with_context(tz="Europe/Moscow").read_group(
            [("connection_id", "=", self.connection.id)],
            [
                "callback_in_target_pct:avg",
                "missed_after_hours_count:sum",
                "callback_work_seconds:avg",
            ],
            [],
        )
        self.assertAlmostEqual(total["callback_in_target_pct"], 100 / 3, places=3)
        self.assertEqual(total["missed_after_hours_count"], 1)
        # The average is over the calls called back only: (1.5 h + 3 h) / 2.
        self.assertAlmostEqual(total["callback_work_seconds"], 2.25 * 3600)
        after_hours = self.Call.search(
            [("connection_id", "=", self.connection.id), ("after_hours", "=", True)]
        )
        self.assertEqual(after_hours.mapped("src"), ["+7 916 555-77-04"])

    def test_without_a_working_schedule_the_clock_runs_round_the_clock(self):
        self.company.resource_calendar_id = False
        call = self.missed(msk(7, 23))  # Saturday night
        self.assertFalse(call.after_hours)
        self.assertEqual(call.callback_due, utc(msk(8, 1)))
        self.call_back(msk(8, 0, 30))
        self.assertEqual(call.callback_work_seconds, 5400)
        self.assertTrue(call.callback_in_target)

    def test_a_negative_target_is_refused(self):
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.errors.CheckViolation),
        ):
            self.company.pbx_callback_target_hours = -1
            self.company.flush_recordset()

    def test_a_holiday_added_during_the_day_counts_at_once(self):
        self.assertFalse(self.missed(msk(5, 12)).after_hours)
        self.env["resource.calendar.leaves"].create(
            {
                "name": "Clinic closed",
                "calendar_id": self.calendar.id,
                "date_from": utc(msk(5, 12, 30)),
                "date_to": utc(msk(5, 23, 59)),
                "time_type": "leave",
            }
        )
        later = self.missed(msk(5, 13), number="+7 916 555-77-05")
        self.assertTrue(later.after_hours)
        self.assertEqual(later.callback_due, utc(msk(6, 10)))
