"""Missed calls become *Call back* activities, closed when the clinic gets through.

A finished missed incoming call (not internal, not already called back) opens
one *Call back* activity per company and number: on the patient when the call
has one, else on its lead, else on the call itself. Later missed calls from
the number while it is open are folded into it: its note lists every attempt
(time and extension) and, for a family number, every patient of the number.

Who gets it is the company's *Callback activities* setting
(``res.company.pbx_callback_assignment``):

- ``extension``: the PBX users of the extension that rang, in turn (the one
  who got a callback activity least recently);
- ``least_loaded``: of those users, the one with the fewest open callbacks;
- ``dispatcher``: the company's callback dispatcher;
- ``none``: no activities.

Only active PBX users of the call's company qualify. When the extension has
none, the dispatcher gets it; without a dispatcher (or with one who no longer
qualifies), the least loaded PBX Manager of the company does, so that the
work is never lost (an activity always has an owner). With no PBX Manager
either, the missed call opens no activity.

When the call-back rule (``pbx_call_callback``) marks a missed call called
back, its open activity is marked done with a message saying how. An activity
done by hand stays done: the next missed call opens a new one.

PBX › Missed Calls lists ``pbx.call`` rows, not activities: the last missed
call of each open callback (``callback_open``), with its attempts and the
activity's owner and due date. Being the calls themselves, it shows a PBX
user exactly what the Call Log lets them see (the calls that rang them),
where a list of activities would follow each patient's or lead's access.
"""

import logging

import pytz
from markupsafe import Markup

from odoo import _, fields, models
from odoo.tools import SQL, format_datetime

from .pbx_call_popup import PBX_USER_GROUP
from .res_users import PBX_MANAGER_GROUP

_logger = logging.getLogger(__name__)

CALLBACK_ACTIVITY_TYPE = "clinic_pbx.mail_activity_type_call_back"


class PbxCallbackNumber(models.Model):
    """One row per company and number whose callback was ever opened: the
    row transactions opening that number's callback upsert first, so that
    PostgreSQL serializes them (see PbxCall._pbx_callback_lock)."""

    _name = "pbx.callback.number"
    _description = "Callback Number"
    _log_access = False

    company_id = fields.Many2one("res.company", required=True, ondelete="cascade")
    external_key = fields.Char(required=True)

    _sql_constraints = [
        (
            "company_key_uniq",
            "UNIQUE (company_id, external_key)",
            "One row per company and number.",
        ),
    ]


