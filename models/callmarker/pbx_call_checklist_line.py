from odoo import api, fields, models


class PbxCallChecklistLine(models.Model):
    """One quality criterion of a call and whether the admin met it."""

    _name = "pbx.call.checklist.line"
    _description = "Call Quality Checklist Line"
    _order = "call_id, sequence, id"

    call_id = fields.Many2one(
        "pbx.call", required=True, index=True, ondelete="cascade", readonly=True
    )
    company_id = fields.Many2one(related="call_id.company_id", store=True)
    sequence = fields.Integer(default=10, readonly=True)
    criterion = fields.Char(required=True, readonly=True)
    passed = fields.Boolean(readonly=True)
    weight = fields.Float(default=1.0, readonly=True)
    result = fields.Selection(
        [("passed", "Passed"), ("missed", "Missed")], compute="_compute_result"
    )

    _sql_constraints = [
        (
            "criterion_unique",
            "UNIQUE(call_id, criterion)",
            "A criterion appears only once on a call's checklist.",
        ),
    ]

    @api.depends("passed")
    def _compute_result(self):
        for line in self:
            line.result = "passed" if line.passed else "missed"
