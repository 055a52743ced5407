import logging
import math
from datetime import timedelta

from odoo import _, api, fields, models

from ...tools import callmarker_adapter as adapter
from ...tools.http_service import ServiceAuthError, ServiceError
from ..pbx_sync_mixin import PbxSync, sync_company_fields, with_fields
from . import pbx_callmarker_push

_logger = logging.getLogger(__name__)

FIRST_PULL_WINDOW = timedelta(days=1)
# A long pause is caught up a day per run, so one run never asks for more
# results than the adapter reads in one go.
MAX_PULL_WINDOW = timedelta(days=1)
MAX_TIME_LAG = 24 * 60
MAX_SKIPPED_SHOWN = 20
# Who sees and sets the account, its endpoints and how its syncs went (portal
# users read their company's other fields). The low-score threshold stays
# readable: the Call Log's Low Score filter uses it.
ADMINS = "base.group_system"
# One sync per company at a time, whether the scheduled action or Send and
# fetch now, on any node; changing one of the credentials resumes a paused
# synchronisation.
SYNC = PbxSync(
    "callmarker",
    "Callmarker",
    prefix="callmarker_",
    credentials=(
        "callmarker_enabled",
        "callmarker_call_data_url",
        "callmarker_request_data_url",
        "callmarker_integration_id",
        "callmarker_token",
    ),
    problems="_callmarker_config_problems",
    logger=_logger,
)


class _LockLost(Exception):
    """Another run took the company's sync lock while this one committed."""


