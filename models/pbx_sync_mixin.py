"""The skeleton the syncs of clinic_pbx stand on.

A sync brings a service's data into Odoo, every few minutes and on a button:
the FreePBX CDR database (one per PBX connection), Calltouch and Callmarker
(one per company). A model whose records sync inherits ``pbx.sync.mixin``
and describes each of its syncs in ``_pbx_syncs()`` (a ``PbxSync``); the
mixin then gives every sync, by its name:

- one run at a time, on any worker or node: ``_pbx_sync_lock(name)``;
- its health, in the record's fields ``<prefix>last_success_at``,
  ``<prefix>last_error``, ``<prefix>last_error_at`` and ``<prefix>paused``
  (and ``<prefix>retry_at``, ``<prefix>last_result`` where the model has
  them): ``_pbx_sync_record(name, ...)``;
- "paused": a sync whose credentials the service refused waits until one of
  its ``credentials`` fields changes (``write``) or Test connection works;
- the scheduled action's choice of records and its run over them, each
  committed on its own: ``_pbx_sync_due(name)``, ``_pbx_sync_each(run)``;
  a run does one bounded batch per record and says what is left
  (``_pbx_sync_progress``), so Odoo runs it again at once until caught up;
- what keeps the settings from working, as sentences
  (``_pbx_settings_problems``), and the check when they are saved;
- how long its web service client waits: the client's own ``timeout``, or
  the system parameter ``clinic_pbx.<name>_timeout`` (``_pbx_sync_timeout``);
- the notifications of the Test connection and Sync now buttons;
- the records a sync names (tags, UTM sources...), found or created once
  even when two transactions create the same name: ``find_or_create``;
- the fields every web service's settings have (``sync_company_fields`` on
  the company, ``sync_settings_fields`` on the settings page), declared on a
  model with the class decorator ``with_fields``.

A new integration declares its ``PbxSync`` and its fields, and writes only
what talks to its service.
"""

import logging
import math
from dataclasses import dataclass

from psycopg2 import errorcodes, errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools.http_service import Timeout, is_http_url
from ..tools.sync_lock import lock_namespace, try_sync_lock

_logger = logging.getLogger(__name__)


class ConcurrentCreate(errors.SerializationFailure):
    """Another transaction committed the record this one was creating.

    A serialization failure, so that Odoo runs the request again (as it does
    for PostgreSQL's own); the next run sees the record.
    """

    pgcode = errorcodes.SERIALIZATION_FAILURE


def find_or_create(model, domain, values):
    """The record of ``model`` matching ``domain``, created from ``values``
    when there is none.

    Two transactions may create the same record at once: ``model`` needs the
    unique constraint that makes the second INSERT fail (it waits for the
    first transaction, then fails if it committed). That INSERT runs in a
    savepoint, so the failure costs only the INSERT; the record is then
    searched again. Under REPEATABLE READ a record committed after this
    transaction began stays invisible to it: then ``ConcurrentCreate`` is
    raised and the request, run again, finds the record.
    """
    record = model.search(domain, limit=1)
    if record:
        return record
    try:
        with model.env.cr.savepoint():
            return model.create(values)
    except errors.UniqueViolation:
        record = model.search(domain, limit=1)
        if not record:
            raise ConcurrentCreate(
                f"{model._name} {values!r} was created by another transaction"
            ) from None
        return record


def with_fields(declared):
    """Class decorator: declare the fields of ``declared`` ({name: field}) on
    the model class, as if they were written in its body."""

    def decorate(cls):
        for name, field in declared.items():
            setattr(cls, name, field)
            field.__set_name__(cls, name)
        return cls

    return decorate


def sync_company_fields(prefix, label, groups, **attrs):
    """The settings and health every web service sync has on the company:
    ``<prefix>enabled``, ``token``, ``time_lag`` (minutes read again),
    ``last_success_at``, ``last_error``, ``last_error_at`` and ``paused``,
    readable by ``groups`` only. ``attrs`` adds to a field's attributes by
    its short name, e.g. ``enabled={"string": ..., "help": ...}``."""
    shape = {
        "enabled": (fields.Boolean, {}),
        "token": (fields.Char, {"copy": False}),
        "time_lag": (fields.Integer, {"default": 5}),
        "last_success_at": (
            fields.Datetime,
            {"string": f"{label} Last Success", "readonly": True, "copy": False},
        ),
        "last_error": (fields.Text, {"readonly": True, "copy": False}),
        "last_error_at": (fields.Datetime, {"readonly": True, "copy": False}),
        "paused": (fields.Boolean, {"readonly": True, "copy": False}),
    }
    return {
        prefix + name: kind(**base, **attrs.get(name, {}), groups=groups)
        for name, (kind, base) in shape.items()
    }


def sync_settings_fields(prefix, groups):
    """The settings page's fields of ``sync_company_fields``: the settings
    editable, the health read-only, the token for ``groups`` only."""
    shape = {
        "enabled": (fields.Boolean, {"readonly": False}),
        "token": (fields.Char, {"readonly": False, "groups": groups}),
        "time_lag": (fields.Integer, {"readonly": False}),
        "last_success_at": (fields.Datetime, {}),
        "last_error": (fields.Text, {}),
        "last_error_at": (fields.Datetime, {}),
        "paused": (fields.Boolean, {}),
    }
    return {
        prefix + name: kind(related=f"company_id.{prefix}{name}", **attrs)
        for name, (kind, attrs) in shape.items()
    }


