from odoo import models
from odoo.http import request

from ..controllers.events import PbxEventsDispatcher


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _match(cls, path_info):
        rule, args = super()._match(path_info)
        # Odoo closes the cursor it matched the route with before it sets the
        # route's dispatcher; when the database goes away right then, the
        # closing fails and the default dispatcher would answer an HTML page.
        # The Event API's own dispatcher answers it as a JSON 503 instead.
        if rule.endpoint.routing.get("type") == PbxEventsDispatcher.routing_type:
            request.dispatcher = PbxEventsDispatcher(request)
        return rule, args

    def session_info(self):
        result = super().session_info()
        # The Calls Report's pivot reads its table in one request only while
        # the switch of models/pbx_call_report_batch.py is on.
        result["clinic_pbx_report_batch"] = self.env[
            "pbx.call"
        ]._pbx_report_batch_enabled()
        return result
