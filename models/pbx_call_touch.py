from odoo import _, api, fields, models


class PbxCall(models.Model):
    _inherit = "pbx.call"

    touch_ids = fields.One2many("pbx.touch", "call_id", string="Touches")
    touch_count = fields.Integer(compute="_compute_touch_count")

    def _compute_touch_count(self):
        counts = dict(
            self.env["pbx.touch"]._read_group(
                [("call_id", "in", self.ids)], ["call_id"], ["__count"]
            )
        )
        for call in self:
            call.touch_count = counts.get(call._origin, 0)

    def _after_ingest(self, events, changed):
        """Calltouch calls that arrived before their PBX call find it now;
        touches of a call take the patient and responsible it now has."""
        result = super()._after_ingest(events, changed)
        # sudo: ingestion (already as superuser) links the company's waiting Calltouch
        #   touches to its calls
        self.env["pbx.touch"].sudo()._link_arrived_calls(self, changed)
        return result

    @api.model
    def _relink_contacts(self, keys):
        """Touches without a patient or lead take the ones of their number."""
        result = super()._relink_contacts(keys)
        # sudo: the touches follow the contacts index, whoever saved the contact;
        #   nothing the user chose is written
        self.env["pbx.touch"].sudo()._relink_contacts(keys)
        return result

    def action_log_touch(self):
        """The touch form for this call, filled in from it."""
        self.ensure_one()
        # Callable over RPC on any id: the caller's number and patient are
        # read as superuser only for a call the user may read.
        self.check_access("read")
        # sudo: read access was checked just above; only the number and patient go into
        #   the form's defaults
        call = self.sudo()
        return {
            "type": "ir.actions.act_window",
            "name": _("Log a Touch"),
            "res_model": "pbx.touch",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "default_call_id": self.id,
                "default_partner_id": call.partner_id.id,
                "default_phone": call.external_key or call.src,
                "default_channel": "call",
            },
        }

    def action_view_touches(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "clinic_pbx.pbx_touch_action"
        )
        action["domain"] = [("call_id", "=", self.id)]
        action["context"] = {"default_call_id": self.id}
        return action
