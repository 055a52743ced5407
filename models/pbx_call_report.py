# Copyright 2026 Clinic PBX
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Calls Report's groupings and measures on ``pbx.call``.

The report is the pivot and graph views of the call log itself, so record
rules, filters, favourites and the xlsx export behave as everywhere in
Odoo. Measures that are not plain column aggregates (answer rate, service
level, missed calls left without a call-back) and the hour of day in the
reader's timezone are computed fields with an SQL expression: Odoo groups
and aggregates them in the database like stored columns.
"""

import pytz

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.query import Query

SERVICE_LEVEL_SECONDS = 20

REPORT_FIELDS = ("start_hour", "answered_pct", "service_level_pct", "missed_open_count")

HOURS = [(f"{hour:02d}", f"{hour:02d}:00") for hour in range(24)]


class PbxCall(models.Model):
    _inherit = "pbx.call"

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
            return SQL(
                "to_char(timezone(%s, timezone('UTC', %s)), 'HH24')",
                self._pbx_report_tz(),
                column("start"),
            )
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

    def _read_group_orderby(self, order, groupby_terms, query):
        # Call types read in the report's order: Outgoing, Incoming, Internal.
        if "direction" in groupby_terms:
            groupby_terms = dict(groupby_terms)
            groupby_terms["direction"] = SQL(
                "(CASE %s WHEN 'outgoing' THEN 0 WHEN 'incoming' THEN 1 ELSE 2 END)",
                groupby_terms["direction"],
            )
        return super()._read_group_orderby(order, groupby_terms, query)

    def _read_group_select(self, aggregate_spec, query):
        # A missed call has no conversation and a call not called back has
        # no call-back time: their zeros would drag the averages down.
        if aggregate_spec == "talk_seconds:avg":
            return SQL(
                "AVG(CASE WHEN %s = 'answered' THEN %s END)",
                self._field_to_sql(self._table, "disposition", query),
                self._field_to_sql(self._table, "talk_seconds", query),
            )
        if aggregate_spec == "callback_delay:avg":
            return SQL(
                "AVG(CASE WHEN %s THEN %s END)",
                self._field_to_sql(self._table, "called_back", query),
                self._field_to_sql(self._table, "callback_delay", query),
            )
        return super()._read_group_select(aggregate_spec, query)
