import logging
import time
from datetime import timedelta

import psycopg2

from odoo import _, api, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL

from ...tools.cdr_fold import fold_rows
from ...tools.cdr_source import (
    KEY_FORMAT,
    PAGE_SIZE,
    CdrSource,
    CdrSourceError,
    is_date_key,
    parse_key,
    valid_table_name,
)
from ...tools.http_service import is_http_url
from ...tools.recording_fetch import url_problem
from ..pbx_connection import DEFAULT_CDR_HOST, DEFAULT_CDR_PORT
from ..pbx_sync_mixin import PbxSync

_logger = logging.getLogger(__name__)

# Its lock keeps two syncs of one connection (the scheduled action and a
# "Sync now", on any node) apart; its health is the connection's
# last_success_at, last_error and last_error_at.
SYNC = PbxSync("freepbx_cdr", "FreePBX CDR", logger=_logger)
# Pages of rows (PAGE_SIZE each) one scheduled run imports per connection;
# Odoo runs it again at once while there are more (a long history is
# imported in bounded runs, each inside the server's time limits).
CRON_PAGES = 10
# Seconds of work Sync now does before the rest is left to the scheduled action.
BUTTON_TIME_BUDGET = 20
MAX_LISTED_PROBLEMS = 20


class PbxConnection(models.Model):
    _inherit = "pbx.connection"

    def _pbx_syncs(self):
        return dict(super()._pbx_syncs(), freepbx_cdr=SYNC)

    @api.model_create_multi
    def create(self, vals_list):
        if any(vals.get("recordings_base_url") for vals in vals_list):
            self._check_may_set_recordings_url()
        connections = super().create(vals_list)
        # Checked once created: the location may come from context defaults.
        if not self.env.is_system() and not self.env.su:
            # sudo: reads the location of the connections this user just created, only
            #   to refuse a non-default one
            for connection in connections.sudo():
                if (connection.cdr_host, connection.cdr_port) != (
                    DEFAULT_CDR_HOST,
                    DEFAULT_CDR_PORT,
                ):
                    connection._raise_cdr_location_is_for_admins()
                if connection.recordings_base_url:
                    self._check_may_set_recordings_url()
        return connections

    def write(self, vals):
        moved = {"cdr_host", "cdr_port", "recordings_base_url"} & set(vals)
        if moved and not self.env.is_system() and not self.env.su:
            # The guard reads the connections as superuser: only for users who
            # may write them, or its refusal would tell a stranger about them.
            self.check_access("write")
            # sudo: write access was checked just above; the guard only compares the
            #   stored location
            for connection in self.sudo():
                changed = {f for f in moved if (connection[f] or False) != vals[f]}
                # Test connection and Sync now tell a refused connection from
                # a timeout or another service: pointed anywhere, they would
                # scan the ports the server reaches (and the stored password
                # would go there).
                if changed & {"cdr_host", "cdr_port"}:
                    connection._raise_cdr_location_is_for_admins()
                if "recordings_base_url" in changed:
                    self._check_may_set_recordings_url()
        return super().write(vals)

    def _raise_cdr_location_is_for_admins(self):
        raise AccessError(
            _(
                "Only an administrator can set the database host and port of %(name)s.",
                name=self.name,
            )
        )

    def _check_may_set_recordings_url(self):
        # Odoo fetches recordings from under this URL wherever it points,
        # the clinic's own network included.
        if not self.env.is_system() and not self.env.su:
            raise AccessError(
                _(
                    "Only an administrator can set the Recordings URL of a PBX "
                    "connection: Odoo fetches recordings from that server, "
                    "even inside the clinic's network."
                )
            )

    @api.constrains("kind", "cdr_table")
    def _check_cdr_table(self):
        for connection in self:
            if connection.kind == "freepbx_cdr" and not valid_table_name(
                connection.cdr_table
            ):
                raise ValidationError(
                    _(
                        "The CDR table name %(table)s may only contain letters, "
                        "digits and underscores.",
                        table=connection.cdr_table or "",
                    )
                )

    @api.constrains("recordings_base_url")
    def _check_recordings_base_url(self):
        for connection in self:
            url = connection.recordings_base_url
            if url and not is_http_url(url):
                raise ValidationError(
                    _(
                        "The recordings URL must start with http:// or https://, "
                        "not %(url)s.",
                        url=url,
                    )
                )
            if url and url_problem(url):
                # The user name and password have their own fields; a URL
                # that parsers read differently cannot be compared safely.
                raise ValidationError(
                    _(
                        "The recordings URL %(url)s must not contain a user name, "
                        "password, backslashes or spaces.",
                        url=url,
                    )
                )

    @api.constrains("cdr_overlap_minutes")
    def _check_cdr_overlap_minutes(self):
        for connection in self:
            if connection.cdr_overlap_minutes < 0:
                raise ValidationError(_("The overlap cannot be negative."))

    # ------------------------------------------------------------------
    # Buttons and the scheduled action
    # ------------------------------------------------------------------

    def action_sync_cdr(self):
        """Sync now: read new rows of this FreePBX CDR table at once."""
        self.ensure_one()
        self.check_access("write")
        self._check_kind("freepbx_cdr")
        summary = self._sync_cdr(time_budget=BUTTON_TIME_BUDGET)
        if summary["busy"]:
            return self._cdr_notification(
                "warning",
                _(
                    "%(name)s is being synced or changed right now; try again in "
                    "a moment.",
                    name=self.name,
                ),
            )
        if summary["more"]:
            # sudo: write access to the connection was checked above; only wakes the CDR
            #   cron early
            self.env.ref("clinic_pbx.pbx_connection_cdr_cron").sudo()._trigger()
        if summary["error"]:
            return self._cdr_notification("danger", summary["error"])
        message = _(
            "%(calls)s new or changed calls from %(rows)s new CDR rows.",
            calls=summary["calls"],
            rows=summary["rows"],
        )
        if summary["more"]:
            message += " " + _("The rest is being read in the background.")
        if summary["problems"]:
            message += " " + _(
                "%(count)s rows or calls were skipped: see Sync Health.",
                count=len(summary["problems"]),
            )
            return self._cdr_notification("warning", message, sticky=True)
        return self._cdr_notification("success", message)

    def action_test_cdr_connection(self):
        """Connect to the CDR table and read one row; changes nothing."""
        self.ensure_one()
        self.check_access("write")
        self._check_kind("freepbx_cdr")
        try:
            with self._cdr_source() as source:
                newest = source.check()
        except CdrSourceError as error:
            return self._cdr_notification("danger", self._cdr_error_message(error))
        if newest is None:
            message = _(
                "Connected. The table %(table)s is empty so far.",
                table=self.cdr_table,
            )
        else:
            message = _(
                "Connected. The newest call in %(table)s started at %(time)s "
                "(PBX time).",
                table=self.cdr_table,
                time=str(newest),
            )
        return self._cdr_notification("success", message)

    def _cdr_notification(self, kind, message, sticky=None):
        return self._pbx_sync_notification(self.name, message, kind, sticky)

    @api.model
    def _cron_sync_cdr(self):
        """Scheduled action: sync every active FreePBX CDR connection, at
        most CRON_PAGES pages each; while one has more, Odoo runs this again
        at once."""
        connections = self.search([("kind", "=", "freepbx_cdr")])
        remaining = sum(
            connection._sync_cdr(page_size=PAGE_SIZE, max_pages=CRON_PAGES)["more"]
            for connection in connections
        )
        self._pbx_sync_progress(done=len(connections), remaining=remaining)

    # ------------------------------------------------------------------
    # The sync
    # ------------------------------------------------------------------

    def _cdr_source(self):
        self.ensure_one()
        # sudo: the CDR login is admin-only; it goes into the client only (cron, or
        #   buttons after check_access('write')), never back to the user
        connection = self.sudo()
        return CdrSource(
            host=connection.cdr_host,
            port=connection.cdr_port,
            database=connection.cdr_database,
            table=connection.cdr_table,
            user=connection.cdr_user,
            password=connection.cdr_password,
            tz_name=connection.timezone or "UTC",
        )

    def _cdr_error_message(self, error):
        params = error.params
        if error.kind == "connect":
            return _(
                "Cannot connect to the CDR database at %(host)s:%(port)s (%(reason)s).",
                **params,
            )
        if error.kind == "auth":
            return _(
                "The CDR database at %(host)s refused the user name or password.",
                **params,
            )
        if error.kind == "database":
            return _(
                "The CDR database %(database)s does not exist or the user may not "
                "use it.",
                **params,
            )
        if error.kind == "table":
            return _(
                "There is no table %(table)s in the CDR database %(database)s.",
                **params,
            )
        if error.kind == "grant":
            return _(
                "Cannot read %(database)s.%(table)s: the table does not exist or "
                "the database user may not read it (GRANT SELECT ON "
                "%(database)s.%(table)s).",
                **params,
            )
        if error.kind == "column":
            return _(
                "The table %(table)s has no column %(column)s: is it a FreePBX "
                "cdr table?",
                **params,
            )
        if error.kind == "lost":
            return _(
                "The CDR database at %(host)s closed the connection.",
                **params,
            )
        return _("The CDR database answered with error %(code)s: %(message)s", **params)

    def _cdr_window_start(self, source, cursor):
        """PBX-local time to read from: the cursor minus the overlap.

        When the PBX's clocks went back within the overlap, the repeated hour
        is read again as well.
        """
        # sudo: reads the overlap of the connection being synced (cron, or Sync now
        #   after the write check)
        start = cursor - timedelta(minutes=max(0, self.sudo().cdr_overlap_minutes))
        shift = timedelta(hours=3)
        plain = parse_key(source.local_key(start))
        earlier = parse_key(source.local_key(start - shift)) + shift
        return min(plain, earlier).strftime(KEY_FORMAT)

    def _sync_cdr(self, time_budget=None, page_size=PAGE_SIZE, max_pages=None):
        """Import new rows of this connection's FreePBX CDR table.

        Reads rows from the cursor minus the overlap, page by page; each page
        (whole calls, folded into ``cdr`` events) is ingested and committed
        together with the cursor in its own transaction, so a failure leaves
        the cursor at the last committed page and the next run picks up
        there. Rows read again fold into the same events, which the ingestion
        counts as duplicates. Returns a summary dict: calls, rows, problems,
        error, more (work left after ``time_budget`` seconds or ``max_pages``
        pages), busy, and the
        seconds spent reading and folding / ingesting.
        """
        self.ensure_one()
        summary = {
            "calls": 0,
            "rows": 0,
            "problems": [],
            "error": None,
            "more": False,
            "busy": False,
            "read_fold_seconds": 0.0,
            "ingest_seconds": 0.0,
        }
        self.env.flush_all()
        if not self._pbx_sync_lock(SYNC.name) or not self._cdr_row_is_free():
            summary["busy"] = True
            return summary
        # sudo: the sync reads the manager-only cursor and recordings URL of its own
        #   connection (cron, or Sync now after check_access('write'))
        connection = self.sudo()
        # Not named "cursor": _() takes a local of that name for a database cursor.
        read_up_to = connection.cdr_cursor
        tz_name = connection.timezone or "UTC"
        base_url = connection.recordings_base_url
        started = time.monotonic()
        committed = False
        pages_done = 0
        try:
            with self._cdr_source() as source:
                low = self._cdr_window_start(source, read_up_to) if read_up_to else None
                seen_up_to = source.local_key(read_up_to) if read_up_to else ""
                pages = source.pages(low, page_size)
                while True:
                    mark = time.monotonic()
                    page = next(pages, None)
                    if page is None:
                        break
                    keys, rows = page
                    events, problems = fold_rows(rows, tz_name, base_url)
                    summary["problems"] += problems
                    keys = [key for key in keys if is_date_key(key)]
                    new_rows = sum(1 for key in keys if key > seen_up_to)
                    newest = source.utc(max(keys)) if keys else None
                    folded = time.monotonic()
                    summary["calls"] += self._cdr_commit_page(events, newest, new_rows)
                    committed = True
                    summary["rows"] += new_rows
                    summary["read_fold_seconds"] += folded - mark
                    summary["ingest_seconds"] += time.monotonic() - folded
                    pages_done += 1
                    if max_pages and pages_done >= max_pages:
                        summary["more"] = next(pages, None) is not None
                        break
                    if time_budget and time.monotonic() - started > time_budget:
                        summary["more"] = True
                        break
        except CdrSourceError as error:
            # Say what became of the calls, not only what failed.
            if committed:
                outcome = _(
                    "The calls read before were imported; the next sync goes on "
                    "from there."
                )
            else:
                outcome = _(
                    "Nothing was imported; the next sync starts again from the "
                    "same point."
                )
            summary["error"] = self._cdr_error_message(error) + " " + outcome
        except Exception as error:
            # The page being imported was rolled back with its cursor.
            _logger.exception("CDR sync of PBX connection %s failed", self.id)
            summary["error"] = _(
                "Importing the calls failed (%(error)s); the next sync retries "
                "from the last imported page.",
                error=type(error).__name__,
            )
        self._cdr_record_health(summary)
        _logger.info(
            "CDR sync of PBX connection %s: %s calls from %s new rows, "
            "%s skipped, error: %s",
            self.id,
            summary["calls"],
            summary["rows"],
            len(summary["problems"]),
            summary["error"] or "none",
        )
        return summary

    def _cdr_row_is_free(self):
        """Whether another transaction could write this connection now.

        Pages are committed in transactions of their own; if the caller's
        transaction (or anyone's) holds this connection's row, they would
        wait for it forever, so the sync does not start.
        """
        with self.env.registry.cursor() as cr:
            try:
                cr.execute(
                    SQL(
                        "SELECT id FROM pbx_connection WHERE id = %s "
                        "FOR NO KEY UPDATE NOWAIT",
                        self.id,
                    ),
                    log_exceptions=False,
                )
            except psycopg2.errors.LockNotAvailable:
                cr.rollback()
                return False
        return True

    def _cdr_commit_page(self, events, newest, new_rows):
        """Ingest one page and move the cursor, in one committed transaction."""
        with self.env.registry.cursor() as cr:
            env = self.env(cr=cr)
            # sudo: commits one page as the sync: this connection's calls and cursor
            #   only
            connection = self.with_env(env).sudo()
            accepted, _duplicates, _calls = env["pbx.call"]._ingest_events(
                connection, events
            )
            vals = {"rows_imported": connection.rows_imported + new_rows}
            if newest and (not connection.cdr_cursor or newest > connection.cdr_cursor):
                vals["cdr_cursor"] = newest
            connection.write(vals)
        return accepted

    def _cdr_record_health(self, summary):
        messages = []
        if summary["error"]:
            messages.append(summary["error"])
        problems = summary["problems"]
        if problems:
            listed = "\n".join(problems[:MAX_LISTED_PROBLEMS])
            if len(problems) > MAX_LISTED_PROBLEMS:
                listed += "\n" + _(
                    "… and %(count)s more.", count=len(problems) - MAX_LISTED_PROBLEMS
                )
            messages.append(
                _(
                    "Skipped %(count)s malformed CDR rows or calls (by uniqueid or "
                    "linkedid); the other calls were imported:\n%(list)s",
                    count=len(problems),
                    list=listed,
                )
            )
        with self.env.registry.cursor() as cr:
            self.with_env(self.env(cr=cr))._pbx_sync_record(
                SYNC.name,
                success=not summary["error"],
                error="\n".join(messages) or None,
            )
