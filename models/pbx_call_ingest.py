"""Ingestion: the one way calls are written.

Every writer of calls goes through ``pbx.call._ingest_events``: the Event API,
the FreePBX CDR sync, the demo generator and the benchmarks. Its contract:

- events are clean (``tools.call_events.validate_batch`` or
  ``validate_event``) and belong to one PBX connection;
- an event already received changes nothing (``pbx.event.receipt``);
- the events of one call are folded into it in any order
  (``tools.call_events.merge_events``): one call per (connection, call id);
- writers of the same call follow each other (an advisory lock per call) and
  a writer that waited is refused by PostgreSQL with a serialization failure,
  to be replayed in a fresh transaction;
- new calls are written with a few bulk statements, not ``create()``; extend
  ``_after_ingest`` to act on new or changed calls (it is told which fields
  of which call the batch wrote).
"""

import hashlib
from collections import defaultdict

from odoo import Command, api, fields, models
from odoo.tools import SQL

from ..tools.call_events import merge_events
from ..tools.phone import digits_only, phone_key
from .pbx_call import has_recording, total_duration

# Values of a call that come straight from the folded events.
_STATE_FIELDS = (
    "start",
    "direction",
    "src",
    "dst",
    "did",
    "extension",
    "answered_extension",
    "answered_at",
    "ended_at",
    "state",
    "disposition",
    "talk_seconds",
    "wait_seconds",
    "recording_url",
)
_MERGE_KEYS = (
    "header_key",
    "answer_key",
    "end_key",
    "answer_extension",
    "end_extension",
    "end_recording_url",
    "live_recording_url",
    "rang_extensions",
    "claimed_by",
)


# The many2many links of a call, and the columns its ingestion reads.
_RELATIONS = ("rang_user_ids", "partner_ids", "lead_ids")
_ROW_FIELDS = (
    *_STATE_FIELDS,
    "merge_state",
    "external_key",
    "search_digits",
    "missed",
    "company_id",
    "user_id",
    "partner_id",
)
_DATE_FIELDS = ("start", "answered_at", "ended_at")
_INTEGER_FIELDS = ("talk_seconds", "wait_seconds")


def _row_state(row):
    """The folding state of a call from its row (as
    PbxCall._claim_event_fingerprints reads it)."""
    state = dict(row["merge_state"] or {})
    for name in _STATE_FIELDS:
        value = row[name]
        if name in _DATE_FIELDS:
            state[name] = value or None
        elif name in _INTEGER_FIELDS:
            state[name] = value or 0
        else:
            state[name] = value or False
    return state


def _state_extensions(state):
    return [
        state.get("extension"),
        state.get("answered_extension"),
        *(state.get("rang_extensions") or []),
    ]


def _changed_values(row, vals):
    """The part of ``vals`` (values to write) that differs from ``row``."""
    changed = {}
    for name, value in vals.items():
        current = row[name]
        if name in _RELATIONS:
            differs = set(value[0][2]) != set(current)
        else:
            differs = (value or False) != (current or False)
        if differs:
            changed[name] = value
    return changed


# Percentage of a page of pbx_call filled by new rows (see PbxCall.init).
FILLFACTOR = 90

# In the ``changed`` sets given to PbxCall._after_ingest: the call is new.
NEW_CALL = "id"


def call_lock_key(connection_id, external_id):
    """The advisory lock key (a signed 64-bit integer) of one call of a PBX."""
    digest = hashlib.sha256(f"pbx.call:{connection_id}:{external_id}".encode())
    return int.from_bytes(digest.digest()[:8], "big", signed=True)