@dataclass(frozen=True)
class PbxSync:
    """One sync of a model that inherits ``pbx.sync.mixin``."""

    name: str  # names its lock, and the sync in the mixin's methods
    label: str  # the service as managers know it, e.g. "Calltouch"
    prefix: str = ""  # of the sync's fields: "<prefix>last_error" ...
    # Fields whose change is a new attempt after the service refused us.
    credentials: tuple = ()
    # The method that lists what keeps the settings from working.
    problems: str = ""
    logger: logging.Logger = _logger

    def field(self, name):
        return self.prefix + name


class PbxSyncMixin(models.AbstractModel):
    _name = "pbx.sync.mixin"
    _description = "PBX Sync Skeleton"

    def _pbx_syncs(self):
        """``{name: PbxSync}`` of the syncs of this model (extended by each)."""
        return {}

    def _pbx_sync(self, name):
        return self._pbx_syncs()[name]

    def write(self, vals):
        for sync in self._pbx_syncs().values():
            paused = sync.field("paused")
            if paused in self._fields and paused not in vals:
                if set(sync.credentials) & set(vals):
                    vals = dict(vals, **self._pbx_sync_resume_values(sync))
        return super().write(vals)

    def _pbx_sync_resume_values(self, sync):
        values = {sync.field("paused"): False}
        if sync.field("retry_at") in self._fields:
            values[sync.field("retry_at")] = False
        return values

    # ------------------------------------------------------------------
    # One run at a time
    # ------------------------------------------------------------------

    def _pbx_sync_lock(self, name, key_id=None):
        """Take the lock of the sync ``name`` of this record (``key_id``:
        of another key) until the transaction ends; False when another run
        holds it or has just done this run's work (tools/sync_lock.py)."""
        self.ensure_one()
        return try_sync_lock(
            self.env.cr,
            lock_namespace(name),
            self.id if key_id is None else key_id,
            self._table,
            self.id,
        )

    # ------------------------------------------------------------------
    # Health
    # ------------------------------------------------------------------

    def _pbx_sync_record(
        self,
        name,
        *,
        error=None,
        success=None,
        pause=False,
        retry_at=False,
        result=None,
        values=None,
    ):
        """Write on this record how a run of the sync ``name`` went.

        ``error``: what went wrong, shown to managers as the last error (and
        logged); ``pause`` with it when the service refused the credentials.
        ``success`` (by default: no error): the last success is now, and the
        last error is cleared unless this run has one. ``retry_at``: not
        before then, where the sync has such a field. ``result``: what the
        run did, in words, where the sync keeps one. ``values``: more fields
        written with these (a cursor).
        """
        self.ensure_one()
        sync = self._pbx_sync(name)
        field = sync.field
        now = fields.Datetime.now()
        vals = dict(values or {})
        if success or (success is None and not error):
            vals.update({field("last_success_at"): now, field("last_error"): False})
        if error:
            vals.update({field("last_error"): error, field("last_error_at"): now})
            if pause:
                vals[field("paused")] = True
            sync.logger.warning(
                "%s sync of %s: %s", sync.label, self.display_name, error
            )
        if result is not None:
            vals[field("last_result")] = result
        if field("retry_at") in self._fields:
            vals[field("retry_at")] = retry_at
        # sudo: health fields are admin-only, written by the sync itself (cron, or a
        #   button after its checks)
        self.sudo().write(vals)

    # ------------------------------------------------------------------
    # The scheduled action
    # ------------------------------------------------------------------

    @api.model
    def _pbx_sync_due(self, name):
        """The records whose sync ``name`` the scheduled action runs now:
        turned on, not paused, not asked to wait."""
        sync = self._pbx_sync(name)
        domain = [
            (sync.field("enabled"), "=", True),
            (sync.field("paused"), "=", False),
        ]
        if sync.field("retry_at") in self._fields:
            domain += [
                "|",
                (sync.field("retry_at"), "=", False),
                (sync.field("retry_at"), "<=", fields.Datetime.now()),
            ]
        # sudo: the scheduled action's choice of records; only the cron asks it
        return self.sudo().search(domain)

    def _pbx_sync_each(self, run, commit=None):
        """``run(record)`` for each of these records; ``commit`` (the
        scheduled action passes the cursor's) after each, so what one record
        did stays whatever happens to the next. Returns what each run
        returned, in order."""
        results = []
        for record in self:
            results.append(run(record))
            if commit:
                commit()
        return results

    @api.model
    def _pbx_sync_progress(self, done, remaining):
        """Tell the scheduled action how many batches it did and how many
        are left: while some are left, Odoo runs it again at once (each run
        its own transaction) instead of waiting for its next interval."""
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    @staticmethod
    def _pbx_windows_left(until, now, window):
        """How many windows of ``window`` (a timedelta) a sync that reached
        ``until`` still has to fetch to reach ``now``."""
        if not until or until >= now:
            return 0
        return math.ceil((now - until) / window)

    # ------------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------------

    @api.model
    def _pbx_sync_timeout(self, name):
        """How long the client of the sync ``name`` waits: the ``Timeout`` of
        the system parameter ``clinic_pbx.<name>_timeout`` (``30``: seconds
        to connect and for each read; ``5,30``: to connect, for each read),
        or None for the client's own."""
        key = f"clinic_pbx.{name}_timeout"
        # sudo: reads one clinic_pbx system parameter, the sync's timeout
        value = self.env["ir.config_parameter"].sudo().get_param(key)
        if not value:
            return None
        try:
            return Timeout.parse(value)
        except ValueError as error:
            self._pbx_sync(name).logger.warning("%s ignored: %s", key, error)
            return None

    def _pbx_settings_problems(self, *, required=None, urls=None, minutes=None):
        """What keeps these settings of the record from working, as sentences.

        ``required``: {field: label} of fields that must be filled in;
        ``urls``: {field: label} of fields that hold an http(s) URL;
        ``minutes``: {field: (label, most)} of durations from 0 to ``most``.
        """
        self.ensure_one()
        # sudo: reads the settings only to name what is wrong; no value comes out
        record = self.sudo()
        problems = []
        for name, label in (required or {}).items():
            if not (record[name] or "").strip():
                problems.append(_("%(field)s is required.", field=label))
        for name, label in (urls or {}).items():
            value = (record[name] or "").strip()
            if value and not is_http_url(value):
                problems.append(
                    _("%(field)s must start with http:// or https://.", field=label)
                )
        for name, (label, most) in (minutes or {}).items():
            if not 0 <= record[name] <= most:
                problems.append(
                    _(
                        "%(field)s must be between 0 and %(max)s minutes.",
                        field=label,
                        max=most,
                    )
                )
        return problems

    def _pbx_sync_problems(self, name):
        """What keeps the settings of the sync ``name`` from working."""
        return getattr(self, self._pbx_sync(name).problems)()

    def _pbx_sync_check_settings(self, name):
        """Refuse settings that turn the sync ``name`` on without all it needs."""
        sync = self._pbx_sync(name)
        # sudo: the constraint reads the settings just saved; only the record's name and
        #   field labels come out
        for record in self.sudo():
            if not record[sync.field("enabled")]:
                continue
            problems = record._pbx_sync_problems(name)
            if problems:
                raise ValidationError(
                    _(
                        "The %(service)s service of %(record)s needs every "
                        "setting:\n%(problems)s",
                        service=sync.label,
                        record=record.display_name,
                        problems="\n".join(problems),
                    )
                )

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def _pbx_sync_notification(self, title, message, kind="success", sticky=None):
        """The pop-up a button answers with; the form reloads after it.

        ``kind``: success, warning or danger; a danger stays until closed
        unless ``sticky`` says otherwise.
        """
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": kind,
                "sticky": kind == "danger" if sticky is None else sticky,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _pbx_sync_tested(self, name, worked, message):
        """Test connection's answer for the sync ``name``: one that worked
        resumes a paused sync and clears the last error; one that failed is
        recorded as the last error."""
        self.ensure_one()
        sync = self._pbx_sync(name)
        if worked:
            values = self._pbx_sync_resume_values(sync)
            values[sync.field("last_error")] = False
            # sudo: Test connection (system-only settings) resumes the sync it just saw
            #   work
            self.sudo().write(values)
            title = _("%(service)s answered", service=sync.label)
        else:
            self._pbx_sync_record(name, error=message, success=False)
            title = _("The connection to %(service)s does not work", service=sync.label)
        return self._pbx_sync_notification(
            title, message, "success" if worked else "danger"
        )

    def _pbx_sync_check_enabled(self, name):
        """Refuse to run the sync ``name`` now while it is turned off."""
        sync = self._pbx_sync(name)
        for record in self:
            if not record[sync.field("enabled")]:
                raise UserError(
                    _(
                        "Turn the %(service)s service on and save first.",
                        service=sync.label,
                    )
                )

    def _pbx_sync_ran(self, name, outcome, message):
        """Sync now's answer for the sync ``name``, after a run that returned
        ``outcome``: None when another run had the lock, False when it
        failed (the last error says why); ``message`` says what it did."""
        self.ensure_one()
        sync = self._pbx_sync(name)
        if outcome is None:
            return self._pbx_sync_notification(
                _("%(service)s sync is busy", service=sync.label),
                _(
                    "Another %(service)s sync of %(record)s is running; try "
                    "again in a minute.",
                    service=sync.label,
                    record=self.display_name,
                ),
                "warning",
            )
        if not outcome:
            # sudo: Sync now (system-only settings) shows the admin-only error of the
            #   run it started
            return self._pbx_sync_notification(
                _("%(service)s sync failed", service=sync.label),
                self.sudo()[sync.field("last_error")],
                "danger",
            )
        return self._pbx_sync_notification(
            _("%(service)s synchronised", service=sync.label), message
        )