@with_fields(
    sync_company_fields(
        "callmarker_",
        "Callmarker",
        ADMINS,
        enabled={
            "string": "Enable Callmarker Service",
            "help": "Send finished calls and their recordings to Callmarker and "
            "fetch its tags, quality scores and checklists.",
        },
        time_lag={
            "help": "Minutes each fetch reaches back before the previous one, to "
            "allow for clock differences and late analyses.",
        },
        paused={
            "help": "Callmarker refused the ID or token; nothing is sent or fetched "
            "until the ID, token or URLs are changed or Test connection succeeds.",
        },
    )
)
class ResCompany(models.Model):
    _name = "res.company"
    _inherit = ["res.company", "pbx.sync.mixin"]

    callmarker_call_data_url = fields.Char(
        "Callmarker Call Data URL",
        help="Where the analysis results of calls are fetched.",
        groups=ADMINS,
    )
    callmarker_request_data_url = fields.Char(
        "Callmarker Request Data URL",
        help="Where finished calls are sent for analysis.",
        groups=ADMINS,
    )
    callmarker_integration_id = fields.Char(
        "Callmarker ID",
        help="The integration id Callmarker gave this clinic.",
        groups=ADMINS,
    )
    callmarker_low_score = fields.Integer(
        "Callmarker Low Score Below",
        default=60,
        help="Calls scored below this percentage are listed by the Low Score filter.",
    )
    callmarker_pulled_until = fields.Datetime(
        "Callmarker Results Fetched Up To",
        readonly=True,
        copy=False,
        groups=ADMINS,
    )
    callmarker_skipped = fields.Text(
        "Callmarker Skipped Results",
        readonly=True,
        copy=False,
        help="Results of the last fetch that could not be used, and why.",
        groups=ADMINS,
    )

    def _pbx_syncs(self):
        return dict(super()._pbx_syncs(), callmarker=SYNC)

    # ------------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------------

    def _callmarker_config_problems(self):
        """What keeps these settings from working, as sentences (empty: fine)."""
        self.ensure_one()
        urls = {
            "callmarker_call_data_url": _("Call Data URL"),
            "callmarker_request_data_url": _("Request Data URL"),
        }
        return self._pbx_settings_problems(
            required=dict(
                urls, callmarker_integration_id=_("ID"), callmarker_token=_("Token")
            ),
            urls=urls,
            minutes={"callmarker_time_lag": (_("Time Lag"), MAX_TIME_LAG)},
        )

    def _callmarker_client(self):
        self.ensure_one()
        # sudo: the credentials are admin-only fields; they go into the client only
        #   (sync and Test connection, both run by the cron or an admin), never back to
        #   the user
        company = self.sudo()
        return adapter.CallmarkerClient(
            company.callmarker_call_data_url,
            company.callmarker_request_data_url,
            company.callmarker_integration_id,
            company.callmarker_token,
            timeout=company._pbx_sync_timeout("callmarker"),
        )

    # ------------------------------------------------------------------
    # Synchronisation
    # ------------------------------------------------------------------

    @api.model
    def _cron_callmarker_sync(self):
        """One batch of calls to send (PUSH_BATCH) and one window of results
        (MAX_PULL_WINDOW) per company; while a company is behind, Odoo runs
        this again at once."""
        now = fields.Datetime.now()
        companies = self._pbx_sync_due("callmarker")
        results = companies._callmarker_sync(commit=self.env.cr.commit, now=now)
        # A failed run waits for the next interval; one that worked goes on.
        remaining = sum(
            company._callmarker_batches_left(now)
            for company, result in zip(companies, results, strict=True)
            if result
        )
        self._pbx_sync_progress(done=len(companies), remaining=remaining)

    def _callmarker_batches_left(self, now):
        """Batches of calls to send and windows of results still to fetch."""
        self.ensure_one()
        # sudo: counts this company's due rows, only to tell the scheduled action
        Push = self.env["pbx.callmarker.push"].sudo()
        due = Push.search_count(Push._due_domain(self, now))
        return math.ceil(due / pbx_callmarker_push.PUSH_BATCH) + self._pbx_windows_left(
            self.callmarker_pulled_until, now, MAX_PULL_WINDOW
        )

    def _callmarker_sync(self, commit=None, now=None):
        """Send the finished calls, then fetch the results, for each company
        whose service is on and not paused.

        ``commit`` (the cron passes the cursor's commit) is called as calls
        are sent and after each company, so what was sent stays recorded
        whatever happens later in the run. Returns each company's result.
        """
        # sudo: cron, or Sync now from the settings (system-only); the run reads and
        #   writes the company's admin-only Callmarker fields
        return self.sudo()._pbx_sync_each(
            lambda company: company._callmarker_sync_one(commit, now), commit
        )

    def _callmarker_sync_one(self, commit=None, now=None):
        """Sync this company: True when it worked, False when it failed or
        the service is off or paused (the reason is the last error) and None
        when another sync of the company was running or had just run."""
        self.ensure_one()
        if not self.callmarker_enabled or self.callmarker_paused:
            return False
        problems = self._callmarker_config_problems()
        if problems:
            self._pbx_sync_record("callmarker", error="\n".join(problems))
            return False
        if not self._pbx_sync_lock("callmarker"):
            _logger.info("Callmarker (company %s): a sync is already running", self.id)
            return None
        commit_and_relock = None
        if commit:
            # A commit ends the transaction and its lock: take it again, and
            # leave the rest of the run to whoever took it in between.
            def commit_and_relock():
                commit()
                if not self._pbx_sync_lock("callmarker"):
                    raise _LockLost()

        try:
            return self._callmarker_push_and_pull(commit_and_relock, now)
        except _LockLost:
            _logger.info("Callmarker (company %s): another run took over", self.id)
            return None

    def _callmarker_push_and_pull(self, commit, now=None):
        client = self._callmarker_client()
        now = now or fields.Datetime.now()
        errors = []
        try:
            self.env["pbx.callmarker.push"]._push_due(self, client, now, commit)
        except ServiceAuthError as error:
            self._callmarker_pause(error)
            return False
        except ServiceError as error:
            errors.append(_("Sending calls: %(error)s", error=error))
        start = self.callmarker_pulled_until or now - FIRST_PULL_WINDOW
        end = min(now, start + MAX_PULL_WINDOW)
        since = start - timedelta(minutes=self.callmarker_time_lag)
        try:
            with client:
                results, skipped = client.fetch_results(since, end)
        except ServiceAuthError as error:
            self._callmarker_pause(error)
            return False
        except ServiceError as error:
            errors.append(_("Fetching results: %(error)s", error=error))
        else:
            _applied, unknown = self.env["pbx.call"]._callmarker_apply_results(
                self, results
            )
            skipped += unknown
            self.write(
                {
                    "callmarker_pulled_until": end,
                    "callmarker_skipped": self._skipped_text(skipped),
                }
            )
            if skipped:
                _logger.warning(
                    "Callmarker (company %s): %s result(s) skipped: %s",
                    self.id,
                    len(skipped),
                    "; ".join(f"{ref}: {reason}" for ref, reason in skipped[:5]),
                )
        if errors:
            self._pbx_sync_record("callmarker", error="\n".join(errors))
            return False
        self._pbx_sync_record("callmarker")
        return True

    def _callmarker_pause(self, error):
        _logger.warning("Callmarker (company %s): %s", self.id, error)
        self._pbx_sync_record(
            "callmarker",
            error=_(
                "Callmarker refused the ID or token (HTTP %(status)s). Nothing is "
                "sent or fetched until the ID, token or URLs are changed or Test "
                "connection succeeds.",
                status=error.status,
            ),
            pause=True,
        )

    @staticmethod
    def _skipped_text(skipped):
        if not skipped:
            return False
        lines = [f"{ref}: {reason}" for ref, reason in skipped[:MAX_SKIPPED_SHOWN]]
        if len(skipped) > MAX_SKIPPED_SHOWN:
            lines.append(f"… {len(skipped) - MAX_SKIPPED_SHOWN} more")
        return "\n".join(lines)

    def _callmarker_test_connection(self):
        """Ask Callmarker for an empty window of results: ``(ok, message)``."""
        self.ensure_one()
        problems = self._callmarker_config_problems()
        if problems:
            return False, "\n".join(problems)
        try:
            self._callmarker_client().check_connection(fields.Datetime.now())
        except ServiceError as error:
            return False, _(
                "Callmarker did not accept the request: %(error)s", error=error
            )
        return True, _("Callmarker answered: the URL, ID and token work.")
