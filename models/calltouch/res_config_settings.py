from odoo import _, api, fields, models
from odoo.exceptions import UserError


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    calltouch_enabled = fields.Boolean(
        related="company_id.calltouch_enabled", readonly=False
    )
    calltouch_call_url = fields.Char(
        related="company_id.calltouch_call_url", readonly=False
    )
    calltouch_request_url = fields.Char(
        related="company_id.calltouch_request_url", readonly=False
    )
    calltouch_site_id = fields.Char(
        related="company_id.calltouch_site_id", readonly=False
    )
    calltouch_token = fields.Char(
        related="company_id.calltouch_token",
        readonly=False,
        groups="base.group_system",
    )
    calltouch_time_lag = fields.Integer(
        related="company_id.calltouch_time_lag", readonly=False
    )
    calltouch_timezone = fields.Selection(
        related="company_id.calltouch_timezone", readonly=False
    )
    calltouch_synced_until = fields.Datetime(
        related="company_id.calltouch_synced_until", readonly=False
    )
    calltouch_last_success_at = fields.Datetime(
        related="company_id.calltouch_last_success_at"
    )
    calltouch_last_result = fields.Char(related="company_id.calltouch_last_result")
    calltouch_last_error = fields.Text(related="company_id.calltouch_last_error")
    calltouch_last_error_at = fields.Datetime(
        related="company_id.calltouch_last_error_at"
    )
    calltouch_paused = fields.Boolean(related="company_id.calltouch_paused")

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
        self.company_id._calltouch_check_settings()

    def _calltouch_notification(self, worked, message, title):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": "success" if worked else "danger",
                "sticky": not worked,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_calltouch_test_connection(self):
        self.ensure_one()
        worked, message = self.company_id._calltouch_test_connection()
        return self._calltouch_notification(
            worked,
            message,
            _("Calltouch answered")
            if worked
            else _("The connection to Calltouch does not work"),
        )

    def action_calltouch_sync(self):
        self.ensure_one()
        company = self.company_id
        if not company.calltouch_enabled:
            raise UserError(_("Turn the Calltouch Service on and save first."))
        stats = company._calltouch_sync()
        if stats is None:
            return self._calltouch_notification(
                False,
                _(
                    "Another Calltouch sync of this company is running; try again "
                    "in a minute."
                ),
                _("Calltouch sync is busy"),
            )
        if stats:
            return self._calltouch_notification(
                True, company.calltouch_last_result, _("Calltouch synchronised")
            )
        return self._calltouch_notification(
            False, company.calltouch_last_error, _("Calltouch sync failed")
        )
