"""Reading a FreePBX ``cdr`` table over MySQL, page by page.

Plain Python, no ORM. A page is a run of rows in ``calldate`` order plus
the earlier rows of the calls those rows belong to, so that a call is folded
with all its rows so far. The earlier rows are looked up by ``linkedid``
within a ``calldate`` range, because FreePBX does not index ``linkedid``: the
range starts before the call's first channel was created (the epoch in its
``linkedid``). Rows of a call after the page are read with a later page or
sync, which then folds the call again with all its rows.
"""

import logging
import re
from datetime import datetime, timedelta, timezone

import pymysql

from .cdr_fold import COLUMNS, localize, zone

_logger = logging.getLogger(__name__)

KEY_FORMAT = "%Y-%m-%d %H:%M:%S"
PAGE_SIZE = 2000
# How long before the epoch in its linkedid a call's rows may start in the
# table's local time (a PBX clock or time zone that is a little off).
GROUP_MARGIN = timedelta(hours=2)
# Rows whose calldate is no real date ('0000-00-00 …', the '1000-01-01'
# default) sort before this; they are read with their calls to be reported.
NO_DATE_BELOW = "1000-01-02 00:00:00"
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
_LINKEDID_EPOCH = re.compile(r"(\d{9,11})\.\d+$")
_LINKEDID = COLUMNS.index("linkedid")


class CdrSourceError(Exception):
    """The CDR database cannot be read; ``kind`` says why, ``params`` details.

    Kinds: connect, auth, database, table, grant, column, lost, other.
    Messages never contain the password.
    """

    def __init__(self, kind, **params):
        super().__init__(kind, params)
        self.kind = kind
        self.params = params


def valid_table_name(name):
    return bool(name and _TABLE_NAME.match(name))


def is_date_key(key):
    """Whether a window key is a real date (not '0000-00-00 …' or similar)."""
    return (
        len(key) == 19
        and key[:4] != "0000"
        and key[5:7] != "00"
        and key[8:10] != "00"
        and key >= NO_DATE_BELOW
    )


def parse_key(key):
    """A window key ('YYYY-MM-DD HH:MM:SS') as a datetime, None if no date."""
    try:
        return datetime.strptime(key, KEY_FORMAT)
    except (TypeError, ValueError):
        return None


def _error(error, host, port, database, table):
    code = error.args[0] if error.args else None
    message = str(error.args[1]) if len(error.args) > 1 else str(error)
    if code in (2002, 2003):
        reason = re.search(r"\(([^()]*)\)\s*$", message)
        # "[Errno 111] Connection refused": the words without the number.
        reason = re.sub(r"^\[Errno -?\d+\]\s*", "", reason.group(1) if reason else "")
        return CdrSourceError("connect", host=host, port=port, reason=reason)
    if code == 1045:
        return CdrSourceError("auth", host=host)
    if code in (1044, 1049):
        return CdrSourceError("database", database=database)
    if code == 1146:
        return CdrSourceError("table", table=table, database=database)
    if code in (1142, 1143):
        return CdrSourceError("grant", table=table, database=database)
    if code == 1054:
        column = re.search(r"'([^']+)'", message)
        return CdrSourceError(
            "column", table=table, column=column.group(1) if column else ""
        )
    if code in (2006, 2013, 2055):
        return CdrSourceError("lost", host=host)
    return CdrSourceError("other", code=code, message=message[:300])


