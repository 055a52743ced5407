from odoo import fields, models


class PbxConnectionToken(models.TransientModel):
    """Shows a newly generated API token once; it is never saved."""

    _name = "pbx.connection.token"
    _description = "New PBX API Token"

    connection_id = fields.Many2one("pbx.connection", readonly=True)
    token = fields.Char(readonly=True)
