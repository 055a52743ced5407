# Copyright 2026 Clinic PBX
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Calls Report's groupings and measures on ``pbx.call``.

The report is the pivot and graph views of the call log itself, so record
rules, filters, favourites and the xlsx export behave as everywhere in
Odoo. Measures that are not plain column aggregates (answer rate, service
level, missed calls left without a call-back) and the hour of day in the
reader's timezone are computed fields with an SQL expression: Odoo groups
and aggregates them in the database like stored columns.

Grouping a year of calls by day must stay fast. Every UTC offset in use is
a multiple of 15 minutes, so the day, month or hour of a call in any
timezone is that of its start rounded down to the quarter hour
(``start_slot``), and the reader's offset is added as plain arithmetic (with
a CASE for the daylight-saving changes inside the calls' time span) instead
of a timezone conversion per row. A covering index holds the columns the
report reads, so it scans the index only, and the grouping query runs with
planner settings that let PostgreSQL hash the groups in memory in parallel.
"""

from bisect import bisect_right

import pytz

from odoo import api, fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL
from odoo.tools.query import Query

SERVICE_LEVEL_SECONDS = 20

REPORT_FIELDS = (
    "start_hour",
    "answered_pct",
    "service_level_pct",
    "missed_open_count",
    "callback_in_target_pct",
    "missed_after_hours_count",
    "new_caller_count",
)

QUARTER_HOUR = 900  # seconds
SLOT_GRANULARITIES = ("hour", "day", "month", "quarter", "year")
# The covering index holds what the report groups and averages, and what
# the record rules and the list's count read (id, user_id), so neither has
# to visit the table.
COVER_INDEX = "pbx_call_company_start_cover_index"
COVER_INDEX_COLUMNS = (
    "id", "start_slot", "direction", "disposition", "talk_seconds",
    "wait_seconds", "user_id", "missed", "called_back",
)  # fmt: skip

NO_RANGE = object()  # a group value without a date range

# PostgreSQL cannot tell how many groups an expression such as the reader's
# local day yields: for a year by admin and day it expects ten times the real
# number, plans a sort on disk rather than a hash in the default 4 MB of work
# memory, and compiles the query (JIT) for longer than that saves.
REPORT_PLANNER_SETTINGS = {
    "work_mem": "64MB",
    "jit": "off",
    "parallel_tuple_cost": "0",
}

DIRECTION_ORDER = {"outgoing": 0, "incoming": 1, "internal": 2}

HOURS = [(f"{hour:02d}", f"{hour:02d}:00") for hour in range(24)]


def quarter_hour(start):
    """``start`` rounded down to the quarter hour (False stays False)."""
    return start and start.replace(
        minute=start.minute - start.minute % (QUARTER_HOUR // 60),
        second=0,
        microsecond=0,
    )


class PbxCall(models.Model):
    _inherit = "pbx.call"

    start_slot = fields.Datetime(
        "Start (quarter hour)",
        compute="_compute_start_slot",
        store=True,
        readonly=True,
        help="Start of the call rounded down to the quarter hour, for grouping.",
    )
    start_hour = fields.Selection(
        HOURS,
        "Hour of Day",
        compute="_compute_report_values",
        search="_search_start_hour",
        help="Hour the call started, in your timezone.",
    )
    answered_pct = fields.Float(
        "Answer Rate (%)",
        compute="_compute_report_values",
        search="_search_answered_pct",
        aggregator="avg",
        digits=(16, 1),
        help="Share of calls that were answered.",
    )
    service_level_pct = fields.Float(
        "Answered within 20 s (%)",
        compute="_compute_report_values",
        search="_search_service_level_pct",
        aggregator="avg",
        digits=(16, 1),
        help="Share of incoming calls answered within 20 seconds of ringing "
        "(the service level). Outgoing and internal calls are not counted.",
    )
    missed_open_count = fields.Integer(
        "Missed, Not Called Back",
        compute="_compute_report_values",
        search="_search_missed_open_count",
        aggregator="sum",
        help="Missed calls whose number the clinic has not reached since.",
    )

    callback_in_target_pct = fields.Float(
        "Called Back Within Target (%)",
        compute="_compute_report_values",
        search="_search_callback_in_target_pct",
        aggregator="avg",
        digits=(16, 1),
        help="Share of missed calls called back within the company's callback "
        "target, counted in working hours. Other calls are not counted.",
    )
    missed_after_hours_count = fields.Integer(
        "Missed After Hours",
        compute="_compute_report_values",
        search="_search_missed_after_hours_count",
        aggregator="sum",
        help="Missed calls outside the company's working hours.",
    )

    new_caller_count = fields.Integer(
        "New Callers",
        compute="_compute_report_values",
        search="_search_new_caller_count",
        aggregator="sum",
        help="Calls from a number the clinic never had a call from before.",
    )

    def init(self):
        result = super().init()
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS %s ON pbx_call (company_id, start) "
                "INCLUDE (%s)",
                SQL.identifier(COVER_INDEX),
                SQL(", ").join(map(SQL.identifier, COVER_INDEX_COLUMNS)),
            )
        )
        return result

    @api.depends("start")
    def _compute_start_slot(self):
        for call in self:
            call.start_slot = quarter_hour(call.start)

    def _insert_computed_values(self, vals):
        values = super()._insert_computed_values(vals)
        values["start_slot"] = quarter_hour(vals["start"])
        return values

    @api.depends_context("tz")
    @api.depends(
        "start",
        "direction",
        "disposition",
        "wait_seconds",
        "missed",
        "called_back",
        "callback_in_target",
        "after_hours",
        "first_contact",
    )
    def _compute_report_values(self):
        tz = pytz.timezone(self._pbx_report_tz())
        for call in self:
            answered = call.disposition == "answered"
            call.start_hour = (
                f"{pytz.utc.localize(call.start).astimezone(tz).hour:02d}"
                if call.start
                else False
            )
            call.answered_pct = 100.0 if answered else 0.0
            call.service_level_pct = (
                100.0
                if answered
                and call.direction == "incoming"
                and call.wait_seconds <= SERVICE_LEVEL_SECONDS
                else 0.0
            )
            call.missed_open_count = int(call.missed and not call.called_back)
            call.callback_in_target_pct = (
                100.0 if call.missed and call.callback_in_target else 0.0
            )
            call.missed_after_hours_count = int(call.missed and call.after_hours)
            call.new_caller_count = int(call.first_contact)

    # Drilling down from a pivot cell searches on these fields: the condition
    # is their SQL expression, the same one the grouping used.
    def _search_report_condition(self, fname, operator, value):
        query = Query(self.env, self._table, self._table_sql)
        query.add_where(
            self._condition_to_sql(self._table, fname, operator, value, query)
        )
        return [("id", "in", query)]

    def _search_start_hour(self, operator, value):
        return self._search_report_condition("start_hour", operator, value)

    def _search_answered_pct(self, operator, value):
        return self._search_report_condition("answered_pct", operator, value)

    def _search_service_level_pct(self, operator, value):
        return self._search_report_condition("service_level_pct", operator, value)

    def _search_missed_open_count(self, operator, value):
        return self._search_report_condition("missed_open_count", operator, value)

    def _search_callback_in_target_pct(self, operator, value):
        return self._search_report_condition("callback_in_target_pct", operator, value)

    def _search_missed_after_hours_count(self, operator, value):
        return self._search_report_condition(
            "missed_after_hours_count", operator, value
        )

    def _search_new_caller_count(self, operator, value):
        return self._search_report_condition("new_caller_count", operator, value)

    def _pbx_report_tz(self):
        # Odoo's rule for dates in read_group (their ranges and domains): the
        # context's timezone, else UTC. The web client always sends it.
        tz = self.env.context.get("tz")
        return tz if tz in pytz.all_timezones_set else "UTC"

    def _field_to_sql(self, alias, fname, query=None, flush=True):
        if fname not in REPORT_FIELDS:
            return super()._field_to_sql(alias, fname, query, flush)

        def column(name):
            return super(PbxCall, self)._field_to_sql(alias, name, query, flush)

        if fname == "start_hour":
            return SQL("to_char(%s, 'HH24')", self._pbx_local_start(query))
        answered = SQL("%s = 'answered'", column("disposition"))
        if fname == "answered_pct":
            return SQL("(CASE WHEN %s THEN 100.0 ELSE 0.0 END)", answered)
        if fname == "service_level_pct":
            # NULL outside incoming calls, so AVG() leaves them out.
            return SQL(
                "(CASE WHEN %s = 'incoming' THEN CASE WHEN %s AND %s <= %s "
                "THEN 100.0 ELSE 0.0 END END)",
                column("direction"),
                answered,
                column("wait_seconds"),
                SERVICE_LEVEL_SECONDS,
            )
        if fname == "callback_in_target_pct":
            # NULL outside missed calls, so AVG() leaves them out.
            return SQL(
                "(CASE WHEN %s THEN CASE WHEN %s THEN 100.0 ELSE 0.0 END END)",
                column("missed"),
                column("callback_in_target"),
            )
        if fname == "new_caller_count":
            return SQL("(CASE WHEN %s THEN 1 ELSE 0 END)", column("first_contact"))
        if fname == "missed_after_hours_count":
            return SQL(
                "(CASE WHEN %s AND %s THEN 1 ELSE 0 END)",
                column("missed"),
                column("after_hours"),
            )
        return SQL(
            "(CASE WHEN %s AND NOT COALESCE(%s, FALSE) THEN 1 ELSE 0 END)",
            column("missed"),
            column("called_back"),
        )

    def _pbx_utc_offsets(self, tz):
        """[(since, seconds)]: the UTC offsets of ``tz`` over the calls' span.

        The first offset applies before the others; each next one from its
        UTC moment ``since`` on.
        """
        now = fields.Datetime.now()
        times = getattr(tz, "_utc_transition_times", None)
        if not times:
            return [(None, int(tz.utcoffset(now).total_seconds()))]
        self.env.cr.execute(SQL("SELECT min(start), max(start) FROM pbx_call"))
        low, high = self.env.cr.fetchone()
        low, high = low or now, high or now
        infos = tz._transition_info
        first = max(bisect_right(times, low) - 1, 0)
        last = max(bisect_right(times, high) - 1, 0)
        offsets = [(None, infos[first][0])]
        offsets += [(times[i], infos[i][0]) for i in range(first + 1, last + 1)]
        return [(since, int(offset.total_seconds())) for since, offset in offsets]

    def _pbx_local_start(self, query):
        """SQL: the local wall-clock time of the call start for the reader,
        to the quarter hour (exact when an offset is not whole quarters)."""
        offsets = self._pbx_utc_offsets(pytz.timezone(self._pbx_report_tz()))
        quarters = all(seconds % QUARTER_HOUR == 0 for _since, seconds in offsets)
        column = self._field_to_sql(
            self._table, "start_slot" if quarters else "start", query
        )
        offset = SQL("%s", offsets[0][1])
        if len(offsets) > 1:
            offset = SQL(
                "CASE %s ELSE %s END",
                SQL(" ").join(
                    SQL("WHEN %s >= %s THEN %s", column, since, seconds)
                    for since, seconds in reversed(offsets[1:])
                ),
                offsets[0][1],
            )
        return SQL("(%s + (%s) * INTERVAL '1 second')", column, offset)

    def _read_group_groupby(self, groupby_spec, query):
        fname, property_name, granularity = parse_read_group_spec(groupby_spec)
        if fname == "start" and granularity in SLOT_GRANULARITIES and not property_name:
            self.check_field_access_rights("read", ["start"])
            return SQL("date_trunc(%s, %s)", granularity, self._pbx_local_start(query))
        return super()._read_group_groupby(groupby_spec, query)

    def _read_group_orderby(self, order, groupby_terms, query):
        # Call types read in the report's order: Outgoing, Incoming, Internal.
        if "direction" in groupby_terms:
            groupby_terms = dict(groupby_terms)
            groupby_terms["direction"] = SQL(
                "(CASE %s %s ELSE %s END)",
                groupby_terms["direction"],
                SQL(" ").join(
                    SQL("WHEN %s THEN %s", value, rank)
                    for value, rank in DIRECTION_ORDER.items()
                ),
                len(DIRECTION_ORDER),
            )
        return super()._read_group_orderby(order, groupby_terms, query)

    def _pbx_average_operand(self, fname, query):
        """SQL of the values an average of ``fname`` is taken over.

        A missed call has no conversation and a call not called back has no
        call-back time: their zeros would drag the averages down.
        """
        value = self._field_to_sql(self._table, fname, query)
        if fname == "talk_seconds":
            answered = self._field_to_sql(self._table, "disposition", query)
            return SQL("(CASE WHEN %s = 'answered' THEN %s END)", answered, value)
        if fname in ("callback_delay", "callback_work_seconds"):
            called_back = self._field_to_sql(self._table, "called_back", query)
            return SQL("(CASE WHEN %s THEN %s END)", called_back, value)
        return value

    def _read_group_select(self, aggregate_spec, query):
        fname, _property, func = parse_read_group_spec(aggregate_spec)
        if fname in self._fields and func in ("avg", "pbx_sum", "pbx_n"):
            if not self._fields[fname].aggregator:
                return super()._read_group_select(aggregate_spec, query)
            operand = self._pbx_average_operand(fname, query)
            function = {"avg": "AVG", "pbx_sum": "SUM", "pbx_n": "COUNT"}[func]
            return SQL("%s(%s)", SQL(function), operand)
        return super()._read_group_select(aggregate_spec, query)

    def _pbx_is_report_grouping(self, groupby):
        for spec in groupby:
            fname, property_name, granularity = parse_read_group_spec(spec)
            if fname == "start_hour" or (
                fname == "start"
                and granularity in SLOT_GRANULARITIES
                and not property_name
            ):
                return True
        return False

    def _read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None,
        order=None,
    ):  # fmt: skip
        groupby = list(groupby)
        # Admins by name, sorted here: ordering by name in SQL would join the
        # users to every call and group a million rows by their names.
        by_admin_name = (
            groupby[:1] == ["user_id"]
            and not self.env.context.get("pbx_raw_groups")
            and not having
            and not offset
            and not limit
            and order in (None, ",".join(groupby))
        )
        if by_admin_name:
            order = None  # by the groupings' own values: admins by id
        if self._pbx_is_report_grouping(groupby):
            with self._pbx_planner_settings(REPORT_PLANNER_SETTINGS):
                rows = super()._read_group(
                    domain, groupby, aggregates, having, offset, limit, order
                )
        else:
            rows = super()._read_group(
                domain, groupby, aggregates, having, offset, limit, order
            )
        if not by_admin_name:
            return rows
        # Each admin is ranked once; the sort keeps the order of the rest.
        users = {row[0]._ids: row[0] for row in rows}
        ranked = sorted(
            users,
            key=lambda ids: (not ids, users[ids].name or "", users[ids].login),
        )
        rank = {ids: n for n, ids in enumerate(ranked)}
        return sorted(rows, key=lambda row: rank[row[0]._ids])
