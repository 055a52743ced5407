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

A batch opens and closes its callbacks in a fixed number of statements: the
activities, followers and done messages are written in bulk as
``mail.activity.create`` and ``_action_done`` write them (see
_pbx_callback_insert and mail.activity._pbx_callback_done), since one ORM
call per activity cost several times the ingestion of the call itself.

PBX › Missed Calls lists ``pbx.call`` rows, not activities: the last missed
call of each open callback (``callback_open``), with its attempts and the
activity's owner and due date. Being the calls themselves, it shows a PBX
user exactly what the Call Log lets them see (the calls that rang them),
where a list of activities would follow each patient's or lead's access.
"""

import logging
from collections import defaultdict

import babel.dates
import pytz
from markupsafe import Markup

from odoo import fields, models
from odoo.tools import SQL
from odoo.tools.misc import babel_locale_parse, get_lang
from odoo.tools.sql import create_index

from .pbx_call_popup import PBX_USER_GROUP
from .res_users import PBX_MANAGER_GROUP

_logger = logging.getLogger(__name__)

CALLBACK_ACTIVITY_TYPE = "clinic_pbx.mail_activity_type_call_back"


class CallbackTexts:
    """The texts of callback notes and messages in the user's language, and
    the clinic's clock, looked up once per language and process (as Odoo
    keeps its code translations)."""

    _by_lang = {}

    def __new__(cls, env):
        texts = cls._by_lang.get(env.lang)
        if texts is None:
            texts = super().__new__(cls)
            texts._load(env, get_lang(env).code)
            cls._by_lang[env.lang] = texts
        return texts

    def _load(self, env, lang):
        self.summary = env._("Call back %(number)s")
        self.family = env._("Family number, patients: %(names)s")
        self.attempt = env._("%(time)s, extension %(extension)s")
        self.missed = env._("Missed %(count)s× from %(number)s:")
        self.called_back = env._("Called back by %(user)s at %(time)s")
        self.called_again = env._(
            "The patient called again and was answered by %(user)s at %(time)s"
        )
        self.done = env._(
            "%(type)s done (originally assigned to %(user)s): %(summary)s"
        )
        self.original_note = env._("Original note:")
        self.feedback = env._("Feedback:")
        locale = babel_locale_parse(lang)
        # babel's format_datetime(moment, "short"), its patterns parsed once
        self._date = babel.dates.parse_pattern(locale.date_formats["short"])
        self._time = babel.dates.parse_pattern(locale.time_formats["short"])
        self._datetime = locale.datetime_formats["short"]
        self._locale = locale
        self._zones = {}

    def local_time(self, connection, moment):
        """``moment`` (naive UTC) in the time zone of ``connection``, the
        clinic's PBX, as Odoo's ``format_datetime`` shows it (short)."""
        name = connection.timezone or "UTC"
        zone = self._zones.get(name)
        if zone is None:
            zone = self._zones[name] = pytz.timezone(name)
        local = pytz.utc.localize(moment).astimezone(zone)
        return (
            self._datetime.replace("'", "")
            .replace("{1}", self._date.apply(local, self._locale))
            .replace("{0}", self._time.apply(local, self._locale))
        )


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

    def _callback_row_fields(self):
        return [*super()._callback_row_fields(), "callback_open"]

    def _callback_reached_values(self, missed, after, cache):
        vals = super()._callback_reached_values(missed, after, cache)
        if missed["callback_open"]:
            # Its callback is marked done below (_pbx_callback_close): the
            # call leaves Missed Calls in the same write.
            vals["callback_open"] = False
        return vals

    # ------------------------------------------------------------------
    # Opening and folding
    # ------------------------------------------------------------------

    def _pbx_callback_open(self):
        """Open or extend the Call back activities of these missed calls.

        A batch of any size costs a fixed number of statements: the numbers
        are locked at once, their open activities read at once, the owners
        picked in memory and the new activities written in bulk
        (_pbx_callback_insert). Several missed calls of one number in the
        batch make one activity.
        """
        calls = self.filtered(
            lambda call: call.company_id.pbx_callback_assignment != "none"
        ).sorted(lambda call: (call.start, call.id))
        if not calls:
            return
        keys = sorted({(call.company_id.id, call.external_key) for call in calls})
        self._pbx_callback_lock(keys)
        open_activity = self._pbx_callback_open_activities(keys)
        folded = defaultdict(list)  # activity id: the batch's calls
        opening = defaultdict(list)  # (company id, number): the batch's calls
        for call in calls:
            key = (call.company_id.id, call.external_key)
            if key in open_activity:
                folded[open_activity[key]].append(call.id)
            else:
                opening[key].append(call.id)
        folded = {key: calls.browse(ids) for key, ids in folded.items()}
        opening = {key: calls.browse(ids) for key, ids in opening.items()}
        owners = self._pbx_callback_owners([group[0] for group in opening.values()])
        new = []
        for group in opening.values():
            owner = owners.get(group[0].id)
            if owner:
                new.append((group, owner))
            else:
                _logger.warning(
                    "No PBX user of company %s can get the callback of call %s",
                    group[0].company_id.id,
                    group[0].id,
                )
        activity_ids = self._pbx_callback_insert(new)
        values = {}
        for (group, _owner), activity_id in zip(new, activity_ids, strict=True):
            values.update(self._pbx_callback_values(activity_id, group))
        if folded:
            values.update(self._pbx_callback_fold(folded))
        self._pbx_write_columns(values)

    def _pbx_callback_lock(self, keys):
        """Wait until no other transaction is opening the callbacks of these
        (company id, number) ``keys``, and refuse this one if another did so
        after its snapshot was taken.

        The numbers' rows in ``pbx_callback_number`` are upserted, in one
        order: while another transaction holds one, this one waits; when that
        transaction committed after this one's snapshot (whether it had to
        wait or not), PostgreSQL refuses the upsert with a serialization
        failure, as REPEATABLE READ does for a row changed concurrently, and
        the transaction is replayed in a fresh snapshot that sees the other's
        activity (the Event API does so at once; a CDR sync next run).
        """
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO pbx_callback_number (company_id, external_key)
                SELECT k.company_id, k.external_key
                FROM unnest(%s::int[], %s::varchar[]) AS k(company_id, external_key)
                ORDER BY 1, 2
                ON CONFLICT (company_id, external_key)
                DO UPDATE SET external_key = EXCLUDED.external_key
                """,
                [key[0] for key in keys],
                [key[1] for key in keys],
            ),
            # A concurrent opening makes this fail with a serialization
            # error; the request is replayed, which is not worth a log entry.
            log_exceptions=False,
        )

    def init(self):
        result = super().init()
        # The open callbacks of given numbers (_pbx_callback_open_activities):
        # only the last missed call of each open callback is in it.
        create_index(
            self.env.cr,
            "pbx_call_open_callback_index",
            self._table,
            ["company_id", "external_key"],
            where="callback_open",
        )
        return result

    def _pbx_callback_open_activities(self, keys):
        """{(company id, number): id of its open Call back activity}: the
        activity of the number's call flagged ``callback_open`` (the last
        missed call of each open callback is)."""
        self.flush_model(
            ["company_id", "external_key", "callback_activity_id", "callback_open"]
        )
        self.env["mail.activity"].flush_model(["active"])
        self.env.cr.execute(
            SQL(
                """
                SELECT c.company_id, c.external_key, max(c.callback_activity_id)
                FROM unnest(%s::int[], %s::varchar[]) AS k(company_id, external_key)
                JOIN pbx_call c ON c.callback_open
                               AND c.company_id = k.company_id
                               AND c.external_key = k.external_key
                JOIN mail_activity a ON a.id = c.callback_activity_id AND a.active
                GROUP BY 1, 2
                """,
                [key[0] for key in keys],
                [key[1] for key in keys],
            )
        )
        return {(row[0], row[1]): row[2] for row in self.env.cr.fetchall()}

    def _pbx_callback_values(self, activity_id, calls):
        """{call id: callback columns} of the missed ``calls`` (oldest first)
        of one activity: the last is the row of PBX › Missed Calls."""
        last = calls[-1]
        return {
            call.id: {
                "callback_activity_id": activity_id,
                "callback_open": call == last,
                "callback_attempts": len(calls)
                if call == last
                else call.callback_attempts,
                "callback_first_attempt": calls[0].start
                if call == last
                else call.callback_first_attempt,
            }
            for call in calls
        }

    def _pbx_callback_fold(self, folded):
        """Add the batch's missed calls to the open activities they belong
        to ({activity id: calls}): each activity's note lists all its calls
        again. Returns the calls' callback columns (_pbx_callback_values)."""
        self.flush_model(["callback_activity_id"])
        earlier = self.search(
            [
                ("callback_activity_id", "in", list(folded)),
                ("id", "not in", [i for calls in folded.values() for i in calls.ids]),
            ]
        )
        by_activity = defaultdict(list)
        for call in earlier:
            by_activity[call.callback_activity_id.id].append(call.id)
        values, notes = {}, []
        texts = CallbackTexts(self.env)
        for activity_id, new_calls in folded.items():
            calls = (self.browse(by_activity[activity_id]) + new_calls).sorted(
                lambda c: (c.start, c.id)
            )
            notes.append(str(self._pbx_callback_note(calls, texts)))
            values.update(self._pbx_callback_values(activity_id, calls))
        # The activity may belong to anyone; the missed calls decide its note
        # (written like the activities themselves, see _pbx_callback_insert).
        self.env["mail.activity"].flush_model(["note"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE mail_activity a
                SET note = v.note, write_uid = %s, write_date = %s
                FROM unnest(%s::int[], %s::text[]) AS v(id, note)
                WHERE a.id = v.id
                """,
                self.env.uid,
                self.env.cr.now(),
                list(folded),
                notes,
            )
        )
        self.env["mail.activity"].browse(folded).invalidate_recordset(
            ["note", "write_uid", "write_date"]
        )
        return values

    def _pbx_callback_record(self):
        """The record a callback of this call belongs on: its patient, else
        its newest lead, else the call itself."""
        self.ensure_one()
        if self.partner_id:
            return self.partner_id
        if self.lead_ids:
            return self.lead_ids[0]
        return self

    def _pbx_callback_insert(self, new):
        """Create the Call back activities of ``new``: a list of (missed
        calls of one number, oldest first; owner). Returns their ids.

        Written in bulk as ``mail.activity.create`` would write them (the
        activity with its document's name and its owner's time zone; its
        owner following the patient or lead with the model's default
        subtypes; the owner's activity counter told over the bus when it is
        due), in a few statements however many there are.
        """
        if not new:
            return []
        env = self.env
        self.env.cr.execute(
            SQL(
                "SELECT nextval('mail_activity_id_seq') FROM generate_series(1, %s)",
                len(new),
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        type_id = env.ref(CALLBACK_ACTIVITY_TYPE).id
        now = self.env.cr.now()
        records = [group[0]._pbx_callback_record() for group, _owner in new]
        texts = CallbackTexts(self.env)
        # Names of every record at once (prefetched by model).
        names = {}
        by_model = defaultdict(list)
        for record in records:
            by_model[record._name].append(record.id)
        for model, res_ids in by_model.items():
            for record in env[model].browse(res_ids):
                names[model, record.id] = record.display_name
        columns = defaultdict(list)
        for activity_id, record, (group, owner) in zip(ids, records, new, strict=True):
            call = group[0]
            tz = call.connection_id.timezone or "UTC"
            due = call.callback_due or call.start
            columns["id"].append(activity_id)
            columns["res_model_id"].append(env["ir.model"]._get_id(record._name))
            columns["res_model"].append(record._name)
            columns["res_id"].append(record.id)
            columns["res_name"].append(names[record._name, record.id])
            columns["summary"].append(texts.summary % {"number": call.src or ""})
            columns["note"].append(str(self._pbx_callback_note(group, texts)))
            columns["date_deadline"].append(
                pytz.utc.localize(due).astimezone(pytz.timezone(tz)).date()
            )
            columns["user_id"].append(owner.id)
            columns["user_tz"].append(owner.tz)
        env["mail.activity"].flush_model()
        env.cr.execute(
            SQL(
                """
                INSERT INTO mail_activity (%s, activity_type_id, active,
                    create_uid, write_uid, create_date, write_date)
                SELECT v.*, %s, TRUE, %s, %s, %s, %s
                FROM unnest(%s::int[], %s::int[], %s::varchar[], %s::int[],
                            %s::varchar[], %s::varchar[], %s::text[], %s::date[],
                            %s::int[], %s::varchar[]) AS v
                """,
                SQL(", ").join(SQL.identifier(name) for name in columns),
                type_id,
                env.uid,
                env.uid,
                now,
                now,
                *columns.values(),
            )
        )
        # The owner follows the patient or lead, as with any activity; not a
        # call of an unknown caller, on which nothing else is ever posted.
        self._pbx_callback_follow(
            [
                (record._name, record.id, owner.partner_id.id)
                for record, (_group, owner) in zip(records, new, strict=True)
                if record._name != self._name
            ]
        )
        for model in by_model:
            env[model].invalidate_model(
                ["activity_ids", "message_follower_ids", "message_partner_ids"]
            )
        today = fields.Date.context_today(self)
        told = env["res.users"].browse(
            {
                owner.id
                for (_group, owner), deadline in zip(
                    new, columns["date_deadline"], strict=True
                )
                if deadline <= today
            }
        )
        if told:
            told._bus_send("mail.activity/updated", {"activity_created": True})
        return ids

    def _pbx_callback_follow(self, triples):
        """Make partners follow documents, as ``message_subscribe`` does for
        an internal user (the model's default subtypes): ``triples`` of
        (model, document id, partner id); those already following stay as
        they are."""
        if not triples:
            return
        Subtype = self.env["mail.message.subtype"]
        subtypes = [
            (model, subtype_id)
            for model in sorted({model for model, _id, _partner in triples})
            for subtype_id in Subtype._default_subtypes(model)[0]
        ]
        self.env["mail.followers"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                WITH added AS (
                    INSERT INTO mail_followers (res_model, res_id, partner_id)
                    SELECT DISTINCT * FROM unnest(%s::varchar[], %s::int[], %s::int[])
                    ORDER BY 1, 2, 3
                    ON CONFLICT (res_model, res_id, partner_id) DO NOTHING
                    RETURNING id, res_model
                )
                INSERT INTO mail_followers_mail_message_subtype_rel
                    (mail_followers_id, mail_message_subtype_id)
                SELECT added.id, s.subtype_id FROM added
                JOIN unnest(%s::varchar[], %s::int[]) AS s(model, subtype_id)
                  ON s.model = added.res_model
                """,
                *[list(column) for column in zip(*triples, strict=True)],
                [model for model, _subtype in subtypes],
                [subtype for _model, subtype in subtypes],
            ),
            # As for the callback lock: a concurrent subscription of the same
            # partner is a serialization failure, and the request is replayed.
            log_exceptions=False,
        )
        self.env["mail.followers"].invalidate_model()

    def _pbx_callback_owners(self, calls):
        """{call id: the user the company's setting gives the callback of
        each of these missed calls}; a call nobody qualifies for is left out.

        The staff of each company and their counts are read once; the picks
        are made in memory, oldest call first, each counting for the next.
        """
        if not calls:
            return {}
        staff = {}  # company: (PBX user ids, PBX manager ids)
        for company in {call.company_id for call in calls}:
            staff[company] = self._pbx_callback_staff(company)
        users = set()
        for pbx_users, _managers in staff.values():
            users |= pbx_users
        recent, load = self._pbx_callback_scores(users)
        rank = max(recent.values(), default=0)
        owners = {}
        for call in calls:
            company = call.company_id
            mode = company.pbx_callback_assignment
            pbx_users, managers = staff[company]
            pool = None
            if mode in ("extension", "least_loaded"):
                pool = [uid for uid in call.rang_user_ids.ids if uid in pbx_users]
            if not pool:
                dispatcher = company.pbx_callback_dispatcher_id
                if dispatcher.id in pbx_users:
                    pool = [dispatcher.id]
                elif managers:
                    pool, mode = managers, "least_loaded"
                else:
                    continue
            measure = load if mode == "least_loaded" else recent
            user_id = min(pool, key=lambda uid: (measure.get(uid) or 0, uid))
            rank += 1
            recent[user_id] = rank
            load[user_id] = load.get(user_id, 0) + 1
            owners[call.id] = self.env["res.users"].browse(user_id)
        return owners

    def _pbx_callback_staff(self, company):
        """({ids of the users who can own a callback of ``company``}, [ids of
        its PBX Managers among them]): its active internal users with *PBX:
        User* (the group link table holds implied groups too: a PBX Manager
        is a PBX User). One statement."""
        self.env["res.users"].flush_model(
            ["active", "share", "company_ids", "groups_id"]
        )
        xmlid_to_id = self.env["ir.model.data"]._xmlid_to_res_id
        self.env.cr.execute(
            SQL(
                """
                SELECT u.id, EXISTS (SELECT 1 FROM res_groups_users_rel gm
                                     WHERE gm.uid = u.id AND gm.gid = %s)
                FROM res_users u
                WHERE u.active AND NOT u.share
                  AND EXISTS (SELECT 1 FROM res_company_users_rel cu
                              WHERE cu.user_id = u.id AND cu.cid = %s)
                  AND EXISTS (SELECT 1 FROM res_groups_users_rel gu
                              WHERE gu.uid = u.id AND gu.gid = %s)
                ORDER BY u.id
                """,
                xmlid_to_id(PBX_MANAGER_GROUP),
                company.id,
                xmlid_to_id(PBX_USER_GROUP),
            )
        )
        rows = self.env.cr.fetchall()
        return {row[0] for row in rows}, [row[0] for row in rows if row[1]]

    def _pbx_callback_scores(self, user_ids):
        """({user id: id of their latest Call back activity}, {user id: their
        open Call back activities}): round-robin picks the user who got one
        least recently, least loaded the one with the fewest open."""
        if not user_ids:
            return {}, {}
        self.env["mail.activity"].flush_model(["user_id", "activity_type_id", "active"])
        self.env.cr.execute(
            SQL(
                """
                SELECT a.user_id, MAX(a.id), COUNT(*) FILTER (WHERE a.active)
                FROM mail_activity a
                WHERE a.activity_type_id = %s AND a.user_id = ANY(%s)
                GROUP BY a.user_id
                """,
                self.env.ref(CALLBACK_ACTIVITY_TYPE).id,
                sorted(user_ids),
            )
        )
        rows = self.env.cr.fetchall()
        return {row[0]: row[1] for row in rows}, {row[0]: row[2] for row in rows}

    def _pbx_callback_note(self, calls, texts=None):
        """The note of a callback activity whose missed calls are ``calls``
        (oldest first): the patients of the number and each missed attempt,
        with its local time and extension."""
        texts = texts or CallbackTexts(self.env)
        last = calls[-1:]
        parts = []
        if len(last.partner_ids) > 1:
            parts.append(
                Markup("<p>%s</p>")
                % (
                    texts.family
                    % {"names": ", ".join(last.partner_ids.mapped("display_name"))}
                )
            )
        attempts = Markup("").join(
            Markup("<li>%s</li>")
            % (
                texts.attempt
                % {
                    "time": texts.local_time(call.connection_id, call.start),
                    "extension": call.extension or "-",
                }
            )
            for call in calls
        )
        parts.append(
            Markup("<p>%s</p><ul>%s</ul>")
            % (texts.missed % {"count": len(calls), "number": last.src}, attempts)
        )
        return Markup("").join(parts)

    # ------------------------------------------------------------------
    # Closing
    # ------------------------------------------------------------------

    def _pbx_callback_close(self):
        """Mark done the open callback activities of these called-back calls
        (oldest first), each with a message saying how the number was
        reached."""
        texts = CallbackTexts(self.env)
        feedback = {}
        for call in self:
            activity = call.callback_activity_id
            if activity.id in feedback or not activity.active:
                continue
            back = call.callback_call_id
            who = back.user_id.name or back.answered_extension or back.extension or "-"
            when = texts.local_time(call.connection_id, back.start)
            if back.direction == "outgoing":
                message = texts.called_back
            else:
                message = texts.called_again
            feedback[activity.id] = message % {"user": who, "time": when}
        # sudo: the activity may belong to anyone; the call-back rule, not
        #   the current user, decides it is done
        self.env["mail.activity"].browse(feedback).sudo()._pbx_callback_done(
            feedback, texts
        )
