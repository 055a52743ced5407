import logging
from contextlib import contextmanager

from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from odoo import api, fields, models
from odoo.osv import expression
from odoo.tools import SQL

from ..tools.phone import search_variants

_logger = logging.getLogger(__name__)

USER_INDEX = "pbx_call_user_start_index"
# The Call Log's page: the newest calls and the pager's count, both walks of
# an index that reads as fast as the table (random_page_cost as for data in
# memory or on SSD), and short enough that compiling them (JIT) costs more
# than it saves.
CALL_LOG_PLANNER_SETTINGS = {"jit": "off", "random_page_cost": "1.1"}

# From this many digits a number search looks the calls up by the number first.
SPECIFIC_NUMBER_DIGITS = 5


def total_duration(talk_seconds, wait_seconds):
    """A call's total duration: wait time plus talk time, in seconds."""
    return (talk_seconds or 0) + (wait_seconds or 0)


def has_recording(merge_state):
    """Whether the PBX gave a recording of the call (its merged events)."""
    state = merge_state or {}
    return bool(state.get("end_recording_url") or state.get("live_recording_url"))


class PbxCall(models.Model):
    _name = "pbx.call"
    # Activities: a missed call with no patient or lead holds its own
    # Call back activity (pbx_call_callback_activity.py).
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "PBX Call"
    _order = "start desc, id desc"
    _rec_name = "src"

    connection_id = fields.Many2one(
        "pbx.connection",
        string="PBX",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, readonly=True
    )
    external_id = fields.Char(
        "PBX Call ID",
        required=True,
        readonly=True,
        help="The PBX's id of the whole call (Asterisk linkedid).",
    )
    start = fields.Datetime("Date Time", required=True, index=True, readonly=True)
    direction = fields.Selection(
        [("incoming", "Incoming"), ("outgoing", "Outgoing"), ("internal", "Internal")],
        string="Call Type",
        required=True,
        default="incoming",
        readonly=True,
    )
    src = fields.Char("SRC", readonly=True, help="Caller's number as the PBX gave it.")
    dst = fields.Char(
        "DST",
        readonly=True,
        help="Dialled number, DID or extension as the PBX gave it.",
    )
    did = fields.Char(
        "DID", readonly=True, help="The clinic's number that was dialled."
    )
    # Not indexed: the Call Log searches it with ilike, and rings of a ring
    # group move it from phone to phone, which an index would make cost an
    # index entry in every index of the table (no HOT update).
    extension = fields.Char(
        readonly=True,
        help="Extension that rang (incoming) or placed the call (outgoing).",
    )
    answered_extension = fields.Char(readonly=True)
    rang_user_ids = fields.Many2many(
        "res.users",
        "pbx_call_rang_user_rel",
        "call_id",
        "user_id",
        string="Rang For",
        readonly=True,
        help="Users whose extension rang for this call.",
    )
    # Indexed with the call's time and company: see init().
    user_id = fields.Many2one(
        "res.users",
        string="Admin",
        readonly=True,
        help="Staff member who answered or placed the call.",
    )
    state = fields.Selection(
        [("ringing", "Ringing"), ("talking", "Talking"), ("done", "Finished")],
        required=True,
        default="ringing",
        readonly=True,
    )
    disposition = fields.Selection(
        [
            ("answered", "Answered"),
            ("no_answer", "Missed"),
            ("busy", "Busy"),
            ("failed", "Failed"),
        ],
        readonly=True,
    )
    answered_at = fields.Datetime(readonly=True)
    ended_at = fields.Datetime(readonly=True)
    talk_seconds = fields.Integer(
        "Call Duration", readonly=True, aggregator="avg", help="Talk time in seconds."
    )
    wait_seconds = fields.Integer(
        "Wait Time", readonly=True, aggregator="avg", help="Seconds before the answer."
    )
    total_seconds = fields.Integer(
        "Total Duration",
        compute="_compute_total_seconds",
        store=True,
        aggregator="avg",
        help="Wait time plus talk time, in seconds.",
    )
    external_key = fields.Char(
        "Caller Key",
        readonly=True,
        index="btree_not_null",
        help="E.164 number of the party outside the clinic, used to find the contact.",
    )
    search_digits = fields.Char(readonly=True, index="trigram")
    partner_ids = fields.Many2many(
        "res.partner",
        "pbx_call_partner_rel",
        "call_id",
        "partner_id",
        string="Patients",
        readonly=True,
        help="Every patient whose phone or mobile is the caller's number.",
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Patient",
        index="btree_not_null",
        readonly=True,
        help="First of the matching patients.",
    )
    lead_ids = fields.Many2many(
        "crm.lead",
        "pbx_call_lead_rel",
        "call_id",
        "lead_id",
        string="Leads",
        readonly=True,
    )
    contact_display = fields.Char("Contact", compute="_compute_contact_display")
    contact_count = fields.Integer(compute="_compute_contact_display")
    recording_url = fields.Char(
        groups="base.group_system",
        readonly=True,
        help="Where the PBX serves the recording; never sent to the browser.",
    )
    has_recording = fields.Boolean(
        "With Recording", readonly=True, compute="_compute_has_recording", store=True
    )
    missed = fields.Boolean(
        readonly=True,
        index=True,
        help="An incoming call that nobody answered.",
    )
    called_back = fields.Boolean(
        readonly=True,
        help="A missed call whose number the clinic reached later within the "
        "call-back window (an answered outgoing call, or the caller called "
        "again and got through).",
    )
    callback_call_id = fields.Many2one("pbx.call", "Called Back By", readonly=True)
    callback_delay = fields.Integer(
        "Time to Call Back",
        readonly=True,
        aggregator="avg",
        help="Seconds from the missed call to the call that reached the number.",
    )
    listen_ids = fields.One2many(
        "pbx.recording.listen",
        "call_id",
        string="Listened",
        readonly=True,
        groups="clinic_pbx.clinic_pbx_group_manager",
    )
    # The folded events, with the PBX's recording URLs: internal state that
    # only ingestion (as superuser) reads.
    merge_state = fields.Json(readonly=True, copy=False, groups="base.group_system")
    number_search = fields.Char(
        "Number or Contact", compute="_compute_number_search", search="_search_number"
    )
    admin_search_id = fields.Many2one(
        "res.users",
        "Admin or Rang For",
        compute="_compute_admin_search_id",
        search="_search_admin",
        help="Search calls of a staff member: those they took, and those that rang "
        "them that nobody is known to have taken (missed calls, a shared extension).",
    )
    # What a PBX User sees (record rule pbx_call_rule_user). Odoo checks the
    # rule on records in Python (filtered_domain), so the value is the same
    # staff as the search finds.
    staff_search_ids = fields.Many2many(
        "res.users",
        string="Taken by or Rang For",
        compute="_compute_staff_search_ids",
        search="_search_staff",
    )

    _sql_constraints = [
        (
            "external_id_unique",
            "UNIQUE(connection_id, external_id)",
            "A PBX call id can only be imported once per PBX connection.",
        ),
    ]

    @api.depends("talk_seconds", "wait_seconds")
    def _compute_total_seconds(self):
        for call in self:
            call.total_seconds = total_duration(call.talk_seconds, call.wait_seconds)

    @api.depends("merge_state")
    def _compute_has_recording(self):
        for call in self:
            call.has_recording = has_recording(call.merge_state)

    @api.depends("partner_ids", "lead_ids")
    def _compute_contact_display(self):
        for call in self:
            partners, leads = call.partner_ids, call.lead_ids
            if partners:
                first = call.partner_id if call.partner_id in partners else partners[0]
                names, count = first.display_name, len(partners)
            elif leads:
                names, count = leads[0].display_name, len(leads)
            else:
                names, count = False, 0
            call.contact_count = count
            call.contact_display = "%s +%d" % (names, count - 1) if count > 1 else names

    def _compute_number_search(self):
        for call in self:
            call.number_search = False

    def _search_number(self, operator, value):
        if operator not in ("ilike", "like", "=", "=like", "=ilike") or not isinstance(
            value, str
        ):
            return [("id", "=", 0)]
        variants = search_variants(value)
        domains = []
        if variants:
            digits = expression.OR([[("search_digits", "ilike", v)] for v in variants])
            if min(len(v) for v in variants) >= SPECIFIC_NUMBER_DIGITS:
                # A specific number is on few calls: collect them through the
                # trigram index first, rather than walk the log newest first
                # hoping to meet them.
                # sudo: builds only the candidate ids (trigram index); the outer search
                #   keeps the user's record rules
                query = self.sudo()._search(digits)
                digits = [
                    ("id", "in", SQL("(SELECT unnest(ARRAY(%s)))", query.select()))
                ]
            domains.append(digits)
        if not variants or any(char.isalpha() for char in value):
            names = [("partner_ids.name", "ilike", value)]
            # Staff without CRM rights still search by patient name.
            if self.env["crm.lead"].has_access("read"):
                names = expression.OR([
                    names,
                    [("lead_ids.name", "ilike", value)],
                    [("lead_ids.partner_name", "ilike", value)],
                ])  # fmt: skip
            domains.append(names)
        return expression.OR(domains)

    @api.model
    @api.readonly
    def web_search_read(
        self, domain, specification, offset=0, limit=None, order=None,
        count_limit=None,
    ):  # fmt: skip
        # The pager's count walks up to ten thousand calls in a few ms; the
        # planner, costing the whole walk, would compile it first (JIT) for
        # longer than the walk takes, and would rather read the table's rows
        # than the covering index that holds what the rules test.
        with self._pbx_planner_settings(CALL_LOG_PLANNER_SETTINGS):
            return super().web_search_read(
                domain, specification, offset, limit, order, count_limit
            )

    @contextmanager
    def _pbx_planner_settings(self, settings):
        """PostgreSQL ``settings`` ({name: value}) for the queries run inside:
        set for this transaction only and put back afterwards."""
        cr = self.env.cr
        names = list(settings)
        cr.execute(
            SQL(
                "SELECT %s",
                SQL(", ").join(SQL("current_setting(%s)", name) for name in names),
            )
        )
        previous = dict(zip(names, cr.fetchone(), strict=True))

        def apply(values):
            cr.execute(
                SQL(
                    "SELECT %s",
                    SQL(", ").join(
                        SQL("set_config(%s, %s, true)", name, value)
                        for name, value in values.items()
                    ),
                )
            )

        apply(settings)
        try:
            yield
        finally:
            # After an SQL error the transaction only takes a rollback, and
            # the rollback puts the settings back.
            if cr._cnx.info.transaction_status != TRANSACTION_STATUS_INERROR:
                apply(previous)

    def init(self):
        result = super().init()
        # The calls of one staff member, newest first, counted from the index
        # alone (the company is in it): the Call Log of a PBX User and its
        # Admin filter.
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS %s ON pbx_call (user_id, start) "
                "INCLUDE (company_id) WHERE user_id IS NOT NULL",
                SQL.identifier(USER_INDEX),
            )
        )
        return result

    def _compute_admin_search_id(self):
        for call in self:
            call.admin_search_id = call.user_id

    @api.depends("user_id", "rang_user_ids")
    def _compute_staff_search_ids(self):
        # Odoo reads this value only to check the PBX User rule on the calls
        # a user reads. Put in the cache at once, as ids: assigning a
        # many2many call by call would cost three times the read itself.
        self.env.cache.update(
            self,
            self._fields["staff_search_ids"],
            [
                tuple(dict.fromkeys(call.user_id._ids + call.rang_user_ids._ids))
                for call in self
            ],
        )

    @api.model
    def _pbx_rung_users(self, user_ids):
        """The ids of ``user_ids`` whose extension some call rang.

        A staff member who only places calls was never rung: searching their
        calls is then a search of the calls they took, which one index
        answers, instead of a walk through the whole Call Log that tests each
        call for the rang users.
        """
        self.flush_model(["rang_user_ids"])
        self.env.cr.execute(
            SQL(
                "SELECT u FROM unnest(%s::int[]) AS u WHERE EXISTS "
                "(SELECT 1 FROM pbx_call_rang_user_rel r WHERE r.user_id = u)",
                list(user_ids),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _pbx_user_ids(self, operator, value):
        """The user ids of a ``=``/``in`` search on a user field, or None when
        ``value`` is something else (names, False)."""
        if operator in ("=", "!=") and isinstance(value, int) and value:
            return [value]
        if (
            operator in ("in", "not in")
            and isinstance(value, (list, tuple))
            and value
            and all(isinstance(v, int) and v for v in value)
        ):
            return list(value)
        return None

    def _search_staff(self, operator, value):
        return self._pbx_staff_search(operator, value, untaken_only=False)

    def _search_admin(self, operator, value):
        return self._pbx_staff_search(operator, value, untaken_only=True)

    def _pbx_staff_search(self, operator, value, untaken_only):
        """The calls the users ``value`` took, or that rang them (with
        ``untaken_only``, of those only the ones nobody is known to have
        taken). Users never rung are looked for among the calls taken only."""
        if operator not in ("=", "!=", "in", "not in", "ilike", "not ilike"):
            return [("user_id", operator, value)]
        positive = {"!=": "=", "not in": "in", "not ilike": "ilike"}.get(
            operator, operator
        )
        user_ids = self._pbx_user_ids(operator, value)
        if user_ids is None:  # names, or False
            taken = [("user_id", positive, value)]
            rang = [("rang_user_ids", positive, value)]
        else:
            taken = [("user_id", "in", user_ids)]
            rung = self._pbx_rung_users(user_ids)
            rang = [("rang_user_ids", "in", rung)] if rung else None
        domain = taken
        if rang is not None:
            if untaken_only:
                rang = expression.AND([[("user_id", "=", False)], rang])
            domain = expression.OR([taken, rang])
        return ["!", *domain] if positive != operator else domain

    @api.depends("start", "direction", "src", "dst")
    def _compute_display_name(self):
        labels = dict(self._fields["direction"].selection)
        for call in self:
            call.display_name = "%s %s → %s" % (
                labels.get(call.direction, ""),
                call.src or "?",
                call.dst or "?",
            )
