from odoo import fields, models


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "pbx.phone.keys.mixin"]

    pbx_touch_ids = fields.One2many("pbx.touch", "lead_id", string="Touches")
    pbx_touch_count = fields.Integer("Touch Count", compute="_compute_pbx_touch_count")

    def _compute_pbx_touch_count(self):
        counts = self.env["pbx.touch"]._pbx_counts("lead_id", self)
        for lead in self:
            lead.pbx_touch_count = counts.get(lead._origin, 0)

    def action_view_pbx_touches(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "clinic_pbx.pbx_touch_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {
            "default_lead_id": self.id,
            "default_partner_id": self.partner_id.id,
            "default_phone": self.phone or self.mobile,
        }
        return action
