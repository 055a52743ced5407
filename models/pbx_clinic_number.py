"""Clinic numbers: the phone numbers a clinic publishes, each with its ad source.

A clinic prints one number on its flyers, another on its 2GIS card, a third
on Yandex Maps. An incoming call to one of them (its DID) is attributed to
that number's UTM source, medium and campaign, and gets a touch saying so —
unless Calltouch tracked the call: Calltouch's touch wins, and a call never
has two touches of its own (the number's touch is removed when Calltouch's
arrives, and none is made once Calltouch's is there).

Every incoming call looks its DID up: the numbers of a company are kept per
process (an ``ormcache`` emptied when a clinic number changes), so the Event
API pays no query for it.

A call is its number's **first contact** when no earlier call of the
company had that number: the Calls Report counts them as *New Callers*, per
source.
"""

from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools.phone import phone_key
from .pbx_call_ingest import NEW_CALL

UTM_COLUMNS = ("source_id", "medium_id", "campaign_id")


class PbxClinicNumber(models.Model):
    _name = "pbx.clinic.number"
    _description = "Clinic Number"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(
        required=True, help="Where the number is published, e.g. 2GIS card."
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    number = fields.Char(
        required=True, help="The number as published; calls to it are attributed."
    )
    number_key = fields.Char(
        compute="_compute_number_key",
        store=True,
        help="The number in international (E.164) form, as calls' DIDs are read.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    source_id = fields.Many2one("utm.source", ondelete="restrict")
    medium_id = fields.Many2one("utm.medium", ondelete="restrict")
    campaign_id = fields.Many2one("utm.campaign", ondelete="restrict")
    call_count = fields.Integer(compute="_compute_call_count")

    _sql_constraints = [
        (
            "number_key_company_uniq",
            "UNIQUE (company_id, number_key)",
            "This number is already a clinic number of the company.",
        ),
    ]

    @api.depends("number", "company_id.country_id")
    def _compute_number_key(self):
        for record in self:
            country = record.company_id.country_id.code or "RU"
            record.number_key = phone_key(record.number or "", country) or False

    @api.constrains("number")
    def _check_number(self):
        for record in self:
            if not record.number_key:
                raise ValidationError(
                    _(
                        "%(number)s is not a phone number a caller can dial.",
                        number=record.number,
                    )
                )

    def _compute_call_count(self):
        counts = dict(
            self.env["pbx.call"]._read_group(
                [("clinic_number_id", "in", self.ids)],
                ["clinic_number_id"],
                ["__count"],
            )
        )
        for record in self:
            record.call_count = counts.get(record, 0)

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    @api.model
    @tools.ormcache("company_id")
    def _numbers_of(self, company_id):
        """{E.164 key: clinic number id} of a company's active numbers."""
        self.flush_model(["active", "company_id", "number_key"])
        self.env.cr.execute(
            SQL(
                """
                SELECT number_key, id FROM pbx_clinic_number
                WHERE active AND company_id = %s AND number_key IS NOT NULL
                """,
                company_id,
            )
        )
        return dict(self.env.cr.fetchall())

    def action_view_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "clinic_pbx.pbx_call_action"
        )
        action["domain"] = [("clinic_number_id", "=", self.id)]
        action["context"] = {}
        return action


class PbxCall(models.Model):
    _inherit = "pbx.call"

    clinic_number_id = fields.Many2one(
        "pbx.clinic.number",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The published clinic number the caller dialled.",
    )
    source_id = fields.Many2one("utm.source", readonly=True, index="btree_not_null")
    medium_id = fields.Many2one("utm.medium", readonly=True)
    campaign_id = fields.Many2one("utm.campaign", readonly=True)
    first_contact = fields.Boolean(
        readonly=True,
        help="No earlier call of the company had this number: a new caller.",
    )

    def _ingest_row_fields(self):
        return (*super()._ingest_row_fields(), "clinic_number_id")

    def _values_from_state(self, lookups, state):
        vals = super()._values_from_state(lookups, state)
        number = False
        if vals["direction"] == "incoming":
            did = state.get("did") or state.get("dst")
            key = phone_key(did, lookups.country) if did else False
            if key:
                number = (
                    self.env["pbx.clinic.number"]
                    ._numbers_of(vals["company_id"])
                    .get(key, False)
                )
        vals["clinic_number_id"] = number
        return vals

    def _insert_calls(self, vals_list):
        self._pbx_set_first_contacts(vals_list)
        return super()._insert_calls(vals_list)

    def _pbx_set_first_contacts(self, vals_list):
        """Give ``first_contact`` to new incoming calls whose number has no
        earlier call in their company, in the values they are inserted with
        (a new call is written once). A call older than the first one known
        (a CDR read late) takes the flag from it."""
        for vals in vals_list:
            vals["first_contact"] = False  # every row inserts the same columns
        incoming = [
            vals
            for vals in vals_list
            if vals.get("direction") == "incoming" and vals.get("external_key")
        ]
        if not incoming:
            return
        self.flush_model(["company_id", "external_key", "start", "first_contact"])
        self.env.cr.execute(
            SQL(
                """
                SELECT company_id, external_key, min(start) FROM pbx_call
                WHERE external_key = ANY(%s) AND company_id = ANY(%s)
                GROUP BY company_id, external_key
                """,
                sorted({vals["external_key"] for vals in incoming}),
                sorted({vals["company_id"] for vals in incoming}),
            )
        )
        first_known = {(co, key): start for co, key, start in self.env.cr.fetchall()}
        earliest = {}
        for vals in sorted(incoming, key=lambda vals: vals["start"]):
            number = (vals["company_id"], vals["external_key"])
            known = first_known.get(number)
            vals["first_contact"] = number not in earliest and (
                known is None or vals["start"] < known
            )
            earliest.setdefault(number, vals)
        demoted = [
            number
            for number, vals in earliest.items()
            if vals["first_contact"] and number in first_known
        ]
        for company_id, key in demoted:
            self.search(
                [
                    ("company_id", "=", company_id),
                    ("external_key", "=", key),
                    ("first_contact", "=", True),
                ]
            ).write({"first_contact": False})

    def _after_ingest(self, events, changed):
        result = super()._after_ingest(events, changed)
        # A new call to no clinic number has nothing to attribute.
        attributed = self.filtered(
            lambda call: (
                "clinic_number_id" in changed.get(call.id, ())
                and (call.clinic_number_id or NEW_CALL not in changed[call.id])
            )
        )
        if attributed:
            attributed._pbx_attribute_to_numbers()
        return result

    def _pbx_attribute_to_numbers(self):
        """Give these calls their clinic number's source, and its touch,
        unless Calltouch tracked them: one search for the touches of all of
        them, one create for the new ones."""
        Touch = self.env["pbx.touch"]
        existing = Touch.search(
            [
                ("call_id", "in", self.ids),
                ("origin", "in", ("calltouch", "clinic_number")),
            ]
        )
        tracked = set(existing.filtered(lambda t: t.origin == "calltouch").call_id.ids)
        own = {t.call_id.id: t for t in existing if t.origin == "clinic_number"}
        new_touches = []
        for call in self:
            if call.id in tracked:
                continue
            number = call.clinic_number_id
            utm = {
                "source_id": number.source_id.id,
                "medium_id": number.medium_id.id,
                "campaign_id": number.campaign_id.id,
            }
            call.write(utm)
            touch = own.get(call.id, Touch)
            if not number:
                touch.unlink()
            elif touch:
                touch.write({**utm, "tracking_number": number.number})
            else:
                new_touches.append(
                    {
                        **utm,
                        "company_id": call.company_id.id,
                        "date": call.start,
                        "channel": "call",
                        "origin": "clinic_number",
                        "call_id": call.id,
                        "phone": call.src,
                        "partner_id": call.partner_id.id,
                        "lead_id": call.lead_ids[:1].id,
                        "user_id": call.user_id.id,
                        "tracking_number": number.number,
                    }
                )
        if new_touches:
            Touch.create(new_touches)


class PbxTouch(models.Model):
    _inherit = "pbx.touch"

    origin = fields.Selection(
        selection_add=[("clinic_number", "Clinic Number")],
        ondelete={"clinic_number": "cascade"},
    )

    @api.model_create_multi
    def create(self, vals_list):
        touches = super().create(vals_list)
        touches._pbx_calltouch_wins()
        return touches

    def write(self, vals):
        result = super().write(vals)
        if "call_id" in vals or any(key in vals for key in UTM_COLUMNS):
            self._pbx_calltouch_wins()
        return result

    def _pbx_calltouch_wins(self):
        """A call tracked by Calltouch takes its Calltouch touch's source and
        loses the touch of its clinic number."""
        tracked = self.filtered(lambda t: t.origin == "calltouch" and t.call_id)
        if not tracked:
            return
        # sudo: the attribution of the call follows the tracker's touch,
        #   whoever linked it
        calls = tracked.call_id.sudo()
        self.sudo().search(
            [("call_id", "in", calls.ids), ("origin", "=", "clinic_number")]
        ).unlink()
        for touch in tracked:
            touch.call_id.sudo().write({name: touch[name].id for name in UTM_COLUMNS})
