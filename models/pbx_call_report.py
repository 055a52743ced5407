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

import operator
from bisect import bisect_right
from contextlib import contextmanager

import pytz
from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from odoo import api, fields, models
from odoo.models import BaseModel, parse_read_group_spec, regex_field_agg
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

NO_RANGE = object()  # a group value without a date range

# See _pbx_planner_settings().
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
        if not lazy_groupby:
            return None  # the total keeps the caller's domain, as in Odoo
        columns = []
        for group in lazy_groupby:
            keys, values = [], {}
            for row in rows_dict:
                value = row[group]
                key = value._ids if isinstance(value, BaseModel) else value
                keys.append(key)
                values.setdefault(key, value)
            columns.append((group, keys, self._pbx_format_values(group, values)))
        ranges, bases = {}, {}
        for index, row in enumerate(rows_dict):
            # The read_group domain is one list shared by all rows.
            domain = row["__domain"]
            base = bases.get(id(domain))
            if base is None or base[0] is not domain:
                base = bases[id(domain)] = (domain, self._pbx_base_domain(domain))
            parts = [base[1]] if base[1] else []
            dates = []
            for group, keys, formatted in columns:
                label, group_range, group_domain = formatted[keys[index]]
                row[group] = label
                if group_domain:
                    parts.append(group_domain)
                if group_range is not NO_RANGE:
                    dates.append((group, group_range))
            if dates:
                row["__range"] = self._pbx_shared_range(ranges, dates)
            row["__domain"] = self._pbx_and(parts)
        return None

    @api.model
    def _pbx_format_values(self, group, values):
        """{key: (label, range or NO_RANGE, domain)} of the group values
        ``{key: value}``, as Odoo's _read_group_format_result() gives them."""
        rows = [{group: value, "__domain": []} for value in values.values()]
        super()._read_group_format_result(rows, [group])
        # Odoo ANDs each value's domain to the empty one: it comes back
        # normalised.
        return {
            key: (
                row[group],
                row["__range"][group] if "__range" in row else NO_RANGE,
                [] if row["__domain"] == expression.TRUE_DOMAIN else row["__domain"],
            )
            for key, row in zip(values, rows, strict=True)
        }

    @api.model
    def _pbx_base_domain(self, domain):
        """The read_group domain, normalised, or [] when it is always true."""
        base = expression.normalize_domain(domain)
        return [] if base == expression.TRUE_DOMAIN else base

    @api.model
    def _pbx_and(self, parts):
        """expression.AND() of normalised domains other than the true one."""
        if not parts:
            return list(expression.TRUE_DOMAIN)
        if any(part == expression.FALSE_DOMAIN for part in parts):
            return list(expression.FALSE_DOMAIN)
        return ["&"] * (len(parts) - 1) + [leaf for part in parts for leaf in part]

    @api.model
    def _pbx_shared_range(self, ranges, dates):
        """One ``__range`` dict for all rows of the same dates: a year by
        admin and day is fifteen thousand rows, and a dict each would bring
        a full garbage collection of the server process closer."""
        key = tuple([(group, id(group_range)) for group, group_range in dates])
        shared = ranges.get(key)
        if shared is None:
            shared = ranges[key] = (dates, dict(dates))
        return shared[1]

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
    @api.readonly
    def read_group_batch(self, domain, fields, groupbys):
        """``read_group(domain, fields, groupby, lazy=False)`` for each of
        ``groupbys``, as a list, reading the calls once where it can.

        A pivot table asks for every row grouping by every column grouping
        (days, days by type, types, the total). When each is a part of the
        finest one and each measure adds up (count, sum, min, max, average),
        the calls are grouped once at the finest level, each coarser
        grouping is added up from the smallest finer one already added up,
        and the groups are labelled as read_group labels them.
        """
        finest = max(groupbys, key=len, default=[])
        aggregates = self._pbx_aggregate_names(fields)
        plan = self._pbx_batch_plan(aggregates.values(), finest)
        fill_temporal = self.env.context.get("fill_temporal")
        if (
            plan is None
            or len(groupbys) < 2
            or fill_temporal
            or isinstance(fill_temporal, dict)
            or not all(
                self._pbx_is_subsequence(groupby, finest) for groupby in groupbys
            )
        ):
            return [self.read_group(domain, fields, g, lazy=False) for g in groupbys]
        rows = self.with_context(pbx_raw_groups=True)._read_group(domain, finest, plan)
        levels, records = self._pbx_add_up_levels(finest, plan, rows, groupbys)
        del rows
        formatted = {}  # {spec: {group value: (label, range, domain)}}
        ranges = {}  # the __range dicts rows share
        return [
            self._pbx_batch_read_group(
                domain, aggregates, groupby, (levels, records, plan, formatted, ranges)
            )
            for groupby in groupbys
        ]

    @api.model
    def _pbx_aggregate_names(self, fields):
        """{name in the result: aggregate spec} of read_group's ``fields``,
        named as read_group(lazy=False) names them."""
        names = {"__count": "__count"}
        for spec in fields:
            if spec == "__count":
                continue
            match = regex_field_agg.match(spec)
            if not match:
                raise ValueError(f"Invalid field specification {spec!r}.")
            name, func, fname = match.groups()
            if fname:
                names[name] = f"{fname}:{func}"
            elif func:
                names[name] = f"{name}:{func}"
            else:
                if name not in self._fields:
                    raise ValueError(f"Invalid field {name!r} on model {self._name!r}")
                field = self._fields[name].base_field
                if field.store and field.column_type and field.aggregator:
                    names[name] = f"{name}:{field.aggregator}"
        return names

    @api.model
    def _pbx_is_subsequence(self, groupby, finest):
        rest = iter(finest)
        return all(any(spec == other for other in rest) for spec in groupby)

    @api.model
    def _pbx_batch_plan(self, aggregates, finest):
        """The aggregates to read at the finest level, or None."""
        for spec in finest:
            fname, _property, granularity = parse_read_group_spec(spec)
            if not (
                (fname == "start" and granularity in SLOT_GRANULARITIES)
                or (fname in ("start_hour", "direction", "user_id") and not granularity)
            ):
                return None
        plan = ["__count"]
        for spec in aggregates:
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

    @api.model
    def _pbx_add_up_levels(self, finest, plan, rows, groupbys):
        """The groups of each of ``groupbys`` added up from the finest rows,
        read with ids for records (``pbx_raw_groups``).

        Returns ``{groupby: {key: (aggregate values)}}`` and, for the
        relational groupings, ``{spec: {id: record}}``. Keys and values are
        tuples of plain values, which Python's garbage collector stops
        tracking: ten thousand groups would otherwise bring a full
        collection of the server process closer.
        """
        width = len(finest)
        level = {row[:width]: row[width:] for row in rows}
        records = {}
        for n, spec in enumerate(finest):
            field = self._fields[parse_read_group_spec(spec)[0]]
            if field.relational:
                found = self.env[field.comodel_name].browse(
                    sorted({key[n] for key in level if key[n]})
                )
                records[spec] = {record.id: record for record in found}
                records[spec][False] = found.browse()
        levels = {tuple(finest): level}
        funcs = [parse_read_group_spec(spec)[2] for spec in plan]
        for groupby in sorted(map(tuple, groupbys), key=len, reverse=True):
            if groupby in levels:
                continue
            source = min(
                (other for other in levels if self._pbx_is_subsequence(groupby, other)),
                key=lambda other: len(levels[other]),
            )
            positions = [source.index(spec) for spec in groupby]
            levels[groupby] = self._pbx_add_up(levels[source], positions, funcs)
        return levels, records

    @api.model
    def _pbx_add_up(self, level, positions, funcs):
        """{key: (aggregate values)} of ``level`` grouped on the key parts at
        ``positions``; ``funcs`` say how each aggregate adds up."""
        additive = all(func not in ("min", "max") for func in funcs)
        totals = {}
        for key, values in level.items():
            part = tuple([key[i] for i in positions])
            total = totals.get(part)
            if total is None:
                totals[part] = values
                continue
            if additive and not any(
                value is None or value is False for value in (*total, *values)
            ):
                totals[part] = tuple(map(operator.add, total, values))
                continue
            totals[part] = tuple(
                [
                    self._pbx_add(func, current, value)
                    for func, current, value in zip(funcs, total, values, strict=True)
                ]
            )
        return totals

    @api.model
    def _pbx_add(self, func, current, value):
        if value is None or value is False:  # NULL, as _read_group gives it
            return current
        if current is None or current is False:
            return value
        if func == "min":
            return min(current, value)
        if func == "max":
            return max(current, value)
        return current + value

    def _pbx_batch_read_group(self, domain, aggregates, groupby, batch):
        """What ``read_group(domain, fields, groupby, lazy=False)`` gives, from
        the added-up groups of ``batch``, built in one pass."""
        levels, records, plan, known, ranges = batch
        totals = levels[tuple(groupby)]
        if not groupby and not totals:
            totals = {(): (None,) * len(plan)}  # the total of nothing: count 0
        index = {spec: n for n, spec in enumerate(plan)}
        measures = []
        for name, spec in aggregates.items():
            fname, _property, func = parse_read_group_spec(spec)
            if func == "avg":
                measures.append(
                    (name, "avg", index[f"{fname}:pbx_sum"], index[f"{fname}:pbx_n"])
                )
            else:
                kind = "count" if spec == "__count" else "value"
                measures.append((name, kind, index[spec], None))
        names = list(self._read_group_get_annotated_groupby(groupby, lazy=False))
        columns = []
        for n, spec in enumerate(groupby):
            formatted = known.setdefault(spec, {})
            originals = records.get(spec)
            todo = {
                key[n]: key[n] if originals is None else originals[key[n]]
                for key in totals
                if key[n] not in formatted
            }
            formatted.update(self._pbx_format_values(spec, todo))
            ranks = self._pbx_ranks(spec, {key[n] for key in totals}, originals)
            columns.append((names[n], formatted, ranks))

        rankings = [ranks for _name, _formatted, ranks in columns]

        def order(key):
            return tuple([rank[part] for rank, part in zip(rankings, key, strict=True)])

        base = self._pbx_base_domain(domain)
        rows = []
        for key in sorted(totals, key=order):
            row, parts, dates = {}, [base] if base else [], []
            for (name, formatted, _ranks), part in zip(columns, key, strict=True):
                label, group_range, group_domain = formatted[part]
                row[name] = label
                if group_domain:
                    parts.append(group_domain)
                if group_range is not NO_RANGE:
                    dates.append((name, group_range))
            total = totals[key]
            for name, kind, n, count in measures:
                if kind == "count":
                    row[name] = total[n] or 0
                elif kind == "value":
                    row[name] = False if total[n] is None else total[n]
                else:  # average: sum over count
                    row[name] = total[n] / total[count] if total[count] else False
            # A tuple (a JSON array all the same): the garbage collector
            # stops tracking a tuple of plain values, not a list.
            row["__domain"] = tuple(self._pbx_and(parts)) if groupby else domain
            if dates:
                row["__range"] = self._pbx_shared_range(ranges, dates)
            rows.append(row)
        return rows

    @api.model
    def _pbx_ranks(self, spec, values, records):
        """{value: rank}: the order read_group gives groups of ``spec``
        (admins by name, call types in the report's order, empty last)."""
        if records is not None:

            def sort_key(value):
                record = records[value]
                return (not value, record.name or "", record.login or "")

        elif spec == "direction":

            def sort_key(value):
                return DIRECTION_ORDER.get(value, len(DIRECTION_ORDER))

        else:

            def sort_key(value):
                return (value is None or value is False, value or 0)

        return {value: rank for rank, value in enumerate(sorted(values, key=sort_key))}

    @contextmanager
    def _pbx_planner_settings(self):
        """Planner settings for grouping many calls at once, for this query.

        PostgreSQL cannot tell how many groups an expression such as the
        reader's local day yields: for a year by admin and day it expects
        ten times the real number, plans a sort on disk rather than a hash
        in the default 4 MB of work memory, and compiles the query (JIT)
        for longer than that saves. Set for this transaction only and put
        back afterwards.
        """
        cr = self.env.cr
        names = list(REPORT_PLANNER_SETTINGS)
        cr.execute(
            SQL(
                "SELECT %s",
                SQL(", ").join(SQL("current_setting(%s)", name) for name in names),
            )
        )
        previous = dict(zip(names, cr.fetchone(), strict=True))

        def apply(settings):
            cr.execute(
                SQL(
                    "SELECT %s",
                    SQL(", ").join(
                        SQL("set_config(%s, %s, true)", name, value)
                        for name, value in settings.items()
                    ),
                )
            )

        apply(REPORT_PLANNER_SETTINGS)
        try:
            yield
        finally:
            # After an SQL error the transaction only takes a rollback, and
            # the rollback puts the settings back.
            if cr._cnx.info.transaction_status != TRANSACTION_STATUS_INERROR:
                apply(previous)

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
            with self._pbx_planner_settings():
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

    def _read_group_postprocess_groupby(self, groupby_spec, raw_values):
        if self.env.context.get("pbx_raw_groups"):
            fname = parse_read_group_spec(groupby_spec)[0]
            if self._fields[fname].relational:
                return (value or False for value in raw_values)
        return super()._read_group_postprocess_groupby(groupby_spec, raw_values)