# The caller lookup of _find_contacts: active patients and leads of a company
# ($2) or of none whose phone or mobile key is one of $1. It is kept in the
# database as a function so that each connection plans it once: planning this
# two-table statement (every index of res_partner and crm_lead is weighed)
# costs more than running it. Its generic plan is the same two index probes
# per table whatever the keys.
FIND_CONTACTS = "clinic_pbx_find_contacts"
FIND_CONTACTS_QUERY = """
    SELECT 'res_partner'::text, p.id, p.pbx_phone_key, p.pbx_mobile_key
      FROM res_partner p
     WHERE p.active
       AND (p.pbx_phone_key = ANY($1) OR p.pbx_mobile_key = ANY($1))
       AND (p.company_id IS NULL OR p.company_id = $2)
    UNION ALL
    SELECT 'crm_lead'::text, l.id, l.pbx_phone_key, l.pbx_mobile_key
      FROM crm_lead l
     WHERE l.active
       AND (l.pbx_phone_key = ANY($1) OR l.pbx_mobile_key = ANY($1))
       AND (l.company_id IS NULL OR l.company_id = $2)
"""
FIND_CONTACTS_FUNCTION = SQL(
    """
    CREATE OR REPLACE FUNCTION %s(keys varchar[], company integer)
    RETURNS TABLE (source text, id integer, phone_key varchar, mobile_key varchar)
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_generic_plan
    AS $body$
    BEGIN
        RETURN QUERY %s;
    END
    $body$
    """,
    SQL.identifier(FIND_CONTACTS),
    SQL(FIND_CONTACTS_QUERY),
)


class _IngestLookups:
    """What one ingestion batch looks up once: its PBX and users by extension."""

    def __init__(self, calls, connection):
        self.env = calls.env
        self.connection = connection
        self.country = connection._number_country_code()
        self._users = {}

    def prefetch_users(self, extensions):
        missing = {ext for ext in extensions if ext and ext not in self._users}
        if missing:
            Users = self.env["res.users"]
            rows = Users._pbx_extension_users(missing, self.connection.company_id)
            for ext in missing:
                self._users[ext] = []
            for user_id, extension, _partner_id in rows:
                self._users[extension].append(user_id)
            # Their partners are where their pop-ups go (pbx.call's
            # _pbx_popup_notify): cached as a fetch() would.
            Users.env.cache.insert_missing(
                Users.browse([row[0] for row in rows]),
                Users._fields["partner_id"],
                [row[2] for row in rows],
            )

    def user_ids(self, extension):
        """Ids of the active users of ``extension`` (in the PBX's company)."""
        if extension not in self._users:
            self.prefetch_users([extension])
        return self._users[extension]


