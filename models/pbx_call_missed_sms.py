"""An SMS to the caller we missed (optional, off by default).

With the company's *Text missed callers* setting on, a finished missed
incoming call whose number is known (not withheld) and not reached since
gets one SMS to that number, from the company's ``sms.template``, through
Odoo's ``sms`` module: the SMS is queued (Odoo's SMS scheduled action sends
it with whatever gateway the database uses) and logged on the call.

- Never at night: a call missed outside the company's working hours
  (``after_hours``) is not texted, then or later; its Call back activity
  remains.
- At most once per number and day (the clinic's day, in its PBX
  connection's time zone), whatever the concurrency: the number's row in
  ``pbx_callback_number`` is upserted first (see
  ``_pbx_callback_lock``) and holds the day of the last SMS.
"""

import pytz

from odoo import fields, models
from odoo.tools import SQL


class ResCompany(models.Model):
    _inherit = "res.company"

    pbx_missed_sms = fields.Boolean(
        "Text Missed Callers",
        help="Send an SMS to a caller whose call was missed during working hours, "
        "at most once a day per number.",
    )
    pbx_missed_sms_template_id = fields.Many2one(
        "sms.template",
        string="Missed Call SMS",
        domain=[("model", "=", "pbx.call")],
        default=lambda self: self.env.ref(
            "clinic_pbx.sms_template_missed_call", raise_if_not_found=False
        ),
        help="The text sent to a caller we missed (empty: the module's own).",
    )


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    pbx_missed_sms = fields.Boolean(related="company_id.pbx_missed_sms", readonly=False)
    pbx_missed_sms_template_id = fields.Many2one(
        related="company_id.pbx_missed_sms_template_id", readonly=False
    )


class PbxCallbackNumber(models.Model):
    _inherit = "pbx.callback.number"

    last_sms_day = fields.Date(help="The clinic's day of the last SMS to the number.")


class PbxCall(models.Model):
    _inherit = "pbx.call"

    def _after_ingest(self, events, changed):
        result = super()._after_ingest(events, changed)
        # The company's setting last: reading it loads the company, which
        # most events (rings, answers) have no other reason to do.
        texted = self.filtered(
            lambda call: (
                changed.get(call.id)
                and call.state == "done"
                and call.missed
                and not call.after_hours
                and not call.called_back
                and call.external_key
                and call.company_id.pbx_missed_sms
            )
        )
        if texted:
            texted._pbx_missed_sms()
        return result

    def _pbx_missed_sms(self):
        """Queue the SMS of these missed calls, one per number and day."""
        for call in self.sorted(lambda c: (c.start, c.id)):
            template = call.company_id.pbx_missed_sms_template_id or self.env.ref(
                "clinic_pbx.sms_template_missed_call", raise_if_not_found=False
            )
            if not template:
                continue
            call._pbx_callback_lock([(call.company_id.id, call.external_key)])
            tz = pytz.timezone(call.connection_id.timezone or "UTC")
            day = pytz.utc.localize(call.start).astimezone(tz).date()
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE pbx_callback_number SET last_sms_day = %s
                    WHERE company_id = %s AND external_key = %s
                      AND last_sms_day IS DISTINCT FROM %s
                    RETURNING id
                    """,
                    day,
                    call.company_id.id,
                    call.external_key,
                    day,
                )
            )
            if not self.env.cr.fetchone():
                continue  # texted today already
            self.env["pbx.callback.number"].invalidate_model(["last_sms_day"])
            call._message_sms_with_template(
                template=template,
                partner_ids=[],
                sms_numbers=[call.external_key],
                put_in_queue=True,
            )
