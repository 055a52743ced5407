"""Missed calls in the clinic's working hours.

The company's working schedule (``res.company.resource_calendar_id``, Odoo's
*Working Hours*, public holidays included as its global time off) decides:

- whether a missed call came **after hours** (outside a working interval);
- when its callback is **due**: the callback target
  (``res.company.pbx_callback_target_hours``, working hours) counted from the
  missed call, or from the next opening when it came after hours — a call
  missed on Friday at 21:00 with a 2-hour target is due on Monday at 10:00
  when the clinic opens at 8:00;
- the **working time to call back**: the working hours between the missed
  call and the call that reached the number, and whether that was within the
  target.

A company without a working schedule works around the clock: nothing is
after hours, and working time is elapsed time.

Every missed call a PBX posts asks for the schedule's working intervals of
the next two weeks. Each process keeps them per schedule and day, under a
version read in one statement (the last change and the number of the
schedule's hours and of the public holidays), so that a changed schedule or
holiday is seen at once.
"""

from datetime import datetime, time, timedelta

import pytz

from odoo import fields, models
from odoo.tools import SQL

from ..tools.expiring_cache import ExpiringCache

# Working intervals are read for this long after a missed call; a target
# longer than the working time in it is planned by resource.calendar itself.
PLAN_SPAN = timedelta(days=14)
# {(db, schedule, version, first day): its intervals of PLAN_SPAN + 1 day}
_intervals_cache = ExpiringCache(3600, 64)


def _aware(moment):
    return pytz.utc.localize(moment) if moment.tzinfo is None else moment


def _naive_utc(moment):
    return moment.astimezone(pytz.utc).replace(tzinfo=None)


