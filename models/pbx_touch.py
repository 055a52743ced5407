from collections import defaultdict
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import escape_psql

from ..tools.calltouch import clean_text
from ..tools.phone import phone_key
from .pbx_call_ingest import NEW_CALL
from .pbx_sync_mixin import find_or_create

CHANNELS = [
    ("call", "Phone Call"),
    ("request", "Web Request"),
    ("chat", "Chat"),
    ("email", "Email"),
    ("visit", "Visit"),
    ("other", "Other"),
]
UTM_FIELDS = {
    "source": ("source_id", "utm.source"),
    "medium": ("medium_id", "utm.medium"),
    "campaign": ("campaign_id", "utm.campaign"),
}


# What makes a waiting Calltouch call worth matching again (pbx.call fields),
# and what a touch takes from its call.
_ARRIVAL_FIELDS = {NEW_CALL, "external_key", "start", "direction", "company_id"}
_CONTACT_FIELDS = {"user_id", "partner_id", "partner_ids", "lead_ids"}


class PbxTouch(models.Model):
    _name = "pbx.touch"
    _description = "Touch"
    _order = "date desc, id desc"
    _check_company_auto = True

    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    date = fields.Datetime(required=True, index=True, default=fields.Datetime.now)
    channel = fields.Selection(CHANNELS, required=True, default="call")
    origin = fields.Selection(
        [("manual", "Staff"), ("calltouch", "Calltouch")],
        string="Recorded By",
        required=True,
        default="manual",
        readonly=True,
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Patient",
        index="btree_not_null",
        check_company=True,
        ondelete="set null",
    )
    lead_id = fields.Many2one(
        "crm.lead",
        index="btree_not_null",
        check_company=True,
        ondelete="set null",
    )
    call_id = fields.Many2one(
        "pbx.call",
        index="btree_not_null",
        check_company=True,
        ondelete="set null",
        help="The call of the clinic's PBX this touch belongs to.",
    )
    phone = fields.Char()
    # Not readonly so that the sync can give the key it already computed
    # (a readonly precomputed field is always computed again on create).
    phone_key = fields.Char(
        compute="_compute_phone_key",
        store=True,
        precompute=True,
        readonly=False,
        index="btree_not_null",
        help="E.164 form of the phone, used to find the patient and the call.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        index="btree_not_null",
        default=lambda self: self._default_user(),
        domain="[('share', '=', False)]",
    )
    source_id = fields.Many2one("utm.source", ondelete="set null")
    medium_id = fields.Many2one("utm.medium", ondelete="set null")
    campaign_id = fields.Many2one("utm.campaign", ondelete="set null")
    keyword = fields.Char(help="Search phrase or utm_term of the visit.")
    landing_page = fields.Char(help="Page of the site the visitor came to.")
    tag_ids = fields.Many2many("pbx.touch.tag", string="Tags")
    comment = fields.Text()
    subject = fields.Char(help="Name of the web form the request came from.")
    tracking_number = fields.Char(
        help="The tracking number the patient dialled (Calltouch)."
    )
    duration = fields.Integer(
        "Talk Time", help="Seconds of conversation as Calltouch counted them."
    )
    is_target = fields.Boolean(
        "Target", help="Calltouch counted it as a target call or request."
    )
    is_unique = fields.Boolean(
        "Unique", help="Calltouch counted it as the first from this visitor."
    )
    calltouch_call_id = fields.Char("Calltouch Call ID", readonly=True, copy=False)
    calltouch_request_id = fields.Char(
        "Calltouch Request ID", readonly=True, copy=False
    )

    _sql_constraints = [
        (
            "calltouch_call_unique",
            "UNIQUE(company_id, calltouch_call_id)",
            "A Calltouch call can only be one touch per company.",
        ),
        (
            "calltouch_request_unique",
            "UNIQUE(company_id, calltouch_request_id)",
            "A Calltouch request can only be one touch per company.",
        ),
    ]

    def _default_user(self):
        return self.env.user if not self.env.su else False

    @api.model
    def _pbx_counts(self, field_name, records):
        """{record: touches} for a smart button; {} when touches are hidden."""
        if not self.has_access("read"):
            return {}
        domain = [(field_name, "in", records.ids)]
        return dict(self._read_group(domain, [field_name], ["__count"]))

    @api.depends("phone", "company_id", "call_id")
    def _compute_phone_key(self):
        for touch in self:
            # sudo: reads only the country of the call's PBX to normalise the phone;
            #   saving refuses a call the user cannot read
            call = touch.sudo().call_id
            if call:
                country = call.connection_id._number_country_code()
            else:
                company = touch.company_id or self.env.company
                country = company.country_id.code
            touch.phone_key = phone_key(touch.phone, country) if touch.phone else False

    @api.depends("channel", "partner_id", "lead_id", "phone")
    def _compute_display_name(self):
        labels = dict(self._fields["channel"].selection)
        for touch in self:
            who = (
                touch.partner_id.display_name
                or touch.lead_id.display_name
                or touch.phone
                or ""
            )
            label = labels.get(touch.channel, "")
            touch.display_name = f"{label}: {who}" if who else label

    @api.onchange("call_id")
    def _onchange_call_id(self):
        """A touch logged for a call takes the call's number, patient and time."""
        if not self.call_id:
            return
        # Only a call the user may read lends its details (the form shows its
        # name too); read them as superuser then, as the lead may be out of a
        # receptionist's reach.
        self.call_id.check_access("read")
        # sudo: read access to the call was checked just above; the lead may be out of
        #   the user's reach
        call = self.call_id.sudo()
        self.phone = self.phone or call.external_key or call.src
        self.partner_id = self.partner_id or call.partner_id
        self.lead_id = self.lead_id or call.lead_ids[:1]
        self.date = call.start or self.date
        self.channel = self.channel or "call"

    @api.onchange("phone")
    def _onchange_phone(self):
        """Typing a known number fills in the patient or the lead."""
        if not self.phone or self.partner_id or self.lead_id:
            return
        company = self.company_id or self.env.company
        key = phone_key(self.phone, company.country_id.code)
        if not key:
            return
        partners, leads = self.env["pbx.call"]._find_contacts({key}, company)
        patients = self.env["res.partner"].browse(partners.get(key, []))
        self.partner_id = patients._filtered_access("read")[:1]
        if not self.partner_id:
            found = self.env["crm.lead"].browse(leads.get(key, []))
            self.lead_id = found._filtered_access("read")[:1]

    @api.model_create_multi
    def create(self, vals_list):
        touches = super().create(vals_list)
        # Checked once created: the call may come from a default_call_id.
        self._check_call_access(touches.call_id)
        return touches

    def write(self, vals):
        if vals.get("call_id"):
            self._check_call_access(self.env["pbx.call"].browse(vals["call_id"]))
        return super().write(vals)

    @api.model
    def _check_call_access(self, calls):
        """A touch shows its call's name (direction and numbers), read as
        superuser: users link only calls they may read."""
        if not self.env.su:
            calls.with_env(self.env).check_access("read")

    # ------------------------------------------------------------------
    # Business helpers shared by the sync and the PBX ingestion
    # ------------------------------------------------------------------

    @api.model
    def _utm_ids(self, values_list):
        """{(field, name): id} of the utm records named in ``values_list``.

        ``values_list`` items have "source", "medium", "campaign" keys; the
        records are found by name (case-insensitively) or created.
        """
        wanted = {
            (key, clean_text(values.get(key)))
            for values in values_list
            for key in UTM_FIELDS
            if clean_text(values.get(key))
        }
        found = {}
        for key, name in sorted(wanted):
            _field, model = UTM_FIELDS[key]
            values = {"name": name}
            if model == "utm.campaign":
                values["is_auto_campaign"] = True
            found[key, name] = find_or_create(
                # sudo: asked only by the Calltouch sync: finds or creates the UTM
                #   records it names
                self.env[model].sudo().with_context(active_test=False),
                [("name", "=ilike", escape_psql(name))],
                values,
            ).id
        return found

    @api.model
    def _match_calls(self, company, items):
        """Pair Calltouch calls with PBX calls: {token: pbx.call id}.

        ``items`` are ``(token, phone key, UTC datetime)``. A PBX call is a
        candidate when it is an incoming call of ``company`` from the same
        number that started within ± Time Lag minutes and no other Calltouch
        touch holds it; the closest pairs win, one call per touch.
        """
        items = [item for item in items if item[1] and item[2]]
        if not items:
            return {}
        # sudo: reads the admin-only time lag only to bound the match (sync and
        #   ingestion)
        lag = timedelta(minutes=company.sudo().calltouch_time_lag or 0)
        keys = sorted({key for _t, key, _w in items})
        low = min(when for _t, _k, when in items) - lag
        high = max(when for _t, _k, when in items) + lag
        self.env["pbx.call"].flush_model(
            ["company_id", "direction", "external_key", "start"]
        )
        self.flush_model(["call_id", "calltouch_call_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT c.id, c.external_key, c.start FROM pbx_call c
                WHERE c.company_id = %s AND c.direction = 'incoming'
                  AND c.external_key = ANY(%s) AND c.start BETWEEN %s AND %s
                  AND NOT EXISTS (
                      SELECT 1 FROM pbx_touch t
                      WHERE t.call_id = c.id AND t.calltouch_call_id IS NOT NULL
                  )
                """,
                company.id,
                keys,
                low,
                high,
            )
        )
        by_key = defaultdict(list)
        for call_id, key, start in self.env.cr.fetchall():
            by_key[key].append((call_id, start))
        pairs = []
        for token, key, when in items:
            for call_id, start in by_key.get(key, ()):
                gap = abs(start - when)
                if gap <= lag:
                    pairs.append((gap, call_id, str(token), token))
        pairs.sort(key=lambda pair: pair[:3])
        matched, taken = {}, set()
        for _gap, call_id, _order, token in pairs:
            if token in matched or call_id in taken:
                continue
            matched[token] = call_id
            taken.add(call_id)
        return matched

    def _link_to_calls(self):
        """Link these unmatched Calltouch call touches to their PBX calls."""
        by_company = defaultdict(lambda: self.browse())
        for touch in self:
            if touch.calltouch_call_id and not touch.call_id and touch.phone_key:
                by_company[touch.company_id] |= touch
        linked = self.browse()
        for company, touches in by_company.items():
            matched = self._match_calls(
                company, [(t.id, t.phone_key, t.date) for t in touches]
            )
            # sudo: reads the patient, Admin and leads only of the calls _match_calls
            #   paired in this company
            calls = self.env["pbx.call"].sudo().browse(set(matched.values()))
            calls.fetch(["partner_id", "user_id", "lead_ids"])
            for touch in touches:
                if touch.id in matched:
                    call = calls.browse(matched[touch.id])
                    touch.write(touch._values_from_call(call))
                    linked |= touch
        return linked

    def _changed_values(self, vals):
        """The part of ``vals`` that differs from what the touch holds.

        Tags are only ever added: ``tag_ids`` in ``vals`` is a list of ids
        and the answer holds link commands for the missing ones.
        """
        self.ensure_one()
        changed = {}
        for name, value in vals.items():
            field = self._fields[name]
            current = self[name]
            if name == "tag_ids":
                missing = [tag for tag in value if tag not in current.ids]
                if missing:
                    changed[name] = [Command.link(tag) for tag in missing]
                continue
            if field.type == "many2one":
                differs = (value or False) != current.id
            else:
                differs = (value or False) != (current or False)
            if differs:
                changed[name] = value
        return changed

    def _contact_values(self, partners, leads, key, changes):
        """Patient and lead for a touch that has none yet, found by number."""
        self.ensure_one()
        values = {}
        if key and not self.partner_id and "partner_id" not in changes:
            if partners.get(key):
                values["partner_id"] = partners[key][0]
        if key and not self.lead_id and "lead_id" not in changes:
            if leads.get(key):
                values["lead_id"] = leads[key][0]
        return values

    def _values_from_call(self, call):
        """What a touch takes from its PBX call: never overwrites a value."""
        self.ensure_one()
        values = {"call_id": call.id}
        if not self.partner_id and call.partner_id:
            values["partner_id"] = call.partner_id.id
        if not self.lead_id and call.lead_ids:
            values["lead_id"] = call.lead_ids[:1].id
        if not self.user_id and call.user_id:
            values["user_id"] = call.user_id.id
        return values

    @api.model
    def _link_arrived_calls(self, calls, changed=None):
        """Match waiting Calltouch touches to PBX calls that just arrived, and
        give linked touches the patient and responsible their call now has.

        ``changed`` ({call id: names of the fields written}, see
        pbx.call._after_ingest) limits both to the calls where they can
        change: new calls or a new number or start, and a new patient, lead
        or responsible.
        """
        if changed is not None:
            arrived = calls.filtered(
                lambda call: changed.get(call.id, set()) & _ARRIVAL_FIELDS
            )
            relinked = calls.filtered(
                lambda call: (
                    NEW_CALL not in changed.get(call.id, {NEW_CALL})
                    and changed[call.id] & _CONTACT_FIELDS
                )
            )
        else:
            arrived = relinked = calls
        incoming = arrived.filtered(
            lambda call: call.direction == "incoming" and call.external_key
        )
        companies = incoming.company_id
        companies.fetch(["calltouch_enabled", "calltouch_time_lag"])
        for company in companies.filtered("calltouch_enabled"):
            mine = incoming.filtered(lambda call, co=company: call.company_id == co)
            # sudo: ingestion (already as superuser) reads the admin-only time lag only
            #   to bound the match
            lag = timedelta(minutes=company.sudo().calltouch_time_lag or 0)
            starts = mine.mapped("start")
            waiting = self.search(
                [
                    ("company_id", "=", company.id),
                    ("calltouch_call_id", "!=", False),
                    ("call_id", "=", False),
                    ("phone_key", "in", list(set(mine.mapped("external_key")))),
                    ("date", ">=", min(starts) - lag),
                    ("date", "<=", max(starts) + lag),
                ]
            )
            waiting._link_to_calls()
        if not relinked:
            return
        calls = relinked
        self.flush_model(["call_id", "user_id", "partner_id", "lead_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM pbx_touch WHERE call_id = ANY(%s)
                  AND (user_id IS NULL OR partner_id IS NULL OR lead_id IS NULL)
                ORDER BY id
                """,
                calls.ids,
            )
        )
        for touch in self.browse([row[0] for row in self.env.cr.fetchall()]):
            values = touch._values_from_call(touch.call_id)
            values.pop("call_id")
            if values:
                touch.write(values)

    @api.model
    def _relink_contacts(self, keys):
        """Touches of these numbers without a patient or lead get the ones
        found now (a patient or a lead was created or got a new number)."""
        keys = {key for key in keys if key}
        if not keys:
            return
        touches = self.search(
            [
                ("phone_key", "in", list(keys)),
                "|",
                ("partner_id", "=", False),
                ("lead_id", "=", False),
            ]
        )
        for company in touches.company_id:
            partners, leads = self.env["pbx.call"]._find_contacts(keys, company)
            for touch in touches.filtered(lambda t, co=company: t.company_id == co):
                values = touch._contact_values(partners, leads, touch.phone_key, {})
                if values:
                    touch.write(values)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_open_call(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "pbx.call",
            "res_id": self.call_id.id,
            "view_mode": "form",
        }
