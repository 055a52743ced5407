from odoo import _, api, fields, models

from ..pbx_sync_mixin import sync_settings_fields, with_fields


@with_fields(sync_settings_fields("callmarker_", "base.group_system"))
class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    callmarker_call_data_url = fields.Char(
        related="company_id.callmarker_call_data_url", readonly=False
    )
    callmarker_request_data_url = fields.Char(
        related="company_id.callmarker_request_data_url", readonly=False
    )
    callmarker_integration_id = fields.Char(
        related="company_id.callmarker_integration_id", readonly=False
    )
    callmarker_low_score = fields.Integer(
        related="company_id.callmarker_low_score", readonly=False
    )
    callmarker_skipped = fields.Text(related="company_id.callmarker_skipped")
    callmarker_waiting_count = fields.Integer(compute="_compute_callmarker_counts")
    callmarker_failed_count = fields.Integer(compute="_compute_callmarker_counts")

    @api.depends("company_id")
    def _compute_callmarker_counts(self):
        Push = self.env["pbx.callmarker.push"]
        for settings in self:
            counts = Push._state_counts(settings.company_id)
            settings.callmarker_waiting_count = counts["pending"]
            settings.callmarker_failed_count = counts["failed"]

    @api.constrains(
        "callmarker_enabled",
        "callmarker_call_data_url",
        "callmarker_request_data_url",
        "callmarker_integration_id",
        "callmarker_token",
        "callmarker_time_lag",
    )
    def _check_callmarker_settings(self):
        self.company_id._pbx_sync_check_settings("callmarker")

    def action_callmarker_test_connection(self):
        self.ensure_one()
        company = self.company_id
        return company._pbx_sync_tested(
            "callmarker", *company._callmarker_test_connection()
        )

    def action_callmarker_sync_now(self):
        """Send waiting calls and fetch results now instead of at the next run."""
        self.ensure_one()
        company = self.company_id
        company._pbx_sync_check_enabled("callmarker")
        # sudo: res.config.settings is system-only (base ACL) and the service was
        #   checked on above; the sync reads admin-only fields
        return company._pbx_sync_ran(
            "callmarker",
            company.sudo()._callmarker_sync_one(),
            _("Calls sent and results fetched."),
        )

    def action_callmarker_view_queue(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "clinic_pbx.pbx_callmarker_push_action"
        )
        action["domain"] = [("company_id", "=", self.company_id.id)]
        return action
