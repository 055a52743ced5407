from odoo import fields, models


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
