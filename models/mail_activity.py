from collections import defaultdict

from markupsafe import Markup

from odoo import fields, models
from odoo.tools import SQL
from odoo.tools.mail import generate_tracking_message_id


class MailActivity(models.Model):
    _inherit = "mail.activity"

    def _action_done(self, feedback=False, attachment_ids=None):
        # A callback done, by hand or by the call-back rule, leaves the
        # Missed Calls screen.
        self._pbx_leave_missed_calls()
        return super()._action_done(feedback=feedback, attachment_ids=attachment_ids)

    def _pbx_leave_missed_calls(self):
        """Take the calls of these activities off PBX › Missed Calls (only
        the flag of their calls, which the user is allowed to mark done)."""
        self.env["pbx.call"].flush_model(["callback_activity_id", "callback_open"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE pbx_call SET callback_open = FALSE
                WHERE callback_activity_id = ANY(%s) AND callback_open
                RETURNING id
                """,
                self.ids,
            )
        )
        self.env["pbx.call"].browse(
            row[0] for row in self.env.cr.fetchall()
        ).invalidate_recordset(["callback_open"])

    def _pbx_callback_done(self, feedback, texts):
        """Mark these Call back activities done, each with its ``feedback``
        ({activity id: text}), as ``_action_done`` does for an activity type
        that keeps done activities: a message on the document (the activity,
        its original note and the feedback, as Odoo's *Activity done* message
        shows them), the activity archived with today as its done date, and
        the calls' Missed Calls flag cleared. In bulk: a fixed number of
        statements however many there are."""
        if not self:
            return
        if not all(self.activity_type_id.mapped("keep_done")):
            # The type was changed to drop done activities: Odoo's own path.
            for activity in self:
                activity.action_feedback(feedback=feedback[activity.id])
            return
        env = self.env
        self.flush_recordset()
        # Reached calls usually left it in the call-back rule's write already.
        self._pbx_leave_missed_calls()
        author = env.user.partner_id
        now = env.cr.now()
        columns = {
            name: []
            for name in (
                "model",
                "res_id",
                "record_name",
                "record_company_id",
                "mail_activity_type_id",
                "body",
                "message_id",
            )
        }
        companies = {}  # (model, id): company id of the document
        by_model = defaultdict(list)
        for activity in self:
            by_model[activity.res_model].append(activity.res_id)
        for model, res_ids in by_model.items():
            if "company_id" in env[model]._fields:
                for record in env[model].browse(res_ids):
                    companies[model, record.id] = record.company_id.id
        for activity in self:
            company = companies.get((activity.res_model, activity.res_id))
            columns["model"].append(activity.res_model)
            columns["res_id"].append(activity.res_id)
            columns["record_name"].append(activity.res_name)
            columns["record_company_id"].append(company or None)
            columns["mail_activity_type_id"].append(activity.activity_type_id.id)
            columns["body"].append(
                str(activity._pbx_done_body(feedback[activity.id], texts))
            )
            columns["message_id"].append(
                generate_tracking_message_id(f"{activity.res_id}-{activity.res_model}")
            )
        env["mail.message"].flush_model()
        env.cr.execute(
            SQL(
                """
                INSERT INTO mail_message (%s, message_type, subtype_id, author_id,
                    email_from, reply_to, email_add_signature, date,
                    create_uid, write_uid, create_date, write_date)
                SELECT v.*, 'notification', %s, %s, %s, %s, TRUE, %s, %s, %s, %s, %s
                FROM unnest(%s::varchar[], %s::int[], %s::varchar[], %s::int[],
                            %s::int[], %s::text[], %s::varchar[]) AS v
                """,
                SQL(", ").join(SQL.identifier(name) for name in columns),
                env["ir.model.data"]._xmlid_to_res_id("mail.mt_activities"),
                author.id,
                author.email_formatted,
                author.email_formatted,
                # the message's date is the moment it is posted, as
                # message_post gives it (not the transaction's start)
                fields.Datetime.now(),
                env.uid,
                env.uid,
                now,
                now,
                *columns.values(),
            )
        )
        today = fields.Date.context_today(self)
        env.cr.execute(
            SQL(
                """
                UPDATE mail_activity
                SET active = FALSE, date_done = %s, write_uid = %s, write_date = %s
                WHERE id = ANY(%s)
                """,
                today,
                env.uid,
                now,
                self.ids,
            )
        )
        due = self.filtered(lambda activity: activity.date_deadline <= today).user_id
        self.invalidate_recordset(["active", "date_done", "write_uid", "write_date"])
        for model in set(columns["model"]):
            env[model].invalidate_model(["activity_ids", "message_ids"])
        if due:
            due._bus_send("mail.activity/updated", {"activity_deleted": True})

    def _pbx_done_body(self, feedback, texts):
        """The body of the message saying this activity is done (``texts``:
        a CallbackTexts)."""
        self.ensure_one()
        return Markup(
            '<div><p><span class="fa %s fa-fw"></span>%s</p>'
            '<div class="o_mail_note_title fw-bold">%s</div><div>%s</div>'
            '<div><div class="fw-bold">%s</div>%s</div></div>'
        ) % (
            self.activity_type_id.icon or "fa-tasks",
            texts.done
            % {
                "type": self.activity_type_id.name,
                "user": self.user_id.name,
                "summary": self.summary or "",
            },
            texts.original_note,
            self.note or "",
            texts.feedback,
            feedback,
        )