class CdrSource:
    """A connection to one FreePBX CDR table (use it as a context manager)."""

    def __init__(
        self,
        host,
        port,
        database,
        table,
        user,
        password,
        tz_name="UTC",
        connect_timeout=10,
        read_timeout=120,
    ):
        if not valid_table_name(table):
            raise CdrSourceError("table", table=table, database=database)
        self.host, self.port = host, int(port or 3306)
        self.database, self.table = database, table
        self.tz = zone(tz_name)
        self._settings = {
            "host": host,
            "port": self.port,
            "user": user or "",
            "password": password or "",
            "database": database,
            "charset": "utf8mb4",
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "write_timeout": read_timeout,
            "autocommit": True,
        }
        self._cnx = None

    def __enter__(self):
        try:
            self._cnx = pymysql.connect(**self._settings)
        except pymysql.MySQLError as error:
            raise self._translate(error) from None
        return self

    def __exit__(self, *exc):
        if self._cnx is not None:
            try:
                self._cnx.close()
            except pymysql.MySQLError as error:
                _logger.debug("closing the CDR database connection: %s", error)
            self._cnx = None

    def _translate(self, error):
        return _error(error, self.host, self.port, self.database, self.table)

    def _query(self, sql, params=()):
        try:
            with self._cnx.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        except pymysql.MySQLError as error:
            raise self._translate(error) from None
        except (OSError, AttributeError):
            # The socket went away under PyMySQL.
            raise CdrSourceError("lost", host=self.host) from None

    # ------------------------------------------------------------------

    def check(self):
        """Reads what a sync needs; returns (rows at most 1, newest calldate)."""
        columns = ", ".join("`%s`" % name for name in COLUMNS)
        self._query("SELECT %s FROM `%s` LIMIT 1" % (columns, self.table))
        newest = self._query("SELECT MAX(calldate) FROM `%s`" % self.table)
        return newest[0][0] if newest else None

    def _select(self):
        columns = ", ".join("`%s`" % name for name in COLUMNS)
        return "SELECT CAST(calldate AS CHAR), %s FROM `%s`" % (columns, self.table)

    def _window(self, low_key, inclusive, limit):
        """[(calldate key, row)] from ``low_key`` on, in calldate order."""
        sql, params = self._select(), []
        if low_key is not None:
            sql += " WHERE calldate %s %%s" % (">=" if inclusive else ">")
            params.append(low_key)
        sql += " ORDER BY calldate"
        if limit:
            sql += " LIMIT %s"
            params.append(limit)
        return [(row[0] or "", row[1:]) for row in self._query(sql, params)]

    def _second(self, key):
        sql = self._select() + " WHERE calldate = %s"
        return [(row[0] or "", row[1:]) for row in self._query(sql, [key])]

    def local_key(self, moment_utc):
        """The table's local time of a naive UTC datetime, as a window key."""
        local = moment_utc.replace(tzinfo=timezone.utc).astimezone(self.tz)
        return local.strftime(KEY_FORMAT)

    def utc(self, key):
        """A window key (table local time) as a naive UTC datetime."""
        local = localize(parse_key(key), self.tz)
        return local.astimezone(timezone.utc).replace(tzinfo=None)

    def earlier_rows(self, keys, rows):
        """Rows of the calls in ``rows`` that lie before the page's first row.

        ``keys`` are the page's calldate keys. A call's rows cannot start
        before its first channel was created, the epoch in its linkedid.
        """
        linkedids = sorted({row[_LINKEDID] for row in rows if row[_LINKEDID]})
        dates = [parse_key(key) for key in keys if is_date_key(key)]
        if not linkedids or not dates:
            return []
        first = min(dates)
        low = first
        for linkedid in linkedids:
            match = _LINKEDID_EPOCH.search(linkedid)
            if match:
                epoch = datetime.fromtimestamp(int(match.group(1)), timezone.utc)
                started = parse_key(self.local_key(epoch.replace(tzinfo=None)))
                if started and started < low:
                    low = started
        sql = self._select() + (
            " WHERE linkedid IN (%s) AND (calldate BETWEEN %%s AND %%s "
            "OR calldate < %%s)" % ", ".join(["%s"] * len(linkedids))
        )
        params = linkedids + [
            (low - GROUP_MARGIN).strftime(KEY_FORMAT),
            first.strftime(KEY_FORMAT),
            NO_DATE_BELOW,
        ]
        return [row[1:] for row in self._query(sql, params)]

    def pages(self, low_key=None, page_size=PAGE_SIZE):
        """Yield (keys, rows) pages from ``low_key`` (inclusive) to the end.

        ``keys`` are the calldate keys of the rows the page covers (in
        calldate order, never splitting one second between pages) and
        ``rows`` those rows (tuples of COLUMNS) plus the earlier rows of
        their calls. Rows of a call that come after the page are read with
        a later page, which then holds the whole call.
        """
        inclusive = True
        while True:
            window = self._window(low_key, inclusive, page_size)
            if not window:
                return
            last = window[-1][0]
            final = len(window) < page_size
            if final:
                next_low, next_inclusive = last, False
            elif window[0][0] == last:
                # A whole page in one second: take that second entirely.
                window = self._second(last)
                next_low, next_inclusive = last, False
            else:
                window = [item for item in window if item[0] < last]
                next_low, next_inclusive = last, True
            keys = [key for key, _row in window]
            rows = [row for _key, row in window]
            # A row read twice (the page's first second) counts once.
            rows = list(dict.fromkeys(rows + self.earlier_rows(keys, rows)))
            yield keys, rows
            if final:
                return
            low_key, inclusive = next_low, next_inclusive
