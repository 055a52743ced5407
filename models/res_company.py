from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    pbx_callback_assignment = fields.Selection(
        [
            ("extension", "Users of the extension, in turn"),
            ("least_loaded", "Least loaded user of the extension"),
            ("dispatcher", "Dispatcher"),
            ("none", "Nobody (no activities)"),
        ],
        string="Callback Activities",
        required=True,
        default="extension",
        help="Who gets the Call back activity of a missed call. Only PBX users "
        "qualify; when the extension has none, the dispatcher gets it, else the "
        "least loaded PBX Manager.",
    )
    pbx_callback_dispatcher_id = fields.Many2one(
        "res.users",
        string="Callback Dispatcher",
        domain=lambda self: [
            ("groups_id", "in", self.env.ref("clinic_pbx.clinic_pbx_group_user").ids),
            ("share", "=", False),
        ],
        help="Gets the Call back activities in Dispatcher mode, and those of "
        "extensions without PBX users in the other modes.",
    )
    pbx_callback_target_hours = fields.Float(
        "Callback Target (working hours)",
        default=2.0,
        help="A missed call should be called back within this much working time "
        "(the company's working schedule). Sets the due date of its Call back "
        "activity and the report's Called Back Within Target.",
    )

    _sql_constraints = [
        (
            "pbx_callback_target_hours_positive",
            "CHECK (pbx_callback_target_hours >= 0)",
            "The callback target cannot be negative.",
        ),
    ]
