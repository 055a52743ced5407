from odoo import api, models

from ..tools import callmarker_adapter, callmarker_demo


class PbxConnection(models.Model):
    _inherit = "pbx.connection"

    @api.model
    def _demo_populate_callmarker(self, connection_ids):
        """Give the demo's answered calls the tags, scores and checklists a
        connected Callmarker would return, through the same parser and the
        same method as pulled results."""
        connection = self.browse(connection_ids)
        calls = (
            self.env["pbx.call"]
            .sudo()
            .search(
                [
                    ("connection_id", "=", connection.id),
                    ("state", "=", "done"),
                    ("disposition", "=", "answered"),
                    ("talk_seconds", ">", 0),
                ],
                order="start, id",
            )
        )
        raw = callmarker_demo.results_for(
            [{"id": call.id, "ended_at": call.ended_at or call.start} for call in calls]
        )
        results = [callmarker_adapter.parse_result(item) for item in raw]
        self.env["pbx.call"]._callmarker_apply_results(connection.company_id, results)
        # A manager's touch: tags that call for attention in red.
        self.env["pbx.call.tag"].search(
            [("name", "in", ("Complaint", "Not resolved"))]
        ).write({"color": 1})
        return True
