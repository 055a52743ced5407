from odoo import fields, models


class PbxRecordingListen(models.Model):
    """Who listened to which call recording, and when."""

    _name = "pbx.recording.listen"
    _description = "PBX Recording Listen"
    _order = "listened_at desc, id desc"
    _log_access = False

    call_id = fields.Many2one(
        "pbx.call", required=True, index=True, ondelete="cascade", readonly=True
    )
    user_id = fields.Many2one("res.users", required=True, readonly=True)
    listened_at = fields.Datetime(
        required=True, readonly=True, default=fields.Datetime.now
    )
    byte_range = fields.Char("Range", readonly=True)
