from odoo import models


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    def session_info(self):
        result = super().session_info()
        # The Calls Report's pivot reads its table in one request only while
        # the switch of models/pbx_call_report_batch.py is on.
        result["clinic_pbx_report_batch"] = self.env[
            "pbx.call"
        ]._pbx_report_batch_enabled()
        return result
