import hashlib
import hmac
import secrets

import pytz

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

TOKEN_BYTES = 32
# What pbx.connection._token_owner answers from.
_TOKEN_OWNER_FIELDS = {"token_hash", "active", "company_id", "country_id"}
# Where the PBX is reached and how its syncs went: for managers, not for every
# PBX User who sees a connection's name on a call.
MANAGERS = "clinic_pbx.clinic_pbx_group_manager"
DEFAULT_CDR_HOST = "127.0.0.1"
DEFAULT_CDR_PORT = 3306


def _tz_selection(self):
    return [(tz, tz) for tz in sorted(pytz.all_timezones, key=lambda t: t)]


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


class PbxConnection(models.Model):
    _name = "pbx.connection"
    _description = "PBX Connection"
    _inherit = ["mail.thread", "pbx.sync.mixin"]
    _order = "sequence, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        tracking=True,
    )
    kind = fields.Selection(
        [("event_api", "Event API"), ("freepbx_cdr", "FreePBX CDR database")],
        required=True,
        default="event_api",
        tracking=True,
        help="Event API: the PBX posts its events to /pbx/v1/events. FreePBX CDR "
        "database: Odoo reads finished calls from the PBX's cdr table.",
    )
    country_id = fields.Many2one(
        "res.country",
        "Numbers Country",
        default=lambda self: self.env.company.country_id,
        help="Country of numbers the PBX gives without their country code.",
    )
    timezone = fields.Selection(
        _tz_selection,
        "PBX Time Zone",
        default=lambda self: self.env.user.tz or "UTC",
        help="Time zone of the times in the PBX's CDR table.",
    )
    token_hash = fields.Char(groups="base.group_system", copy=False, index=True)
    token_hint = fields.Char(
        "Token",
        readonly=True,
        copy=False,
        groups=MANAGERS,
        help="The end of the current API token.",
    )
    # FreePBX CDR database
    cdr_host = fields.Char("Database Host", default=DEFAULT_CDR_HOST, groups=MANAGERS)
    cdr_port = fields.Integer(
        "Database Port", default=DEFAULT_CDR_PORT, groups=MANAGERS
    )
    cdr_database = fields.Char(
        "Database Name", default="asteriskcdrdb", groups=MANAGERS
    )
    cdr_table = fields.Char("CDR Table", default="cdr", groups=MANAGERS)
    cdr_user = fields.Char("Database User", groups="base.group_system")
    cdr_password = fields.Char("Database Password", groups="base.group_system")
    cdr_overlap_minutes = fields.Integer(
        "Overlap (minutes)",
        default=60,
        help="Each sync reads again this many minutes before the last row it saw, "
        "so rows the PBX writes late are not missed. FreePBX writes a call's rows "
        "when it ends but dates them when it started: keep this longer than the "
        "longest calls.",
    )
    cdr_cursor = fields.Datetime(
        "Read Up To",
        copy=False,
        groups=MANAGERS,
        help="PBX time of the newest CDR row imported so far (UTC).",
    )
    recordings_base_url = fields.Char(
        "Recordings URL",
        groups=MANAGERS,
        help="Where the PBX serves its monitor directory, e.g. "
        "https://pbx.example/monitor/ (recordings are looked up under YYYY/MM/DD/).",
    )
    recordings_username = fields.Char(groups="base.group_system")
    recordings_password = fields.Char(groups="base.group_system")
    # Sync health
    last_success_at = fields.Datetime(
        "Last Success", readonly=True, copy=False, groups=MANAGERS
    )
    last_error = fields.Text(readonly=True, copy=False, groups=MANAGERS)
    last_error_at = fields.Datetime(readonly=True, copy=False, groups=MANAGERS)
    rows_imported = fields.Integer(readonly=True, copy=False, groups=MANAGERS)
    call_count = fields.Integer(compute="_compute_call_count")

    def _compute_call_count(self):
        counts = dict(
            self.env["pbx.call"]._read_group(
                [("connection_id", "in", self.ids)], ["connection_id"], ["__count"]
            )
        )
        for connection in self:
            connection.call_count = counts.get(connection, 0)

    def write(self, vals):
        # Record rules are checked on the company a connection is in, not on
        # the one it is moved to: with its token a manager could otherwise
        # feed calls and pop-ups to a company they are not in.
        if vals.get("company_id") and not self.env.su:
            company = self.env["res.company"].browse(vals["company_id"])
            if company not in self.env.user.company_ids:
                raise AccessError(
                    _("You can only move a PBX connection to one of your companies.")
                )
        if _TOKEN_OWNER_FIELDS.intersection(vals):
            self.env.registry.clear_cache()  # _token_owner
        return super().write(vals)

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()  # _token_owner
        return super().create(vals_list)

    def unlink(self):
        self.env.registry.clear_cache()  # _token_owner
        return super().unlink()

    @api.ondelete(at_uninstall=False)
    def _unlink_except_with_calls(self):
        """Deleting a PBX would delete its call history: archive it instead."""
        # sudo: unlink rights were checked before this hook; only counts the
        #   connection's calls
        Call = self.env["pbx.call"].sudo()
        with_calls = self.filtered(
            lambda c: Call.search_count([("connection_id", "=", c.id)], limit=1)
        )
        if with_calls:
            raise UserError(
                _(
                    "%(names)s already brought calls into Odoo; archive the "
                    "connection instead of deleting it, so the call history stays.",
                    names=", ".join(with_calls.mapped("name")),
                )
            )

    def _number_country_code(self):
        self.ensure_one()
        country = self.country_id or self.company_id.country_id
        return self._country_code(country.id) if country else False

    @api.model
    @tools.ormcache("country_id")
    def _country_code(self, country_id):
        """The ISO code of a country, read once per worker: every event asks
        it (res.country clears the cache when a code changes)."""
        return self.env["res.country"].browse(country_id).code

    # ------------------------------------------------------------------
    # API token
    # ------------------------------------------------------------------

    def action_generate_token(self):
        """Make a new API token; it is shown once and only its hash is kept."""
        self.ensure_one()
        self.check_access("write")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        # sudo: write access was checked above; token_hash is system-only and only its
        #   hash is kept
        self.sudo().write(
            {"token_hash": hash_token(token), "token_hint": "…" + token[-4:]}
        )
        self.message_post(
            body=_("A new API token was generated; the previous one no longer works.")
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("New API token"),
            "res_model": "pbx.connection.token",
            "view_mode": "form",
            "target": "new",
            "context": {"default_connection_id": self.id, "default_token": token},
        }

    @api.model
    def _authenticate_token(self, token):
        """The active connection whose API token is ``token``, or an empty set."""
        if not isinstance(token, str) or not 20 <= len(token) <= 200:
            return self.browse()
        found = self._token_owner(hash_token(token))
        if not found:
            return self.browse()
        connection_id, company_id, country_id = found
        # sudo: the connection is the active one whose token hash matched; the Event API
        #   ingests as it
        connection = self.sudo().browse(connection_id)
        # Cached as a fetch() would: every event reads them.
        cache = self.env.cache
        cache.insert_missing(connection, self._fields["company_id"], [company_id])
        cache.insert_missing(connection, self._fields["country_id"], [country_id])
        return connection

    @api.model
    @tools.ormcache("digest")
    def _token_owner(self, digest):
        """(id, company id, country id) of the active connection whose token
        hash is ``digest``, or None; asked by every Event API request, so kept
        per worker until a connection's token, activity or place changes."""
        self.env.cr.execute(
            SQL(
                """
                SELECT id, token_hash, company_id, country_id FROM pbx_connection
                WHERE active AND token_hash = %s ORDER BY id LIMIT 1
                """,
                digest,
            )
        )
        row = self.env.cr.fetchone()
        if row and hmac.compare_digest(row[1], digest):
            return row[0], row[2], row[3]
        return None

    def action_view_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "clinic_pbx.pbx_call_action"
        )
        action["domain"] = [("connection_id", "=", self.id)]
        action["context"] = {"search_default_filter_period": 0}
        return action

    def _check_kind(self, kind):
        for connection in self:
            if connection.kind != kind:
                raise UserError(
                    _(
                        "%(name)s is not a %(kind)s connection.",
                        name=connection.name,
                        kind=kind,
                    )
                )
