from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    pbx_callback_window_hours = fields.Integer(
        "Call-back Window (hours)",
        config_parameter="clinic_pbx.callback_window_hours",
        default=24,
        help="A missed call counts as called back when the clinic reaches the "
        "number within this many hours.",
    )
    pbx_callback_assignment = fields.Selection(
        related="company_id.pbx_callback_assignment", readonly=False
    )
    pbx_callback_dispatcher_id = fields.Many2one(
        related="company_id.pbx_callback_dispatcher_id", readonly=False
    )
    pbx_callback_target_hours = fields.Float(
        related="company_id.pbx_callback_target_hours", readonly=False
    )
    pbx_resource_calendar_id = fields.Many2one(
        related="company_id.resource_calendar_id", readonly=False
    )
