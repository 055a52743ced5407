"""The Calls Report's table in one scan: ``pbx.call.read_group_batch``.

A pivot table asks for every row grouping by every column grouping (days,
days by type, types, the total): one read_group each. The report's pivot
model (static/src/calls_report/calls_report.js) asks the server once, with
all of them; ``read_group_batch`` groups the calls once at the finest level,
adds each coarser grouping up from it, and labels the groups as read_group
labels them (each group value formatted once, not once per row).

The contract is *the same result as read_group*: tests/test_calls_report.py
compares the two for every layout of the report, and the browser unit tests
compare the tables.

The switch: system parameter ``clinic_pbx.report_batch`` (default on). Off,
the pivot loads as Odoo's stock pivot does (one read_group per grouping, the
browser is told through the session info) and the value-once formatting is
not used either: an operator can turn this file's code off the day it
misbehaves, without an update.

Porting: the output is the legacy ``read_group(lazy=False)`` format, which
Odoo 18.2 deprecates (odoo/odoo#163300, ``formatted_read_group``) and 19.1
removes (odoo/odoo#226523). The 19.0 port returns ``formatted_read_group``
groups from the same added-up levels, and the pivot model overrides its 19.0
loading method instead of ``_getSubGroups``.
"""

import gc
import operator
from contextlib import contextmanager

from odoo import api, models
from odoo.models import BaseModel, parse_read_group_spec, regex_field_agg
from odoo.osv import expression

from .pbx_call_report import DIRECTION_ORDER, NO_RANGE, SLOT_GRANULARITIES

BATCH_PARAMETER = "clinic_pbx.report_batch"


@contextmanager
def gc_paused():
    """No cyclic garbage collection inside.

    A server process holds millions of objects (its registries); a table of
    ten thousand groups allocates enough to bring a full collection of all
    of them, some 60 ms, in the middle of the request. The groups hold no
    reference cycles: reference counting frees them, and anything else is
    collected after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class PbxCall(models.Model):
    _inherit = "pbx.call"

    @api.model
    def _pbx_report_batch_enabled(self):
        """Whether the report's table is read in one scan (the switch)."""
        # sudo: reads one clinic_pbx system parameter, the report's batch switch
        value = (
            self.env["ir.config_parameter"].sudo().get_param(BATCH_PARAMETER, "True")
        )
        return str(value).strip().lower() not in ("0", "false", "no", "off", "")

    @api.model
    def _read_group_format_result(self, rows_dict, lazy_groupby):
        # Each group value is formatted once (date label, range, domain), not
        # once per row: a year by admin and day has ten thousand rows but a
        # few hundred distinct values.
        if not self._pbx_report_batch_enabled():
            return super()._read_group_format_result(rows_dict, lazy_groupby)
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
        if not self._pbx_report_batch_enabled():
            return [self.read_group(domain, fields, g, lazy=False) for g in groupbys]
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
        with gc_paused():
            rows = self.with_context(pbx_raw_groups=True)._read_group(
                domain, finest, plan
            )
            levels, records = self._pbx_add_up_levels(finest, plan, rows, groupbys)
            del rows
            formatted = {}  # {spec: {group value: (label, range, domain)}}
            ranges = {}  # the __range dicts rows share
            return [
                self._pbx_batch_read_group(
                    domain,
                    aggregates,
                    groupby,
                    (levels, records, plan, formatted, ranges),
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
        # Each group value once: its label, its date range and its domain as
        # a tuple of leaves, so that a row's domain is a concatenation.
        values = [
            (name, self._pbx_row_parts(formatted, {key[n] for key in totals}))
            for n, (name, formatted, _ranks) in enumerate(columns)
        ]
        dated = [n for n, (_name, parts) in enumerate(values) if parts[1]]
        base_leaves = tuple(base)
        base_false = base == expression.FALSE_DOMAIN
        rows = []
        for key in sorted(totals, key=order):
            row = {}
            leaves, count, false = base_leaves, 1 if base else 0, base_false
            for (name, (parts, _dated)), part in zip(values, key, strict=True):
                label, group_leaves, is_false, _range = parts[part]
                row[name] = label
                if group_leaves:
                    leaves += group_leaves
                    count += 1
                    false = false or is_false
            total = totals[key]
            for name, kind, n, total_n in measures:
                if kind == "count":
                    row[name] = total[n] or 0
                elif kind == "value":
                    row[name] = False if total[n] is None else total[n]
                else:  # average: sum over count
                    row[name] = total[n] / total[total_n] if total[total_n] else False
            # A tuple (a JSON array all the same): the garbage collector
            # stops tracking a tuple of plain values, not a list.
            if not groupby:
                row["__domain"] = domain
            elif false:
                row["__domain"] = tuple(expression.FALSE_DOMAIN)
            elif count:
                row["__domain"] = ("&",) * (count - 1) + leaves
            else:
                row["__domain"] = tuple(expression.TRUE_DOMAIN)
            dates = [
                (values[n][0], values[n][1][0][key[n]][3])
                for n in dated
                if values[n][1][0][key[n]][3] is not NO_RANGE
            ]
            if dates:
                row["__range"] = self._pbx_shared_range(ranges, dates)
            rows.append(row)
        return rows

    @api.model
    def _pbx_row_parts(self, formatted, keys):
        """({key: (label, domain leaves, always false, range)}, any range) of
        the group values ``keys`` of one grouping, from ``formatted``."""
        parts, dated = {}, False
        for key in keys:
            label, group_range, group_domain = formatted[key]
            parts[key] = (
                label,
                tuple(group_domain),
                group_domain == expression.FALSE_DOMAIN,
                group_range,
            )
            dated = dated or group_range is not NO_RANGE
        return parts, dated

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

    def _read_group_postprocess_groupby(self, groupby_spec, raw_values):
        if self.env.context.get("pbx_raw_groups"):
            fname = parse_read_group_spec(groupby_spec)[0]
            if self._fields[fname].relational:
                return (value or False for value in raw_values)
        return super()._read_group_postprocess_groupby(groupby_spec, raw_values)
