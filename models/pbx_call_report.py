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
(``start_slot``). Grouping on that column lets PostgreSQL estimate a few
thousand groups and hash them in parallel, and the reader's offset is added
as plain arithmetic (with a CASE for the daylight-saving changes inside the
calls' time span) instead of a timezone conversion per row. A covering
index holds the columns the report reads, so it scans the index only.
"""

from bisect import bisect_right

import pytz

from odoo import api, fields, models
from odoo.models import BaseModel, parse_read_group_spec
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.query import Query

SERVICE_LEVEL_SECONDS = 20

REPORT_FIELDS = ("start_hour", "answered_pct", "service_level_pct", "missed_open_count")

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
        "start", "direction", "disposition", "wait_seconds", "missed", "called_back"
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

    def _pbx_report_tz(self):
        tz = self.env.context.get("tz") or self.env.user.tz
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

    @api.model
    def _read_group_format_result(self, rows_dict, lazy_groupby):
        # Each group value is formatted once (date label, range, domain), not
        # once per row: a year by admin and day has ten thousand rows but a
        # few hundred distinct values.
        extra_domains = [[] for _row in rows_dict]
        for group in lazy_groupby:
            formatted, keys = {}, []
            for row in rows_dict:
                value = row[group]
                if isinstance(value, BaseModel):
                    key = (value._name, tuple(value.ids))
                else:
                    key = value
                keys.append(key)
                formatted.setdefault(key, {group: value, "__domain": []})
            super()._read_group_format_result(list(formatted.values()), [group])
            for row, key, domains in zip(rows_dict, keys, extra_domains, strict=True):
                one = formatted[key]
                row[group] = one[group]
                if "__range" in one:
                    row.setdefault("__range", {})[group] = one["__range"][group]
                domains.append(one["__domain"])
        # The read_group domain is one list shared by all rows: normalise it
        # once, each group value's domain once, and join them as AND() would.
        normal = {}
        for row, domains in zip(rows_dict, extra_domains, strict=True):
            parts = [row["__domain"], *domains]
            for part in parts:
                if id(part) not in normal:
                    normal[id(part)] = expression.normalize_domain(part)
            row["__domain"] = self._pbx_and([normal[id(part)] for part in parts])
        return None

    @api.model
    def _pbx_and(self, domains):
        """expression.AND() of domains that are normalised already."""
        parts = [domain for domain in domains if domain != expression.TRUE_DOMAIN]
        if any(domain == expression.FALSE_DOMAIN for domain in parts):
            return expression.FALSE_DOMAIN
        if not parts:
            return expression.TRUE_DOMAIN
        return ["&"] * (len(parts) - 1) + [leaf for domain in parts for leaf in domain]

    def _pbx_average_operand(self, fname, query):
        """SQL of the values an average of ``fname`` is taken over.

        A missed call has no conversation and a call not called back has no
        call-back time: their zeros would drag the averages down.
        """
        value = self._field_to_sql(self._table, fname, query)
        if fname == "talk_seconds":
            answered = self._field_to_sql(self._table, "disposition", query)
            return SQL("(CASE WHEN %s = 'answered' THEN %s END)", answered, value)
        if fname == "callback_delay":
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

    # -- one scan for all the groupings of a pivot table ----------------------

    @api.model
    def read_group_batch(self, domain, fields, groupbys):
        """``read_group(domain, fields, groupby, lazy=False)`` for each of
        ``groupbys``, as a list, reading the calls once where it can.

        A pivot table asks for every row grouping by every column grouping
        (days, days by type, types, the total). When each is a part of the
        finest one and each measure adds up (count, sum, min, max, average),
        the calls are grouped once at the finest level and the coarser
        groups are added up from those rows.
        """
        finest = max(groupbys, key=len, default=[])
        plan = self._pbx_batch_plan(fields, finest)
        if (
            plan is None
            or len(groupbys) < 2
            or not all(
                self._pbx_is_subsequence(groupby, finest) for groupby in groupbys
            )
        ):
            return [self.read_group(domain, fields, g, lazy=False) for g in groupbys]
        rows = self._read_group(domain, finest, plan)
        batch = self.with_context(
            pbx_read_group_rows=(tuple(finest), tuple(plan), rows)
        )
        return [batch.read_group(domain, fields, g, lazy=False) for g in groupbys]

    @api.model
    def _pbx_is_subsequence(self, groupby, finest):
        rest = iter(finest)
        return all(any(spec == other for other in rest) for spec in groupby)

    @api.model
    def _pbx_batch_plan(self, fields, finest):
        """The aggregates to read at the finest level, or None."""
        for spec in finest:
            fname, _property, granularity = parse_read_group_spec(spec)
            if not (
                (fname == "start" and granularity in SLOT_GRANULARITIES)
                or (fname in ("start_hour", "direction", "user_id") and not granularity)
            ):
                return None
        plan = ["__count"]
        for spec in fields:
            if spec == "__count":
                continue
            fname, _property, func = parse_read_group_spec(spec)
            if func not in ("sum", "min", "max", "avg"):
                return None
            if func == "avg":
                plan += [f"{fname}:pbx_sum", f"{fname}:pbx_n"]
            else:
                plan.append(spec)
        return plan

    def _pbx_rows_from_finest(self, groupby, aggregates):
        """Rows of ``_read_group(groupby, aggregates)`` added up from the rows
        of the batch's finest grouping, or None when they cannot be."""
        finest, plan, finest_rows = self.env.context["pbx_read_group_rows"]
        if not self._pbx_is_subsequence(groupby, finest):
            return None
        positions = [finest.index(spec) for spec in groupby]
        width = len(finest)
        originals, totals = self._pbx_add_up(finest_rows, positions, width, plan)
        if not groupby and not totals:
            totals[()] = [None] * len(plan)  # the total of nothing: one row, count 0
        index = {spec: n for n, spec in enumerate(plan)}
        getters = []
        for spec in aggregates:
            fname, _property, func = parse_read_group_spec(spec)
            if func == "avg":
                getters.append((index[f"{fname}:pbx_sum"], index[f"{fname}:pbx_n"]))
            elif spec in index:
                getters.append((index[spec], None))
            else:
                return None
        sort_key = self._pbx_sort_key(groupby, originals)
        result = []
        for key in sorted(totals, key=sort_key):
            total = totals[key]
            values = []
            for n, count in getters:
                if count is not None:
                    values.append(total[n] / total[count] if total[count] else False)
                elif plan[n] == "__count":
                    values.append(total[n] or 0)
                else:
                    values.append(False if total[n] is None else total[n])
            group = [
                originals[value] if isinstance(value, tuple) else value for value in key
            ]
            result.append((*group, *values))
        return result

    @api.model
    def _pbx_add_up(self, finest_rows, positions, width, plan):
        """{key: [aggregate values]} of the finest rows grouped on the values
        at ``positions``, and {key part: record} for the records among them
        (records hash slowly: the keys hold (model, id) instead)."""
        funcs = [parse_read_group_spec(spec)[2] for spec in plan]
        originals, totals = {}, {}
        for row in finest_rows:
            key = []
            for i in positions:
                value = row[i]
                if isinstance(value, BaseModel):
                    originals[value._name, value.id] = value
                    value = (value._name, value.id)
                key.append(value)
            total = totals.setdefault(tuple(key), [None] * len(plan))
            for n, value in enumerate(row[width:]):
                if value is None or value is False:  # NULL, as read_group gives it
                    continue
                if total[n] is None:
                    total[n] = value
                elif funcs[n] == "min":
                    total[n] = min(total[n], value)
                elif funcs[n] == "max":
                    total[n] = max(total[n], value)
                else:
                    total[n] += value
        return originals, totals

    def _pbx_sort_key(self, groupby, records):
        """The order read_group gives groups of these keys (empty ones last)."""
        names = {
            key: (record.name or "", record.login or "")
            for key, record in records.items()
            if key[0] == "res.users" and record
        }

        def sort_key(key):
            parts = []
            for spec, value in zip(groupby, key, strict=True):
                if spec == "direction":
                    value = DIRECTION_ORDER.get(value, len(DIRECTION_ORDER))
                elif isinstance(value, tuple):  # a record, or none
                    value = names.get(value) if value[1] else None
                parts.append((value is None or value is False, value or 0))
            return parts

        return sort_key

    def _read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None,
        order=None,
    ):  # fmt: skip
        groupby = list(groupby)
        default_order = (
            not having
            and not offset
            and not limit
            and (order in (None, ",".join(groupby)))
        )
        if default_order and self.env.context.get("pbx_read_group_rows"):
            rows = self._pbx_rows_from_finest(groupby, list(aggregates))
            if rows is not None:
                return rows
        if default_order and groupby[:1] == ["user_id"]:
            # Admins by name, sorted here: ordering by name in SQL would join
            # the users to every call and group a million rows by their names.
            rows = super()._read_group(domain, groupby, aggregates)
            return sorted(
                rows, key=lambda row: (not row[0], row[0].name or "", row[0].login)
            )
        return super()._read_group(
            domain, groupby, aggregates, having, offset, limit, order
        )
