from odoo import _, api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    callmarker_enabled = fields.Boolean(
        related="company_id.callmarker_enabled", readonly=False
    )
    callmarker_call_data_url = fields.Char(
        related="company_id.callmarker_call_data_url", readonly=False
    )
    callmarker_request_data_url = fields.Char(
        related="company_id.callmarker_request_data_url", readonly=False
    )
    callmarker_integration_id = fields.Char(
        related="company_id.callmarker_integration_id", readonly=False
    )
    callmarker_token = fields.Char(
        related="company_id.callmarker_token",
        readonly=False,
        groups="base.group_system",
    )
    callmarker_time_lag = fields.Integer(
        related="company_id.callmarker_time_lag", readonly=False
    )
    callmarker_low_score = fields.Integer(
        related="company_id.callmarker_low_score", readonly=False
    )
    callmarker_last_success_at = fields.Datetime(
        related="company_id.callmarker_last_success_at"
    )
    callmarker_last_error = fields.Text(related="company_id.callmarker_last_error")
    callmarker_last_error_at = fields.Datetime(
        related="company_id.callmarker_last_error_at"
    )
    callmarker_paused = fields.Boolean(related="company_id.callmarker_paused")
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
