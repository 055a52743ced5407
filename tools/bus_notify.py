"""Wake the websockets of Odoo's bus through one kept connection per process.

Odoo's ``bus.bus`` notifies its listeners (``NOTIFY imbus`` on the
``postgres`` database, where every server's websocket dispatcher listens)
through a new connection after each commit: the pool never keeps connections
to ``postgres``. The pop-ups send a notification for nearly every live event
a PBX posts, so each event would cost a PostgreSQL connection (a backend
started and stopped). ``notify`` sends the same payloads on one autocommit
connection that each process keeps, opened again when it broke.
"""

import logging
import os
import threading

import psycopg2

from odoo.sql_db import connection_info_for
from odoo.tools import SQL

from odoo.addons.bus.models.bus import ODOO_NOTIFY_FUNCTION

_logger = logging.getLogger(__name__)


class _Notifier:
    def __init__(self):
        self._lock = threading.Lock()
        self._connection = None
        self._pid = None

    def _connect(self):
        if self._connection is not None and self._pid == os.getpid():
            if not self._connection.closed:
                return self._connection
        _dbname, info = connection_info_for("postgres")
        connection = psycopg2.connect(**info)
        connection.autocommit = True
        self._connection, self._pid = connection, os.getpid()
        return connection

    def _forget(self):
        if self._connection is not None and self._pid == os.getpid():
            try:
                self._connection.close()
            except psycopg2.Error as error:
                _logger.debug("Closing the bus notification connection: %s", error)
        self._connection = None

    def notify(self, payloads):
        """Send ``payloads`` (see bus.get_notify_payloads) on channel imbus.

        Tried twice (a kept connection may have been closed by the server
        since the last use); returns False when both failed.
        """
        query = [
            SQL("SELECT %s('imbus', %s)", SQL.identifier(ODOO_NOTIFY_FUNCTION), payload)
            for payload in payloads
        ]
        with self._lock:
            for attempt in (1, 2):
                try:
                    with self._connect().cursor() as cr:
                        for statement in query:
                            cr.execute(statement.code, statement.params)
                    return True
                except psycopg2.Error:
                    self._forget()
                    if attempt == 2:
                        _logger.exception("Could not notify the bus listeners")
        return False


notifier = _Notifier()
