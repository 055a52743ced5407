"""One run at a time of a sync, across Odoo workers and nodes on one database.

The FreePBX CDR sync (per connection), the Calltouch sync and the Callmarker
sync (per company) each take ``try_sync_lock`` before they read their cursor
(through ``pbx.sync.mixin._pbx_sync_lock``). It is a PostgreSQL advisory
lock held until the transaction ends, so a worker that dies releases it with
its connection. A sync's locks are told apart from others' by a namespace
derived from the sync's name, the key is the record that syncs.
"""

import hashlib

import psycopg2.errors

from odoo.tools import SQL


def lock_namespace(name):
    """The advisory lock namespace of the sync ``name``: a 32-bit number
    that is the same for the same name in every process and release."""
    digest = hashlib.blake2b(f"clinic_pbx.{name}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class _Probed(Exception):
    """Rolls the probe's savepoint back, and with it the probe's row lock."""


def try_sync_lock(cr, namespace, key, table, row_id):
    """Take the lock ``(namespace, key)`` of one sync for the rest of ``cr``'s
    transaction. False when another transaction holds it, or when this
    transaction would redo what another run just did.

    Odoo's transactions are REPEATABLE READ: one that began before another
    run of the sync committed does not see that run's work (its cursor, the
    records it imported), even once it holds the lock. Every run writes the
    row ``row_id`` of ``table`` (its health fields), so PostgreSQL is asked
    whether that row changed since this transaction's snapshot: a share lock
    on it fails with a serialization error then. The row lock is released
    at once (its savepoint is rolled back); ``NOWAIT`` answers False rather
    than wait for a transaction that is writing the row right now. Another
    change of that row in between (a manager saving it) gives the same
    answer: the run is then left to the next one.
    """
    cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", namespace, key))
    if not cr.fetchone()[0]:
        return False
    try:
        with cr.savepoint(flush=False):
            cr.execute(
                SQL(
                    "SELECT 1 FROM %s WHERE id = %s FOR SHARE NOWAIT",
                    SQL.identifier(table),
                    row_id,
                ),
                log_exceptions=False,
            )
            raise _Probed
    except _Probed:
        return True
    except (
        psycopg2.errors.SerializationFailure,
        psycopg2.errors.LockNotAvailable,
    ):
        return False