class PbxCall(models.Model):
    _inherit = "pbx.call"

    after_hours = fields.Boolean(
        readonly=True,
        copy=False,
        help="A missed call outside the company's working hours (its working "
        "schedule and public holidays).",
    )
    callback_due = fields.Datetime(
        "Callback Due At",
        readonly=True,
        copy=False,
        help="When the clinic should have called back: the callback target in "
        "working hours from the missed call (from the next opening when it was "
        "missed after hours).",
    )
    callback_work_seconds = fields.Integer(
        "Working Time to Call Back",
        readonly=True,
        copy=False,
        aggregator="avg",
        help="Working time, in seconds, from the missed call to the call that "
        "reached the number.",
    )
    callback_in_target = fields.Boolean(
        "Called Back Within Target",
        readonly=True,
        copy=False,
        help="Called back within the company's callback target, in working hours.",
    )

    def _pbx_working_intervals(self, calendar, start, stop):
        """[(start, stop)] of ``calendar``'s working time between two UTC
        moments, as aware datetimes (global time off taken out)."""
        intervals = calendar._work_intervals_batch(_aware(start), _aware(stop))[False]
        return [(begin, end) for begin, end, _meta in intervals]

    def _pbx_calendar_version(self, calendar):
        """What changes whenever ``calendar``'s working time may have: its
        last write, and the last write and number of its attendances and of
        the time off without a resource (public holidays) that applies."""
        for model in ("resource.calendar.attendance", "resource.calendar.leaves"):
            self.env[model].flush_model()
        calendar.flush_recordset()
        self.env.cr.execute(
            SQL(
                """
                SELECT c.write_date, a.last, a.n, l.last, l.n
                FROM resource_calendar c,
                     LATERAL (SELECT max(write_date) AS last, count(*) AS n
                              FROM resource_calendar_attendance
                              WHERE calendar_id = c.id) a,
                     LATERAL (SELECT max(write_date) AS last, count(*) AS n
                              FROM resource_calendar_leaves
                              WHERE resource_id IS NULL
                                AND (calendar_id = c.id OR calendar_id IS NULL)) l
                WHERE c.id = %s
                """,
                calendar.id,
            )
        )
        version = self.env.cr.fetchone()
        return (calendar.tz, *version)

    def _pbx_day_intervals(self, calendar, version, day):
        """Working intervals of ``calendar`` from ``day`` (UTC) for
        PLAN_SPAN and a day, kept per process under the calendar's
        ``version``."""
        key = (self.env.cr.dbname, calendar.id, version, day)
        intervals = _intervals_cache.get(key)
        if intervals is None:
            begin = datetime.combine(day, time())
            intervals = self._pbx_working_intervals(
                calendar, begin, begin + PLAN_SPAN + timedelta(days=1)
            )
            _intervals_cache.put(key, intervals)
        return intervals

    def _pbx_working_values(self, lookups, start):
        """(after hours, callback due) of a call missed at ``start`` (UTC),
        for the company of the batch's connection; the calendar's version is
        read once per batch."""
        company = lookups.connection.company_id
        target = timedelta(hours=company.pbx_callback_target_hours)
        calendar = company.resource_calendar_id
        if not calendar:
            return False, start + target
        version = getattr(lookups, "pbx_calendar_version", None)
        if version is None:
            version = lookups.pbx_calendar_version = self._pbx_calendar_version(
                calendar
            )
        intervals = self._pbx_day_intervals(calendar, version, start.date())
        moment = _aware(start)
        after_hours = not any(b <= moment < e for b, e in intervals)
        due = self._pbx_plan(intervals, moment, target)
        if due is None:
            due = calendar.plan_hours(
                target.total_seconds() / 3600, moment, compute_leaves=True
            )
        return after_hours, due and _naive_utc(due)

    def _ingest_row_fields(self):
        return (*super()._ingest_row_fields(), "after_hours", "callback_due")

    def _values_from_state(self, lookups, state):
        """A missed call's working-hours values are written with the call
        itself (a finished call is written once)."""
        vals = super()._values_from_state(lookups, state)
        if vals["missed"] and vals["start"]:
            start = fields.Datetime.to_datetime(vals["start"])
            vals["after_hours"], vals["callback_due"] = self._pbx_working_values(
                lookups, start
            )
        else:
            vals["after_hours"], vals["callback_due"] = False, False
        return vals

    @staticmethod
    def _pbx_plan(intervals, start, target):
        """The moment ``target`` of working time after ``start`` is used up
        in ``intervals`` (None: they do not hold that much)."""
        left = target
        for begin, end in intervals:
            if end <= start:
                continue
            begin = max(begin, start)
            if end - begin >= left:
                return begin + left
            left -= end - begin
        return None

    def _pbx_working_delay(self, company, start, stop, cache):
        """Working time between two UTC moments in ``company``'s working
        hours (``cache``: the calendars' versions, shared by the calls of a
        run)."""
        calendar = company.resource_calendar_id
        if not calendar:
            return stop - start
        if stop - start < PLAN_SPAN:
            # The intervals planning used, cached per day.
            version = cache.get(calendar.id)
            if version is None:
                version = cache[calendar.id] = self._pbx_calendar_version(calendar)
            intervals = self._pbx_day_intervals(calendar, version, start.date())
        else:
            intervals = self._pbx_working_intervals(calendar, start, stop)
        begin, end = _aware(start), _aware(stop)
        return sum(
            (
                min(stop_, end) - max(start_, begin)
                for start_, stop_ in intervals
                if start_ < end and stop_ > begin
            ),
            timedelta(),
        )

    def _callback_reached_values(self, missed, after, cache):
        vals = super()._callback_reached_values(missed, after, cache)
        # From the row: reading the call's fields would fetch it alone.
        company = self.env["res.company"].browse(missed["company_id"])
        delay = self._pbx_working_delay(company, missed["start"], after["start"], cache)
        target = timedelta(hours=company.pbx_callback_target_hours)
        vals["callback_work_seconds"] = int(delay.total_seconds())
        vals["callback_in_target"] = delay <= target
        return vals