class PbxCall(models.Model):
    _inherit = "pbx.call"

    callback_activity_id = fields.Many2one(
        "mail.activity",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        copy=False,
        help="The Call back activity this missed call opened or was added to.",
    )
    # PBX › Missed Calls lists the last missed call of each open callback.
    callback_open = fields.Boolean(
        "Open Callback",
        readonly=True,
        index="btree_not_null",
        copy=False,
        help="The last missed call of a number whose Call back activity is open.",
    )
    callback_attempts = fields.Integer(
        "Attempts",
        readonly=True,
        copy=False,
        help="Missed calls from the number since its callback was opened.",
    )
    callback_first_attempt = fields.Datetime("Missed At", readonly=True, copy=False)
    callback_owner_id = fields.Many2one(
        related="callback_activity_id.user_id", string="Owner"
    )
    callback_deadline = fields.Date(
        related="callback_activity_id.date_deadline", string="Callback Due"
    )

    def _after_ingest(self, events, changed):
        result = super()._after_ingest(events, changed)
        finished = self.filtered(
            lambda call: changed.get(call.id) and call.state == "done" and call.missed
        )
        # The call-back rule ran first (super): a missed call whose number was
        # reached already, e.g. by events that arrived late, opens nothing.
        missed = finished.filtered(
            lambda call: (
                not call.called_back
                and not call.callback_activity_id
                and call.external_key
            )
        )
        missed._pbx_callback_open()
        return result

    def _update_callbacks(self):
        reached = super()._update_callbacks()
        # Only the calls this run marked called back can close an activity:
        # an activity is never opened for a call already called back.
        reached.filtered(lambda call: call.callback_activity_id.active).sorted(
            lambda call: (call.start, call.id)
        )._pbx_callback_close()
        return reached

    # ------------------------------------------------------------------
    # Opening and folding
    # ------------------------------------------------------------------

    def _pbx_callback_open(self):
        """Open or update the Call back activity of each of these missed calls."""
        for call in self.sorted(lambda c: (c.start, c.id)):
            company = call.company_id
            if company.pbx_callback_assignment == "none":
                continue
            call._pbx_callback_lock()
            activity = self.search(
                [
                    ("company_id", "=", company.id),
                    ("external_key", "=", call.external_key),
                    ("callback_activity_id.active", "=", True),
                ],
                limit=1,
            ).callback_activity_id
            if activity:
                call.callback_activity_id = activity
                call._pbx_callback_refresh(activity)
                continue
            owner = call._pbx_callback_owner()
            if not owner:
                _logger.warning(
                    "No PBX user of company %s can get the callback of call %s",
                    company.id,
                    call.id,
                )
                continue
            # A new activity has one attempt: this call, written at once.
            activity = call._pbx_callback_create_activity(owner)
            call.write(
                {
                    "callback_activity_id": activity.id,
                    "callback_open": True,
                    "callback_attempts": 1,
                    "callback_first_attempt": call.start,
                }
            )

    def _pbx_callback_lock(self):
        """Wait until no other transaction is opening this number's callback,
        and refuse this one if another did so after its snapshot was taken.

        The row of the number in ``pbx_callback_number`` is upserted: while
        another transaction holds it, this one waits; when that transaction
        committed after this one's snapshot (whether it had to wait or not),
        PostgreSQL refuses the upsert with a serialization failure, as
        REPEATABLE READ does for a row changed concurrently, and the
        transaction is replayed in a fresh snapshot that sees the other's
        activity (the Event API does so at once; a CDR sync next run).
        """
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO pbx_callback_number (company_id, external_key)
                VALUES (%s, %s)
                ON CONFLICT (company_id, external_key)
                DO UPDATE SET external_key = EXCLUDED.external_key
                """,
                self.company_id.id,
                self.external_key,
            ),
            # A concurrent opening makes this fail with a serialization
            # error; the request is replayed, which is not worth a log entry.
            log_exceptions=False,
        )

    def _pbx_callback_create_activity(self, owner):
        self.ensure_one()
        if self.partner_id:
            record = self.partner_id
        elif self.lead_ids:
            record = self.lead_ids[0]
        else:
            record = self
        tz = self.connection_id.timezone or "UTC"
        due = self.callback_due or self.start
        deadline = pytz.utc.localize(due).astimezone(pytz.timezone(tz)).date()
        # sudo: ingestion runs as superuser; the activity is the clinic's work,
        #   given to the user the company's setting names
        return (
            self.env["mail.activity"]
            .sudo()
            .with_context(mail_activity_quick_update=True)
            .create(
                {
                    "activity_type_id": self.env.ref(CALLBACK_ACTIVITY_TYPE).id,
                    "res_model_id": self.env["ir.model"]._get_id(record._name),
                    "res_id": record.id,
                    "summary": _("Call back %(number)s", number=self.src or ""),
                    "date_deadline": deadline,
                    "user_id": owner.id,
                    "note": self._pbx_callback_note(self),
                }
            )
        )

    def _pbx_callback_owner(self):
        """The user the company's setting gives this missed call's callback to
        (none: nobody qualifies)."""
        self.ensure_one()
        company = self.company_id

        mode = company.pbx_callback_assignment
        if mode in ("extension", "least_loaded"):
            self.flush_recordset(["rang_user_ids"])
            candidates = self._pbx_callback_qualified(
                PBX_USER_GROUP,
                SQL(
                    "u.id IN (SELECT user_id FROM pbx_call_rang_user_rel"
                    " WHERE call_id = %s)",
                    self.id,
                ),
            )
            if candidates:
                return self._pbx_callback_pick(candidates, mode)
        dispatcher = company.pbx_callback_dispatcher_id
        if dispatcher and self._pbx_callback_qualified(
            PBX_USER_GROUP, SQL("u.id = %s", dispatcher.id)
        ):
            return dispatcher
        managers = self._pbx_callback_qualified(PBX_MANAGER_GROUP, SQL("TRUE"))
        if managers:
            return self._pbx_callback_pick(managers, "least_loaded")
        return self.env["res.users"]

    def _pbx_callback_qualified(self, group, where):
        """The users matching ``where`` who can own a callback of this call:
        active internal users of its company in ``group``. One statement: the
        group link table holds implied groups too (a PBX Manager is a PBX
        User)."""
        self.env["res.users"].flush_model(
            ["active", "share", "company_ids", "groups_id"]
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT u.id FROM res_users u
                WHERE u.active AND NOT u.share AND %s
                  AND EXISTS (SELECT 1 FROM res_company_users_rel cu
                              WHERE cu.user_id = u.id AND cu.cid = %s)
                  AND EXISTS (SELECT 1 FROM res_groups_users_rel gu
                              WHERE gu.uid = u.id AND gu.gid = %s)
                ORDER BY u.id
                """,
                where,
                self.company_id.id,
                self.env["ir.model.data"]._xmlid_to_res_id(group),
            )
        )
        return self.env["res.users"].browse(row[0] for row in self.env.cr.fetchall())

    def _pbx_callback_pick(self, users, mode):
        """Round-robin: the user who got a callback activity least recently;
        least loaded: the one with the fewest open ones. Ties: the lowest id."""
        type_id = self.env.ref(CALLBACK_ACTIVITY_TYPE).id
        self.env["mail.activity"].flush_model(["user_id", "activity_type_id", "active"])
        if mode == "least_loaded":
            measure = SQL("COUNT(*) FILTER (WHERE a.active)")
        else:
            measure = SQL("MAX(a.id)")
        self.env.cr.execute(
            SQL(
                """
                SELECT a.user_id, %s FROM mail_activity a
                WHERE a.activity_type_id = %s AND a.user_id = ANY(%s)
                GROUP BY a.user_id
                """,
                measure,
                type_id,
                users.ids,
            )
        )
        scores = dict(self.env.cr.fetchall())
        return min(users, key=lambda user: (scores.get(user.id) or 0, user.id))

    def _pbx_callback_refresh(self, activity):
        """Write what the activity shows about its missed calls (its note and
        the Missed Calls screen's columns)."""
        calls = self.search(
            [("callback_activity_id", "=", activity.id)], order="start, id"
        )
        last = calls[-1:]
        activity.note = self._pbx_callback_note(calls)
        (calls - last).filtered("callback_open").callback_open = False
        last.write(
            {
                "callback_open": True,
                "callback_attempts": len(calls),
                "callback_first_attempt": calls[:1].start,
            }
        )

    def _pbx_callback_note(self, calls):
        """The note of a callback activity whose missed calls are ``calls``
        (oldest first): the patients of the number and each missed attempt,
        with its local time and extension."""
        last = calls[-1:]
        parts = []
        if len(last.partner_ids) > 1:
            parts.append(
                Markup("<p>%s</p>")
                % _(
                    "Family number, patients: %(names)s",
                    names=", ".join(last.partner_ids.mapped("display_name")),
                )
            )
        attempts = []
        for call in calls:
            attempts.append(
                Markup("<li>%s</li>")
                % _(
                    "%(time)s, extension %(extension)s",
                    time=call._pbx_callback_local_time(call.start),
                    extension=call.extension or "-",
                )
            )
        parts.append(
            Markup("<p>%s</p><ul>%s</ul>")
            % (
                _(
                    "Missed %(count)s× from %(number)s:",
                    count=len(calls),
                    number=last.src,
                ),
                Markup("").join(attempts),
            )
        )
        return Markup("").join(parts)

    def _pbx_callback_local_time(self, moment):
        """A moment in the clinic's time (its PBX's time zone)."""
        tz = self.connection_id.timezone or "UTC"
        return format_datetime(self.env, moment, tz=tz, dt_format="short")

    # ------------------------------------------------------------------
    # Closing
    # ------------------------------------------------------------------

    def _pbx_callback_close(self):
        """Mark done the open callback activities of these called-back calls."""
        done = self.env["mail.activity"]
        for call in self:
            activity = call.callback_activity_id
            if activity in done or not activity.active:
                continue
            back = call.callback_call_id
            who = back.user_id.name or back.answered_extension or back.extension or "-"
            when = call._pbx_callback_local_time(back.start)
            if back.direction == "outgoing":
                message = _("Called back by %(user)s at %(time)s", user=who, time=when)
            else:
                message = _(
                    "The patient called again and was answered by %(user)s at %(time)s",
                    user=who,
                    time=when,
                )
            # sudo: the activity may belong to anyone; the call-back rule, not
            #   the current user, decides it is done
            activity.sudo().action_feedback(feedback=message)
            done |= activity
