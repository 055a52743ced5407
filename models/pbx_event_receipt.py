from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

# Receipts are kept this many days by default: a PBX or relay replaying a
# batch within that time gets its events counted as duplicates.
DEFAULT_RECEIPT_DAYS = 30


class PbxEventReceipt(models.Model):
    """Fingerprint of every PBX event received, so a replay changes nothing."""

    _name = "pbx.event.receipt"
    _description = "PBX Event Receipt"
    _log_access = False
    _order = "id desc"

    connection_id = fields.Many2one(
        "pbx.connection", required=True, ondelete="cascade", readonly=True
    )
    fingerprint = fields.Char(required=True, readonly=True)
    received_at = fields.Datetime(required=True, readonly=True)

    _sql_constraints = [
        (
            "fingerprint_unique",
            "UNIQUE(connection_id, fingerprint)",
            "This event was already received.",
        ),
    ]

    @api.model
    def _receipt_days(self):
        # sudo: reads one clinic_pbx system parameter, the replay window
        days = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("clinic_pbx.event_receipt_days", DEFAULT_RECEIPT_DAYS)
        )
        try:
            return max(1, int(days))
        except (TypeError, ValueError):
            return DEFAULT_RECEIPT_DAYS

    @api.autovacuum
    def _gc_old_receipts(self):
        """Forget events received before the replay window.

        An event replayed after that is folded into its call again, which
        leaves the call as it was: folding the same events gives the same call.
        """
        limit = fields.Datetime.now() - timedelta(days=self._receipt_days())
        self.env.cr.execute(
            SQL("DELETE FROM pbx_event_receipt WHERE received_at < %s", limit)
        )
