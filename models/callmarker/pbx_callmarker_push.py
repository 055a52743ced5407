import logging
import secrets
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ...tools.http_service import ServiceAuthError, ServiceError, ServiceUnavailable
from .pbx_call import RECORDING_LINK_TTL

_logger = logging.getLogger(__name__)

PUSH_BATCH = 200
# Calls marked sent are committed every so many calls: should Odoo stop in
# between, the calls are sent again with their idempotency key and the
# service recognises them.
COMMIT_EVERY = 20
MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=6)


class PbxCallmarkerPush(models.Model):
    """A finished call waiting to be, or already, sent to Callmarker.

    One row per call (unique), created when the call is finished. The row's
    idempotency key travels with every attempt, so a service that received a
    call whose answer was lost recognises the retry.
    """

    _name = "pbx.callmarker.push"
    _description = "Call Sent to Callmarker"
    _order = "id desc"
    _rec_name = "call_id"
    _check_company_auto = True

    call_id = fields.Many2one(
        "pbx.call",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
        check_company=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, readonly=True
    )
    call_start = fields.Datetime(related="call_id.start", string="Call Time")
    state = fields.Selection(
        [("pending", "Waiting"), ("sent", "Sent"), ("failed", "Failed")],
        required=True,
        default="pending",
        index=True,
        readonly=True,
    )
    idempotency_key = fields.Char(required=True, readonly=True)
    attempts = fields.Integer(readonly=True)
    last_attempt_at = fields.Datetime(readonly=True)
    next_attempt_at = fields.Datetime(
        readonly=True, help="Failed calls are sent again from this time on."
    )
    last_error = fields.Text(readonly=True)
    sent_at = fields.Datetime(readonly=True)
    service_status = fields.Char(
        readonly=True, help="What the service answered, e.g. accepted or duplicate."
    )
    # Signed into the call's recording links: a new nonce revokes them all.
    link_nonce = fields.Char(readonly=True, copy=False, groups="base.group_system")

    _sql_constraints = [
        ("call_unique", "UNIQUE(call_id)", "A call is sent to Callmarker once."),
    ]

    @api.model
    def _queue(self, calls):
        """Queue finished calls for sending; calls already queued are left alone."""
        # sudo: reads only database.uuid, to build the idempotency keys of calls being
        #   ingested
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        rows = [
            (call.id, call.company_id.id, f"{uuid}:call:{call.id}", _new_nonce())
            for call in calls
        ]
        if not rows:
            return
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO pbx_callmarker_push (
                    call_id, company_id, idempotency_key, link_nonce, state,
                    attempts, create_uid, write_uid, create_date, write_date)
                SELECT r.call_id, r.company_id, r.key, r.nonce, 'pending', 0,
                       %(uid)s, %(uid)s,
                       now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
                  FROM unnest(
                       %(calls)s::int[], %(companies)s::int[], %(keys)s::varchar[],
                       %(nonces)s::varchar[]
                  ) AS r(call_id, company_id, key, nonce)
                ON CONFLICT (call_id) DO NOTHING
                """,
                uid=self.env.uid,
                calls=[row[0] for row in rows],
                companies=[row[1] for row in rows],
                keys=[row[2] for row in rows],
                nonces=[row[3] for row in rows],
            )
        )

    def _due_domain(self, company, now):
        return [
            ("company_id", "=", company.id),
            ("state", "in", ("pending", "failed")),
            ("attempts", "<", MAX_ATTEMPTS),
            "|",
            ("next_attempt_at", "=", False),
            ("next_attempt_at", "<=", now),
        ]

    def _lock(self):
        """Lock this row for sending; False when another run holds it."""
        self.env.cr.execute(
            SQL(
                "SELECT id FROM pbx_callmarker_push WHERE id = %s "
                "FOR UPDATE SKIP LOCKED",
                self.id,
            )
        )
        if not self.env.cr.fetchone():
            return False
        self.invalidate_recordset()
        return True

    @api.model
    def _push_due(self, company, client, now, commit=None):
        """Send the company's due calls. Returns the number sent.

        Raises ServiceAuthError (stop: credentials refused) and
        ServiceUnavailable (stop: try again on the next run) after recording
        the attempt on the call; a call the service refused (other 4xx) is
        marked failed and the others are still sent.
        """
        # sudo: runs in the Callmarker sync (cron or an admin's Sync now); sends only
        #   this company's due rows (_due_domain)
        Push = self.sudo()
        rows = Push.search(self._due_domain(company, now), order="id", limit=PUSH_BATCH)
        if not rows:
            return 0
        with client:
            return rows._push(client, now, commit)

    def _push(self, client, now, commit):
        sent = 0
        expires_at = now + RECORDING_LINK_TTL
        for index, row in enumerate(self, 1):
            if not row._lock() or row.state == "sent":
                continue
            if row.call_id.company_id != row.company_id:
                # Never send a call to another company's Callmarker account.
                row._refuse(_("The call belongs to another company."), now)
                continue
            data = row.call_id._callmarker_call_data(expires_at, row._link_nonce())
            try:
                status = client.push_call(data, row.idempotency_key)
            except ServiceAuthError:
                raise
            except ServiceUnavailable as error:
                row._record_failure(error, now)
                if commit:
                    commit()
                raise
            except ServiceError as error:
                row._record_failure(error, now)
            else:
                row.write(
                    {
                        "state": "sent",
                        "attempts": row.attempts + 1,
                        "last_attempt_at": now,
                        "next_attempt_at": False,
                        "sent_at": now,
                        "last_error": False,
                        "service_status": status[:64],
                    }
                )
                sent += 1
            if commit and index % COMMIT_EVERY == 0:
                commit()
        return sent

    def _record_failure(self, error, now):
        attempts = self.attempts + 1
        delay = min(FIRST_RETRY * (2 ** (attempts - 1)), LONGEST_RETRY)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            delay = max(delay, timedelta(seconds=retry_after))
        self.write(
            {
                "state": "failed",
                "attempts": attempts,
                "last_attempt_at": now,
                "next_attempt_at": now + delay if attempts < MAX_ATTEMPTS else False,
                "last_error": str(error),
            }
        )
        _logger.info(
            "Callmarker: call %s not sent (attempt %s): %s",
            self.call_id.id,
            attempts,
            error,
        )

    def _refuse(self, message, now):
        """Mark this row failed for good, without sending anything."""
        self.write(
            {
                "state": "failed",
                "attempts": max(self.attempts + 1, MAX_ATTEMPTS),
                "last_attempt_at": now,
                "next_attempt_at": False,
                "last_error": message,
            }
        )
        _logger.warning("Callmarker: call %s refused: %s", self.call_id.id, message)

    def action_retry(self):
        """Send these calls again on the next run (after the automatic retries).

        The recording links sent before stop working: the next attempt sends
        a new one. Managers may do this although they cannot write the rows
        (which would let them point a row at any call).
        """
        if not (
            self.env.is_system()
            or self.env.user.has_group("clinic_pbx.clinic_pbx_group_manager")
        ):
            raise AccessError(_("Only PBX managers can send calls again."))
        self.check_access("read")
        # sudo: the caller was checked above (PBX Manager or admin, read access on these
        #   rows); only the state, attempts and a new nonce are written, never call_id
        for row in self.sudo().filtered(lambda row: row.state != "sent"):
            row.write(
                {
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": False,
                    "link_nonce": _new_nonce(),
                }
            )
        return True

    def _link_nonce(self):
        """The nonce signed into this call's recording links (made if missing)."""
        self.ensure_one()
        # sudo: link_nonce is admin-only; the push sync reads or makes it to sign the
        #   link it sends
        row = self.sudo()
        if not row.link_nonce:
            row.link_nonce = _new_nonce()
        return row.link_nonce

    @api.model
    def _state_counts(self, company):
        # sudo: for the settings (system-only): only the number of rows per state leaves
        counts = dict(
            self.sudo()._read_group(
                [("company_id", "=", company.id)], ["state"], ["__count"]
            )
        )
        return {state: counts.get(state, 0) for state in ("pending", "sent", "failed")}

    @api.depends("call_id")
    def _compute_display_name(self):
        for row in self:
            row.display_name = _("Call %(call)s", call=row.call_id.display_name)


def _new_nonce():
    return secrets.token_hex(16)
