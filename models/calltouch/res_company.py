"""Calltouch settings of a company and the scheduled sync of its account."""

import logging
from datetime import timedelta

from odoo import _, api, fields, models

from ...tools import calltouch
from ...tools.http_service import ServiceAuthError, ServiceError, ServiceUnavailable
from ..pbx_connection import _tz_selection
from ..pbx_sync_mixin import PbxSync, sync_company_fields, with_fields

_logger = logging.getLogger(__name__)

FIRST_SYNC_DAYS = 1  # how far back the very first sync reads
MAX_WINDOW = timedelta(days=7)  # a long pause is caught up a week per run
MAX_TIME_LAG = 24 * 60
# Who sees and sets the account, its endpoints and how its syncs went (portal
# users read their company's other fields).
ADMINS = "base.group_system"
# One sync per company at a time, on any node; changing one of the
# credentials is a new attempt after Calltouch refused us.
SYNC = PbxSync(
    "calltouch",
    "Calltouch",
    prefix="calltouch_",
    credentials=(
        "calltouch_enabled",
        "calltouch_call_url",
        "calltouch_request_url",
        "calltouch_site_id",
        "calltouch_token",
    ),
    problems="_calltouch_problems",
    logger=_logger,
)


@with_fields(
    sync_company_fields(
        "calltouch_",
        "Calltouch",
        ADMINS,
        enabled={
            "string": "Calltouch Service",
            "help": "Import the calls and web requests of the clinic's Calltouch "
            "account as touches, every few minutes.",
        },
        token={
            "help": "The API token (clientApiId) from Calltouch › Integrations › API."
        },
        time_lag={
            "string": "Time Lag",
            "help": "Minutes: a Calltouch call is the PBX call from the same number "
            "that started at most this long before or after it; each sync also "
            "reads again this far back.",
        },
        paused={
            "string": "Calltouch Sync Paused",
            "help": "Calltouch refused the ID or the token; the scheduled sync waits "
            "until the settings change.",
        },
    )
)
class ResCompany(models.Model):
    _name = "res.company"
    _inherit = ["res.company", "pbx.sync.mixin"]

    calltouch_call_url = fields.Char(
        "Call Data URL",
        default=calltouch.DEFAULT_CALL_URL,
        help="Calltouch calls diary; {siteId} is replaced by the ID.",
        groups=ADMINS,
    )
    calltouch_request_url = fields.Char(
        "Request Data URL",
        default=calltouch.DEFAULT_REQUEST_URL,
        help="Calltouch requests (web leads) journal.",
        groups=ADMINS,
    )
    calltouch_site_id = fields.Char(
        "Calltouch ID",
        help="The Calltouch site id (ID of the personal account).",
        groups=ADMINS,
    )
    calltouch_timezone = fields.Selection(
        _tz_selection,
        "Calltouch Time Zone",
        default=calltouch.DEFAULT_TIMEZONE,
        help="Time zone of the Calltouch account (its days are asked for).",
        groups=ADMINS,
    )
    calltouch_synced_until = fields.Datetime(
        "Calltouch Synced Up To",
        copy=False,
        help="End of the last window imported; the next sync starts here "
        "minus the Time Lag. Set it back to import an earlier period again.",
        groups=ADMINS,
    )
    calltouch_last_result = fields.Char(readonly=True, copy=False, groups=ADMINS)
    calltouch_retry_at = fields.Datetime(
        "Calltouch Retry After",
        readonly=True,
        copy=False,
        groups=ADMINS,
    )

    def _pbx_syncs(self):
        return dict(super()._pbx_syncs(), calltouch=SYNC)

    # ------------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------------

    def _calltouch_problems(self):
        """What keeps the Calltouch settings of this company from working."""
        self.ensure_one()
        # sudo: the Calltouch settings are admin-only; only sentences naming the fields
        #   come out, never their values
        company = self.sudo()
        problems = company._pbx_settings_problems(
            required={
                "calltouch_call_url": _("Call Data URL"),
                "calltouch_request_url": _("Request Data URL"),
                "calltouch_site_id": _("ID (the Calltouch site id)"),
                "calltouch_token": _("Token"),
                "calltouch_timezone": _("The Calltouch time zone"),
            },
            urls={
                "calltouch_call_url": _("Call Data URL"),
                "calltouch_request_url": _("Request Data URL"),
            },
            minutes={"calltouch_time_lag": (_("Time Lag"), MAX_TIME_LAG)},
        )
        site_id = (company.calltouch_site_id or "").strip()
        if site_id and not site_id.isdigit():
            problems.append(
                _("ID must be the numeric site id of the Calltouch account.")
            )
        return problems

    def _calltouch_client(self):
        self.ensure_one()
        # sudo: the credentials are admin-only fields; they go into the client only
        #   (sync and Test connection, both run by the cron or an admin), never back to
        #   the user
        company = self.sudo()
        return calltouch.CalltouchClient(
            company.calltouch_call_url,
            company.calltouch_request_url,
            company.calltouch_site_id,
            company.calltouch_token,
            company.calltouch_timezone,
            timeout=company._pbx_sync_timeout("calltouch"),
        )

    def _calltouch_test_connection(self):
        """(worked, message): one small request to each endpoint."""
        self.ensure_one()
        problems = self._calltouch_problems()
        if problems:
            return False, "\n".join(problems)
        client = self._calltouch_client()
        lines, worked = [], True
        for label, probe in (
            (_("Calls diary"), client.probe_calls),
            (_("Requests journal"), client.probe_requests),
        ):
            try:
                count = probe()
            except ServiceAuthError as error:
                worked = False
                lines.append(
                    _(
                        "%(what)s: Calltouch refused the ID or the Token (%(error)s)",
                        what=label,
                        error=str(error),
                    )
                )
            except ServiceError as error:
                worked = False
                lines.append(_("%(what)s: failed: %(error)s", what=label, error=error))
            else:
                lines.append(
                    _("%(what)s: OK, %(count)s today.", what=label, count=count)
                )
        return worked, "\n".join(lines)

    # ------------------------------------------------------------------
    # Sync
    # ------------------------------------------------------------------

    @api.model
    def _cron_calltouch_sync(self):
        """One window (at most MAX_WINDOW) per company; while a company is
        behind, Odoo runs this again at once."""
        now = fields.Datetime.now()
        companies = self._pbx_sync_due("calltouch")
        results = companies._calltouch_sync_companies(
            commit=self.env.cr.commit, now=now
        )
        # A failed run waits for the next interval; one that worked goes on.
        remaining = sum(
            self._pbx_windows_left(company.calltouch_synced_until, now, MAX_WINDOW)
            for company, result in zip(companies, results, strict=True)
            if result
        )
        self._pbx_sync_progress(done=len(companies), remaining=remaining)

    def _calltouch_sync_companies(self, commit=None, now=None):
        """Sync each of these companies on its own (``_calltouch_sync``
        records an unexpected failure on the company and rolls back only its
        own work). ``commit`` (the cron passes the cursor's commit) is called
        after each company, so one neither undoes nor stops the others.
        Returns each company's result."""
        return self._pbx_sync_each(lambda company: company._calltouch_sync(now), commit)

    def _calltouch_window(self, now):
        # sudo: reads the admin-only cursor and time lag, only to compute the sync's
        #   window
        company = self.sudo()
        lag = timedelta(minutes=company.calltouch_time_lag or 0)
        since = company.calltouch_synced_until or now - timedelta(days=FIRST_SYNC_DAYS)
        start = min(since - lag, now)
        return start, min(now, start + MAX_WINDOW)

    def _calltouch_sync(self, now=None):
        """Import the window [last sync − Time Lag, now] of this company
        (at most a week of it; a long pause is caught up run by run).

        Everything is fetched first; the touches, the leads and the new
        cursor are then written together, so the cursor only moves when the
        whole window is in the database. Returns the counts, False when the
        sync failed (the reason is in ``calltouch_last_error``) and None when
        another sync of the company is running, or finished after this
        transaction began (it did the work this one would do again).
        """
        self.ensure_one()
        # sudo: cron, or Sync now from the settings (system-only); the sync writes the
        #   company's admin-only health fields and imports its own account
        company = self.sudo()
        problems = company._calltouch_problems()
        if problems:
            company._pbx_sync_record("calltouch", error="\n".join(problems))
            return False
        if not company._pbx_sync_lock("calltouch"):
            _logger.info("Calltouch sync of %s is already running", company.name)
            return None
        # Inside the lock: what went wrong is recorded while no other sync of
        # the company can write it.
        try:
            with self.env.cr.savepoint():
                return company._calltouch_fetch_and_import(now)
        except Exception as error:  # recorded for the manager, retried next run
            _logger.exception("Calltouch sync of %s failed", company.name)
            company._pbx_sync_record(
                "calltouch",
                error=_(
                    "The Calltouch sync failed unexpectedly; the next run "
                    "tries the same period again. %(error)s",
                    error=str(error),
                ),
            )
            return False

    def _calltouch_fetch_and_import(self, now=None):
        company = self
        now = now or fields.Datetime.now()
        start, end = company._calltouch_window(now)
        client = company._calltouch_client()
        try:
            calls, skipped = client.fetch_calls(start, end)
            requests, skipped_requests = client.fetch_requests(start, end)
        except ServiceAuthError as error:
            company._pbx_sync_record(
                "calltouch",
                error=_(
                    "Calltouch refused the ID or the Token; the sync is paused "
                    "until the settings are corrected. %(error)s",
                    error=str(error),
                ),
                pause=True,
            )
            return False
        except ServiceUnavailable as error:
            retry_at = False
            if error.retry_after:
                retry_at = fields.Datetime.now() + timedelta(seconds=error.retry_after)
            company._pbx_sync_record(
                "calltouch",
                error=_(
                    "Calltouch is not available; the next run tries the same "
                    "period again. %(error)s",
                    error=str(error),
                ),
                retry_at=retry_at,
            )
            return False
        except ServiceError as error:
            company._pbx_sync_record(
                "calltouch",
                error=_(
                    "Calltouch answered with an error; the next run tries the "
                    "same period again. %(error)s",
                    error=str(error),
                ),
            )
            return False
        return company._calltouch_import(
            end, calls, requests, len(skipped) + len(skipped_requests)
        )

    def _calltouch_import(self, end, calls, requests, skipped):
        """Write the fetched window and move the cursor (called inside
        _calltouch_sync's savepoint: a failure here writes nothing)."""
        Touch = self.env["pbx.touch"]
        call_stats = Touch._calltouch_import_calls(self, calls)
        request_stats = Touch._calltouch_import_requests(self, requests)
        result = _(
            "%(calls)s calls (%(new_calls)s new, %(matched)s newly linked "
            "to PBX calls), %(requests)s requests (%(leads)s new leads).",
            calls=len(calls),
            new_calls=call_stats["created"],
            matched=call_stats["matched"],
            requests=len(requests),
            leads=request_stats["leads"],
        )
        if skipped:
            result += " " + _(
                "%(count)s malformed records skipped (see the server log).",
                count=skipped,
            )
        self._pbx_sync_record(
            "calltouch", result=result, values={"calltouch_synced_until": end}
        )
        _logger.info("Calltouch sync of %s: %s", self.name, result)
        return {"calls": call_stats, "requests": request_stats, "skipped": skipped}
