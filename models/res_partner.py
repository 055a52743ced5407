from odoo import fields, models


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "pbx.phone.keys.mixin"]

    pbx_call_count = fields.Integer("Calls", compute="_compute_pbx_call_count")

    def _compute_pbx_call_count(self):
        Call = self.env["pbx.call"]
        if not Call.has_access("read"):
            self.pbx_call_count = 0
            return
        counts = dict(
            Call._read_group(
                [("partner_ids", "in", self.ids)], ["partner_ids"], ["__count"]
            )
        )
        for partner in self:
            partner.pbx_call_count = counts.get(partner._origin, 0)

    def action_view_pbx_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "clinic_pbx.pbx_call_action"
        )
        action["domain"] = [("partner_ids", "in", self.ids)]
        action["context"] = {"search_default_filter_period": 0}
        return action

    pbx_touch_ids = fields.One2many("pbx.touch", "partner_id", string="Touches")
    pbx_touch_count = fields.Integer("Touch Count", compute="_compute_pbx_touch_count")

    def _compute_pbx_touch_count(self):
        counts = self.env["pbx.touch"]._pbx_counts("partner_id", self)
        for partner in self:
            partner.pbx_touch_count = counts.get(partner._origin, 0)

    def action_view_pbx_touches(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "clinic_pbx.pbx_touch_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {
            "default_partner_id": self.id,
            "default_phone": self.mobile or self.phone,
        }
        return action
