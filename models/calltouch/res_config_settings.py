from odoo import api, fields, models

from ..pbx_sync_mixin import sync_settings_fields, with_fields


@with_fields(sync_settings_fields("calltouch_", "base.group_system"))
class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    calltouch_call_url = fields.Char(
        related="company_id.calltouch_call_url", readonly=False
    )
    calltouch_request_url = fields.Char(
        related="company_id.calltouch_request_url", readonly=False
    )
    calltouch_site_id = fields.Char(
        related="company_id.calltouch_site_id", readonly=False
    )
    calltouch_timezone = fields.Selection(
        related="company_id.calltouch_timezone", readonly=False
    )
    calltouch_synced_until = fields.Datetime(
        related="company_id.calltouch_synced_until", readonly=False
    )
    calltouch_last_result = fields.Char(related="company_id.calltouch_last_result")

    @api.constrains(
        "calltouch_enabled",
        "calltouch_call_url",
        "calltouch_request_url",
        "calltouch_site_id",
        "calltouch_token",
        "calltouch_time_lag",
        "calltouch_timezone",
    )
    def _check_calltouch_settings(self):
        # Checked here, once every value is on the company: the related
        # fields are written to the company one by one.
        self.company_id._pbx_sync_check_settings("calltouch")

    def action_calltouch_test_connection(self):
        self.ensure_one()
        company = self.company_id
        return company._pbx_sync_tested(
            "calltouch", *company._calltouch_test_connection()
        )

    def action_calltouch_sync(self):
        self.ensure_one()
        company = self.company_id
        company._pbx_sync_check_enabled("calltouch")
        stats = company._calltouch_sync()
        return company._pbx_sync_ran(
            "calltouch", stats, stats and company.calltouch_last_result
        )
