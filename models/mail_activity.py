from odoo import models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    def _action_done(self, feedback=False, attachment_ids=None):
        # A callback done, by hand or by the call-back rule, leaves the
        # Missed Calls screen.
        # sudo: only clears the screen's flag of the calls of these
        #   activities, which the user is allowed to mark done
        calls = (
            self.env["pbx.call"]
            .sudo()
            .search(
                [("callback_activity_id", "in", self.ids), ("callback_open", "=", True)]
            )
        )
        calls.callback_open = False
        return super()._action_done(feedback=feedback, attachment_ids=attachment_ids)
