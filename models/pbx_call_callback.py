"""Missed calls and call-backs; calls re-linked when their contacts change.

A missed incoming call is *called back* by the first later call with the same
number that got through (an answered outgoing call, or the caller calling
again and being answered) within the call-back window
(``clinic_pbx.callback_window_hours``).
"""

from collections import defaultdict
from datetime import timedelta

from odoo import Command, api, models
from odoo.tools import SQL

DEFAULT_CALLBACK_WINDOW_HOURS = 24
_CALLBACK_COLUMNS = [
    "company_id",
    "external_key",
    "start",
    "direction",
    "state",
    "disposition",
    "missed",
    "called_back",
    "callback_call_id",
    "callback_delay",
]


class PbxCall(models.Model):
    _inherit = "pbx.call"

    def _after_ingest(self, events, changed):
        result = super()._after_ingest(events, changed)
        # Only a finished call can be missed, or call a missed one back.
        self.filtered(
            lambda call: changed.get(call.id) and call.state == "done"
        )._update_callbacks()
        return result

    @api.model
    def _callback_window(self):
        # sudo: reads one clinic_pbx system parameter, the call-back window
        hours = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param(
                "clinic_pbx.callback_window_hours", DEFAULT_CALLBACK_WINDOW_HOURS
            )
        )
        try:
            return timedelta(hours=float(hours))
        except (TypeError, ValueError):
            return timedelta(hours=DEFAULT_CALLBACK_WINDOW_HOURS)

    def _update_callbacks(self):
        """Mark missed calls of these numbers as called back where they were.

        A missed call is called back by the first later call with the same
        number that got through (an answered outgoing call, or the caller
        calling again and being answered) within the call-back window. A
        clinic calls back its own missed calls: another company reaching the
        same number does not count.

        Returns the missed calls this marked called back.
        """
        mine = [call for call in self if call.external_key]
        if not mine:
            return self.browse()
        window = self._callback_window()
        starts = [call.start for call in mine]
        columns = self._callback_row_fields()
        self.flush_model(columns)
        # Read as rows, not records: every finished call a PBX posts asks it.
        self.env.cr.execute(
            SQL(
                """
                SELECT id, %s
                FROM pbx_call
                WHERE external_key = ANY(%s) AND start BETWEEN %s AND %s
                  AND direction IN ('incoming', 'outgoing')
                  AND company_id = ANY(%s)
                ORDER BY start, id
                """,
                SQL(", ").join(SQL.identifier(name) for name in columns),
                sorted({call.external_key for call in mine}),
                min(starts) - window,
                max(starts) + window,
                sorted({call.company_id.id for call in mine}),
            )
        )
        by_key = defaultdict(list)
        reached_now = []
        updates = {}
        cache = {}  # for _callback_reached_values, over this run
        for row in self.env.cr.dictfetchall():
            by_key[row["company_id"], row["external_key"]].append(row)
        for calls in by_key.values():
            reached = [
                c
                for c in calls
                if c["state"] == "done" and c["disposition"] == "answered"
            ]
            for missed in (c for c in calls if c["missed"]):
                after = next(
                    (
                        c
                        for c in reached
                        if c["start"] > missed["start"]
                        and c["start"] - missed["start"] <= window
                    ),
                    None,
                )
                vals = {
                    "called_back": bool(after),
                    "callback_call_id": after["id"] if after else False,
                    "callback_delay": int(
                        (after["start"] - missed["start"]).total_seconds()
                    )
                    if after
                    else 0,
                }
                if any(
                    (missed[name] or False) != (vals[name] or False) for name in vals
                ):
                    if after:
                        vals.update(self._callback_reached_values(missed, after, cache))
                        reached_now.append(missed["id"])
                    updates[missed["id"]] = vals
        self._pbx_write_columns(updates)
        return self.browse(reached_now)

    def _callback_row_fields(self):
        """The columns of the rows _update_callbacks reads (the hooks below
        get them)."""
        return _CALLBACK_COLUMNS

    def _callback_reached_values(self, missed, after, cache):
        """More values to write on a missed call (``missed``: its row) when
        the call ``after`` (its row) reached its number; ``cache`` is shared
        by the calls of one run."""
        return {}

    def _pbx_write_columns(self, updates):
        """Write {call id: {field: value}} on calls: one UPDATE per set of
        fields, for plain stored fields nothing else is computed from."""
        groups = defaultdict(list)
        for call_id, vals in updates.items():
            groups[tuple(sorted(vals))].append((call_id, vals))
        now = self.env.cr.now()
        for names, items in groups.items():
            columns = [[call_id for call_id, _vals in items]]
            for name in names:
                field = self._fields[name]
                empty = False if field.type == "boolean" else None
                columns.append(
                    [
                        empty if vals[name] is False else vals[name]
                        for _id, vals in items
                    ]
                )
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE pbx_call c SET %s, write_uid = %s, write_date = %s
                    FROM unnest(%s) AS v(id, %s) WHERE c.id = v.id
                    """,
                    SQL(", ").join(
                        SQL("%s = v.%s", SQL.identifier(name), SQL.identifier(name))
                        for name in names
                    ),
                    self.env.uid,
                    now,
                    SQL(", ").join(
                        SQL(
                            "%s::%s[]",
                            column,
                            SQL(
                                self._fields[name].column_type[1]
                                if name != "id"
                                else "int"
                            ),
                        )
                        for name, column in zip(("id", *names), columns, strict=True)
                    ),
                    SQL(", ").join(SQL.identifier(name) for name in names),
                )
            )
            self.browse(call_id for call_id, _vals in items).invalidate_recordset(
                [*names, "write_uid", "write_date"]
            )

    # ------------------------------------------------------------------
    # Contacts created or corrected after their calls
    # ------------------------------------------------------------------

    @api.model
    def _relink_contacts(self, keys):
        """Recompute the patients and leads of the calls of these numbers.

        Returns the calls whose patients or leads changed.
        """
        changed = []
        keys = {key for key in keys if key}
        if not keys:
            return self.browse()
        # sudo: the links follow the contacts index (_find_contacts), whoever saved the
        #   contact; nothing the user chose is written on the calls
        calls = self.sudo().search([("external_key", "in", list(keys))])
        for company in calls.company_id:
            company_calls = calls.filtered(lambda c, co=company: c.company_id == co)
            partners, leads = self._find_contacts(keys, company)
            for call in company_calls:
                p_ids = partners.get(call.external_key, [])
                l_ids = leads.get(call.external_key, [])
                if set(p_ids) != set(call.partner_ids.ids) or set(l_ids) != set(
                    call.lead_ids.ids
                ):
                    call.write(
                        {
                            "partner_ids": [Command.set(p_ids)],
                            "lead_ids": [Command.set(l_ids)],
                            "partner_id": p_ids[0] if p_ids else False,
                        }
                    )
                    changed.append(call.id)
        return self.browse(changed)