class PbxCall(models.Model):
    _inherit = "pbx.call"

    @api.model
    def _ingest_events(self, connection, events):
        """Apply clean events (see tools.call_events) of one PBX connection.

        Every writer of calls goes through here: the event API, the CDR sync,
        the demo generator and the benchmarks. Events already received are
        counted as duplicates and change nothing; the rest are folded into
        their calls whatever their order. Returns (accepted, duplicates,
        calls touched).
        """
        # sudo: callers are the Event API after its token check, the CDR sync and the
        #   demo; only the calls of the given connection are written
        self = self.sudo().with_company(connection.company_id)
        if not events:
            return 0, 0, self.browse()
        fresh, rows = self._claim_event_fingerprints(
            connection, events, self._lock_external_ids(connection, events)
        )
        duplicates = len(events) - len(fresh)
        if not fresh:
            return 0, duplicates, self.browse()
        by_call = defaultdict(list)
        for event in fresh:
            by_call[event["call_id"]].append(event)
        rows = {cid: row for cid, row in rows.items() if cid in by_call}
        calls, changed = self._upsert_calls(connection, by_call, rows)
        calls._after_ingest(fresh, changed)
        return len(fresh), duplicates, calls

    def _lock_external_ids(self, connection, events):
        """The statement that waits until no other transaction is writing the
        calls of ``events`` (of ``connection``).

        Every writer of calls takes these transaction-level advisory locks
        first, in one order (so two batches cannot deadlock on them): events of
        one call then apply one transaction after the other. When this had to
        wait, the other transaction committed after this one's snapshot was
        taken; PostgreSQL then refuses the stale read or insert that follows
        with a serialization failure, and the transaction is replayed in a
        fresh snapshot (see controllers/events.py).
        """
        keys = sorted({call_lock_key(connection.id, e["call_id"]) for e in events})
        return SQL(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", keys
        )

    def _claim_event_fingerprints(self, connection, events, lock):
        """(events not seen before, also within the batch, now recorded as
        seen; {external id: row} of the calls of ``events`` already written).

        One round trip: the statement ``lock`` takes the locks of the calls,
        then one statement records the fingerprints and reads the calls'
        rows, locked (``FOR UPDATE``). A row holds what folding and comparing
        need: the state columns and the ids of the three many2many links.
        """
        unique = {}
        for event in events:
            unique.setdefault(event["fingerprint"], event)
        relations = [self._fields[name] for name in _RELATIONS]
        row_fields = self._ingest_row_fields()
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                %s;
                WITH claimed AS (
                    INSERT INTO pbx_event_receipt
                        (connection_id, fingerprint, received_at)
                    SELECT %s, fp, %s FROM unnest(%s::varchar[]) fp
                    ON CONFLICT (connection_id, fingerprint) DO NOTHING
                    RETURNING fingerprint
                ), locked AS (
                    SELECT %s, %s FROM pbx_call c
                    WHERE c.connection_id = %s AND c.external_id = ANY(%s)
                    ORDER BY c.id FOR UPDATE OF c
                )
                SELECT ARRAY(SELECT fingerprint FROM claimed), locked.*
                FROM (SELECT 1) AS one LEFT JOIN locked ON TRUE
                """,
                lock,
                connection.id,
                fields.Datetime.now(),
                list(unique),
                SQL(", ").join(
                    SQL.identifier("c", name)
                    for name in ("id", "external_id", *row_fields)
                ),
                SQL(", ").join(
                    SQL(
                        "ARRAY(SELECT r.%s FROM %s r WHERE r.%s = c.id ORDER BY 1) "
                        "AS %s",
                        SQL.identifier(field.column2),
                        SQL.identifier(field.relation),
                        SQL.identifier(field.column1),
                        SQL.identifier(field.name),
                    )
                    for field in relations
                ),
                connection.id,
                list({event["call_id"] for event in events}),
            ),
            # A concurrent request with the same events makes this fail with
            # a serialization error; Odoo then replays the request, which is
            # expected and not worth an error in the log.
            log_exceptions=False,
        )
        result = self.env.cr.fetchall()
        new = set(result[0][0])
        fresh = [event for fp, event in unique.items() if fp in new]
        rows = [row[1:] for row in result if row[1] is not None]
        names = ["id", "external_id", *row_fields, *_RELATIONS]
        self.invalidate_model(flush=False)  # flushed above
        # What was read is cached as a fetch() would, for the hooks after
        # ingestion (_after_ingest) to read without another query.
        calls = self.browse([row[0] for row in rows])
        for index, name in enumerate(names[1:], start=1):
            values = [row[index] for row in rows]
            if name in _RELATIONS:
                values = [tuple(ids) for ids in values]
            self.env.cache.insert_missing(calls, self._fields[name], values)
        return fresh, {row[1]: dict(zip(names, row, strict=True)) for row in rows}

    def _ingest_row_fields(self):
        """The columns of a call that ingestion compares with the values it
        computes (_values_from_state gives each of them)."""
        return _ROW_FIELDS

    def _upsert_calls(self, connection, by_call, rows):
        """Fold the fresh events ``by_call`` into their calls: ``rows`` are
        the rows of those already written (_claim_event_fingerprints)."""
        lookups = _IngestLookups(self, connection)
        states = {
            cid: merge_events(_row_state(rows[cid]) if cid in rows else {}, events)
            for cid, events in by_call.items()
        }
        lookups.prefetch_users(
            ext for state in states.values() for ext in _state_extensions(state)
        )
        vals_by_call = {
            cid: self._values_from_state(lookups, state)
            for cid, state in states.items()
        }
        # The patients and leads of a call already written follow its number
        # (pbx.call._relink_contacts keeps them current when contacts change):
        # they are looked up again only when the number itself changed.
        lookup = []
        for cid, vals in vals_by_call.items():
            row = rows.get(cid)
            if row is None or (row["external_key"] or False) != vals["external_key"]:
                lookup.append(vals)
            else:
                vals.update(
                    partner_ids=[Command.set(row["partner_ids"])],
                    lead_ids=[Command.set(row["lead_ids"])],
                    partner_id=row["partner_id"] or False,
                )
        self._add_contact_values(lookups, lookup)
        missing = [cid for cid in by_call if cid not in rows]
        created = self.browse()
        changed = {}
        if missing:
            vals_list = []
            for cid in missing:
                vals = vals_by_call[cid]
                vals.update(connection_id=connection.id, external_id=cid)
                vals_list.append(vals)
            created = self._insert_calls(vals_list)
            for call, vals in zip(created, vals_list, strict=True):
                changed[call.id] = {NEW_CALL, *vals}
        if rows:
            changed.update(self._update_calls(rows, vals_by_call))
        calls = created | self.browse([row["id"] for row in rows.values()])
        return calls, changed

    def _insert_calls(self, vals_list):
        """Create calls with a few statements: the hot path of ingestion.

        Does what create() does for pbx.call, whose rows only _ingest_events
        creates: column values (with defaults) in one INSERT, many2many links
        in one INSERT per relation; the stored computed fields that
        _insert_computed_values() gives go into the INSERT, the others of
        every part of the module are marked to compute for the new rows.
        Extend _after_ingest(), not create(), to act on new calls.
        """
        cr = self.env.cr
        names = list(vals_list[0])
        defaults = self.default_get(
            [
                name
                for name, field in self._fields.items()
                if field.store
                and field.column_type
                and not field.compute
                and name not in names
            ]
        )
        now = cr.now()
        log = {
            "create_uid": self.env.uid,
            "create_date": now,
            "write_uid": self.env.uid,
            "write_date": now,
        }
        # Computed columns go into the INSERT: updating every new row right
        # after would leave a dead row version and index entries behind it.
        computed = list(self._insert_computed_values({**defaults, **vals_list[0]}))
        columns = [name for name in names if self._fields[name].column_type]
        columns += [name for name in defaults if name not in columns]
        columns += [name for name in computed if name not in columns] + list(log)
        rows, fulls = [], []
        for vals in vals_list:
            full = {**defaults, **vals}
            full.update(self._insert_computed_values(full), **log)
            fulls.append(full)
            rows.append(
                tuple(
                    self._fields[name].convert_to_column_insert(full[name], self, full)
                    for name in columns
                )
            )
        # A call committed by another transaction after this one's snapshot
        # is a conflict PostgreSQL turns into a serialization failure (in
        # Odoo's REPEATABLE READ), so the whole batch is replayed with the
        # call visible, rather than failing on the unique constraint.
        cr.execute(
            SQL(
                """
                INSERT INTO %s (%s) VALUES %s
                ON CONFLICT (connection_id, external_id) DO NOTHING
                RETURNING id
                """,
                SQL.identifier(self._table),
                SQL(", ").join(map(SQL.identifier, columns)),
                SQL(", ").join(rows),
            ),
            log_exceptions=False,  # see _claim_event_fingerprints
        )
        ids = [row[0] for row in cr.fetchall()]
        if len(ids) != len(rows):
            raise RuntimeError("calls of this batch were created concurrently")
        for name in names:
            field = self._fields[name]
            if field.type != "many2many":
                continue
            pairs = [
                (call_id, target)
                for call_id, vals in zip(ids, vals_list, strict=True)
                for target in vals[name][0][2]
            ]
            self._insert_links(field, pairs)
        calls = self.browse(ids)
        with self.env.protecting([self._fields[name] for name in computed], calls):
            calls.modified(self._fields, create=True)
        # The new rows' columns and links are cached as create() leaves them.
        for name in names:
            field = self._fields[name]
            if field.type == "many2many":
                values = [tuple(vals[name][0][2]) for vals in vals_list]
                self.env.cache.insert_missing(calls, field, values)
        for name in columns:
            field = self._fields[name]
            values = [
                field.convert_to_cache(full[name], self, validate=False)
                for full in fulls
            ]
            self.env.cache.insert_missing(calls, field, values)
        calls._validate_fields(columns)
        return calls

    def _insert_links(self, field, pairs):
        """Link (call id, target id) ``pairs`` through the many2many ``field``."""
        if pairs:
            self.env.cr.execute(
                SQL(
                    "INSERT INTO %s (%s, %s) VALUES %s ON CONFLICT DO NOTHING",
                    SQL.identifier(field.relation),
                    SQL.identifier(field.column1),
                    SQL.identifier(field.column2),
                    SQL(", ").join(pairs),
                )
            )

    def _insert_computed_values(self, vals):
        """{field: value} of the stored computed fields of a new call with
        the column values ``vals``, as their compute methods give them."""
        return {
            "total_seconds": total_duration(vals["talk_seconds"], vals["wait_seconds"]),
            "has_recording": has_recording(vals.get("merge_state")),
        }

    def _update_calls(self, rows, vals_by_call):
        """Write what changed on calls already written (``rows``: their rows
        as _claim_event_fingerprints read them); {call id: names of the fields
        written}."""
        relinked = defaultdict(dict)
        written = {}
        for cid, row in rows.items():
            changed = _changed_values(row, vals_by_call[cid])
            written[row["id"]] = set(changed)
            for name in _RELATIONS:
                if name in changed:
                    relinked[name][row["id"]] = (row[name], changed.pop(name)[0][2])
            if changed:
                self._write_row(row, changed)
        for name, links in relinked.items():
            self._write_links(name, links)
        return written

    def _write_row(self, row, changed):
        """Write ``changed`` (column values) on the call of ``row``.

        One UPDATE, as _insert_calls creates: what write() does for a call,
        whose columns only ingestion writes, with the computed columns that
        depend on them in the same statement and the cache left as write()
        leaves it.
        """
        call = self.browse(row["id"])
        values = {**changed}
        full = {**row, **changed}
        computed = self._insert_computed_values(full)
        values.update(computed)
        values["write_uid"] = self.env.uid
        values["write_date"] = self.env.cr.now()
        self.env.cr.execute(
            SQL(
                "UPDATE %s SET %s WHERE id = %s",
                SQL.identifier(self._table),
                SQL(", ").join(
                    SQL(
                        "%s = %s",
                        SQL.identifier(name),
                        self._fields[name].convert_to_column_insert(value, call, full),
                    )
                    for name, value in values.items()
                ),
                call.id,
            )
        )
        with self.env.protecting([self._fields[name] for name in computed], call):
            call.modified(list(changed))
        for field in map(self._fields.get, values):
            self.env.cache.update(
                call,
                field,
                [field.convert_to_cache(values[field.name], call, validate=False)],
            )
        call._validate_fields(list(changed))

    def _write_links(self, name, links):
        """Replace the targets of the many2many ``name`` of some calls.

        ``links``: {call id: (old target ids, new target ids)}. Written with
        two statements rather than through write(), which would read every
        target record to tell the active ones.
        """
        field = self._fields[name]
        removed = [
            (cid, t) for cid, (old, new) in links.items() for t in set(old) - set(new)
        ]
        added = [
            (cid, t) for cid, (old, new) in links.items() for t in set(new) - set(old)
        ]
        cr = self.env.cr
        if removed:
            cr.execute(
                SQL(
                    "DELETE FROM %s WHERE (%s, %s) IN %s",
                    SQL.identifier(field.relation),
                    SQL.identifier(field.column1),
                    SQL.identifier(field.column2),
                    tuple(removed),
                )
            )
        self._insert_links(field, added)
        calls = self.browse(list(links))
        calls.modified([name])
        self.env.cache.update(
            calls, field, [tuple(new) for _old, new in links.values()]
        )

    def _values_from_state(self, lookups, state):
        direction = state.get("direction") or "incoming"
        if direction == "incoming":
            outside = state.get("src")
        elif direction == "outgoing":
            outside = state.get("dst")
        else:
            outside = None
        digits = " ".join(
            filter(None, (digits_only(state.get(key)) for key in ("src", "dst", "did")))
        )
        vals = {name: state.get(name) or False for name in _STATE_FIELDS}
        vals["direction"] = direction
        vals["talk_seconds"] = state.get("talk_seconds") or 0
        vals["wait_seconds"] = state.get("wait_seconds") or 0
        vals["company_id"] = lookups.connection.company_id.id
        vals["merge_state"] = {
            key: state.get(key)
            for key in _MERGE_KEYS
            if state.get(key) not in (None, "", [])
        }
        vals["external_key"] = phone_key(outside, lookups.country) if outside else False
        vals["search_digits"] = digits or False
        vals["missed"] = direction == "incoming" and (
            state.get("state") == "done" and state.get("disposition") != "answered"
        )
        rang, admin = self._users_for_state(lookups, state)
        vals["rang_user_ids"] = [Command.set(rang)]
        vals["user_id"] = admin
        return vals

    def _users_for_state(self, lookups, state):
        """Ids of the users whose extension rang, and the id of the Admin.

        The Admin is the user of the answering extension for incoming calls
        and of the calling extension otherwise. When several users share that
        extension the PBX cannot tell who took it; the Admin then stays empty
        unless one of them claimed the call.
        """
        direction = state.get("direction") or "incoming"
        rang = set(state.get("rang_extensions") or [])
        if direction == "incoming":
            admin_ext = state.get("answered_extension")
            if state.get("extension"):
                rang.add(state["extension"])
        else:
            admin_ext = state.get("extension")
        rang_ids = sorted({uid for ext in rang for uid in lookups.user_ids(ext)})
        claimed = state.get("claimed_by")
        if claimed:
            admin = claimed
        else:
            owners = lookups.user_ids(admin_ext) if admin_ext else []
            admin = owners[0] if len(owners) == 1 else False
        return rang_ids, admin

    def _add_contact_values(self, lookups, vals_list):
        """Put every matching patient and lead on the calls being written."""
        keys = {vals["external_key"] for vals in vals_list if vals.get("external_key")}
        partners, leads = self._find_contacts(keys, lookups.connection.company_id)
        for vals in vals_list:
            key = vals.get("external_key")
            p_ids = partners.get(key, []) if key else []
            l_ids = leads.get(key, []) if key else []
            vals["partner_ids"] = [Command.set(p_ids)]
            vals["lead_ids"] = [Command.set(l_ids)]
            vals["partner_id"] = p_ids[0] if p_ids else False

    def init(self):
        result = super().init()
        self.env.cr.execute(FIND_CONTACTS_FUNCTION)
        # Room in each page for the new versions of a live call's row (every
        # event of a call rewrites it within seconds): PostgreSQL then keeps
        # them on the page without new index entries (HOT updates).
        self.env.cr.execute(
            "SELECT reloptions FROM pg_class WHERE oid = 'pbx_call'::regclass"
        )
        options = self.env.cr.fetchone()[0] or []
        if not any(option.startswith("fillfactor=") for option in options):
            self.env.cr.execute(
                SQL("ALTER TABLE pbx_call SET (fillfactor = %s)", FILLFACTOR)
            )
        return result

    @api.model
    def _find_contacts(self, keys, company):
        """{key: [partner ids]}, {key: [lead ids]} for E.164 keys (index hits).

        Active patients and leads of ``company`` or of no company, in one
        statement: ingestion asks it for every new call. The statement is
        ``FIND_CONTACTS_FUNCTION``, whose plan each database connection
        makes once.
        """
        if not keys:
            return {}, {}
        keys = sorted(keys)
        self.env["res.partner"].flush_model(
            ["pbx_phone_key", "pbx_mobile_key", "company_id", "active"]
        )
        self.env["crm.lead"].flush_model(
            ["pbx_phone_key", "pbx_mobile_key", "company_id", "active"]
        )
        self.env.cr.execute(
            SQL(
                "SELECT * FROM %s(%s::varchar[], %s)",
                SQL.identifier(FIND_CONTACTS),
                keys,
                company.id,
            )
        )
        partners, leads = defaultdict(list), defaultdict(list)
        wanted = set(keys)
        for table, record_id, phone, mobile in sorted(self.env.cr.fetchall()):
            by_key = partners if table == "res_partner" else leads
            for key in {phone, mobile} & wanted:
                by_key[key].append(record_id)
        # Patients oldest first (the first is the call's patient), leads newest.
        for ids in leads.values():
            ids.reverse()
        return dict(partners), dict(leads)

    def _after_ingest(self, events, changed):
        """Hook run once per batch on the calls of its events (``self``), with
        the batch's new ``events`` and ``changed``: {call id: names of the
        fields the batch wrote}, holding NEW_CALL for a call it created (and
        nothing for a call the events left as it was). Extend it to act on
        new or changed calls (call-backs, pop-ups, the Callmarker queue,
        touches do)."""

    def _claim(self, user):
        """``user`` takes the call ("I'll take it"); the first claim wins.

        Returns True when this claim was recorded, False when someone else
        had already claimed the call.
        """
        self.ensure_one()
        # sudo: callers checked the user first (action_pbx_take: read access, the call
        #   rang them) or are the demo loader
        call = self.sudo()
        self.env.cr.execute(
            SQL("SELECT id FROM pbx_call WHERE id = %s FOR UPDATE", call.id)
        )
        call.invalidate_recordset(["merge_state", "user_id"])
        state = dict(call.merge_state or {})
        if state.get("claimed_by") and state["claimed_by"] != user.id:
            return False
        state["claimed_by"] = user.id
        call.write({"merge_state": state, "user_id": user.id})
        return True
