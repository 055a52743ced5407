"""FreePBX CDR rows as a FreePBX 16 (Asterisk 16+) system writes them.

Plain Python (PyMySQL), used by the CDR tests and bench/bench_cdr.py.
``CdrWriter`` builds the rows of typical calls - ring group, queue with
``Local/`` agent legs, transfer, outgoing through a trunk, internal, IVR or
voicemail only - with ``linkedid``/``uniqueid`` values made like Asterisk's
(``<epoch>.<counter>``), and ``MariaDb`` puts them into a real MariaDB
database created from the FreePBX table definition in
tests/data/freepbx16_cdr.sql.
"""

import itertools
import os
import re
from datetime import timedelta

import pymysql
import pytz

SCHEMA = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "data", "freepbx16_cdr.sql"
)
TRUNK = "sipnet"
DID = "74951234500"


class CdrWriter:
    """Rows of calls at a PBX whose clock shows ``tz`` local time."""

    def __init__(self, tz_name="Europe/Moscow", counter_start=100):
        self.tz = pytz.timezone(tz_name)
        self._counter = itertools.count(counter_start)
        self._channel = itertools.count(0x2A)

    def uniqueid(self, local_start):
        epoch = int(self.tz.localize(local_start, is_dst=True).timestamp())
        return "%d.%d" % (epoch, next(self._counter))

    def channel(self, name):
        return "PJSIP/%s-%08x" % (name, next(self._channel))

    def local(self, exten, context, half):
        return "Local/%s@%s-%08x;%d" % (exten, context, next(self._channel), half)

    @staticmethod
    def recording(kind, to, frm, start, uniqueid):
        return "%s-%s-%s-%s-%s.wav" % (
            kind,
            to,
            frm,
            start.strftime("%Y%m%d-%H%M%S"),
            uniqueid,
        )

    @staticmethod
    def row(calldate, uniqueid, linkedid, sequence, **values):
        row = {
            "calldate": calldate,
            "clid": "",
            "src": "",
            "dst": "",
            "dcontext": "",
            "channel": "",
            "dstchannel": "",
            "lastapp": "Dial",
            "lastdata": "",
            "duration": 0,
            "billsec": 0,
            "disposition": "NO ANSWER",
            "amaflags": 3,
            "accountcode": "",
            "uniqueid": uniqueid,
            "userfield": "",
            "did": "",
            "recordingfile": "",
            "cnum": "",
            "cnam": "",
            "outbound_cnum": "",
            "outbound_cnam": "",
            "dst_cnam": "",
            "linkedid": linkedid,
            "peeraccount": "",
            "sequence": sequence,
        }
        row.update(values)
        return row

    def _incoming(self, caller, did):
        return {
            "clid": '"%s" <%s>' % (caller, caller),
            "src": caller,
            "did": did,
            "cnum": caller,
        }

    # ------------------------------------------------------------------
    # Calls
    # ------------------------------------------------------------------

    def ring_group(
        self,
        start,
        caller,
        members=("101", "102", "103", "104", "105"),
        answered_by=None,
        ring=20,
        talk=120,
        group="600",
        did=DID,
        busy=(),
        record=True,
    ):
        """An incoming call ringing every member of a ring group at once."""
        uid = self.uniqueid(start)
        caller_channel = self.channel(TRUNK)
        recording = self.recording("rg", group, caller, start, uid) if record else ""
        rows = []
        for seq, member in enumerate(members):
            answered = member == answered_by
            if answered:
                disposition, duration, billsec = "ANSWERED", ring + talk, talk
            elif member in busy:
                disposition, duration, billsec = "BUSY", 1, 0
            else:
                disposition, duration, billsec = "NO ANSWER", ring, 0
            rows.append(
                self.row(
                    start,
                    uid,
                    uid,
                    seq,
                    dst=group,
                    dcontext="ext-group",
                    channel=caller_channel,
                    dstchannel=self.channel(member),
                    lastdata="PJSIP/%s,20,tTr" % member,
                    duration=duration,
                    billsec=billsec,
                    disposition=disposition,
                    recordingfile=recording,
                    **self._incoming(caller, did),
                )
            )
        return rows

    def queue(
        self,
        start,
        caller,
        agents=("101", "102"),
        answered_by="102",
        hold=30,
        ring=15,
        talk=90,
        queue="400",
        did=DID,
    ):
        """An incoming call waiting in a queue whose agents ring in turn
        through Local channels (FreePBX's queue members)."""
        uid = self.uniqueid(start)
        rows = []
        at = start + timedelta(seconds=hold)
        answered_local = None
        for seq, agent in enumerate(agents, start=1):
            local_uid = self.uniqueid(at)
            answered = agent == answered_by
            local1 = self.local(agent, "from-queue", 1)
            local2 = local1[:-1] + "2"
            if answered:
                answered_local = local1
            rows.append(
                self.row(
                    at,
                    local_uid,
                    uid,
                    seq,
                    src=caller,
                    clid='"%s" <%s>' % (caller, caller),
                    dst=agent,
                    dcontext="from-queue",
                    channel=local2,
                    dstchannel=self.channel(agent),
                    duration=ring + (talk if answered else 0),
                    billsec=talk if answered else 0,
                    disposition="ANSWERED" if answered else "NO ANSWER",
                )
            )
            if answered:
                break
            at += timedelta(seconds=ring)
        total = int((at - start).total_seconds()) + (ring + talk if answered_by else 0)
        rows.insert(
            0,
            self.row(
                start,
                uid,
                uid,
                0,
                dst=queue,
                dcontext="ext-queues",
                channel=self.channel(TRUNK),
                dstchannel=answered_local or "",
                lastapp="Queue",
                lastdata="%s,t,,,300" % queue,
                # The queue answers the caller at once to play music.
                duration=total,
                billsec=total,
                disposition="ANSWERED",
                recordingfile=self.recording("q", queue, caller, start, uid),
                **self._incoming(caller, did),
            ),
        )
        return rows

    def transfer(
        self, start, caller, first="101", second="102", ring=8, talk1=30, talk2=60
    ):
        """An incoming call answered by ``first`` and blind-transferred."""
        uid = self.uniqueid(start)
        caller_channel = self.channel(TRUNK)
        rows = [
            self.row(
                start,
                uid,
                uid,
                0,
                dst=first,
                dcontext="from-did-direct",
                channel=caller_channel,
                dstchannel=self.channel(first),
                duration=ring + talk1,
                billsec=talk1,
                disposition="ANSWERED",
                recordingfile=self.recording("exten", first, caller, start, uid),
                **self._incoming(caller, DID),
            )
        ]
        second_at = start + timedelta(seconds=ring + talk1)
        rows.append(
            self.row(
                second_at,
                uid,
                uid,
                1,
                dst=second,
                dcontext="from-internal-xfer",
                channel=caller_channel,
                dstchannel=self.channel(second),
                duration=5 + talk2,
                billsec=talk2,
                disposition="ANSWERED",
                **self._incoming(caller, DID),
            )
        )
        return rows

    def outgoing(
        self,
        start,
        extension="101",
        number="89161234567",
        ring=12,
        talk=75,
        disposition="ANSWERED",
    ):
        """An extension calling out through the trunk."""
        uid = self.uniqueid(start)
        answered = disposition == "ANSWERED"
        return [
            self.row(
                start,
                uid,
                uid,
                0,
                clid='"Reception" <%s>' % extension,
                src=extension,
                dst=number,
                dcontext="from-internal",
                channel=self.channel(extension),
                dstchannel=self.channel(TRUNK),
                lastdata="PJSIP/%s@%s,300,Tb(func-apply-sipheaders^s^1)"
                % (number, TRUNK),
                duration=ring + (talk if answered else 0),
                billsec=talk if answered else 0,
                disposition=disposition,
                cnum=extension,
                cnam="Reception",
                outbound_cnum=DID,
                recordingfile=self.recording("out", number, extension, start, uid),
            )
        ]

    def internal(self, start, caller="101", callee="102", ring=5, talk=40):
        """One extension calling another."""
        uid = self.uniqueid(start)
        return [
            self.row(
                start,
                uid,
                uid,
                0,
                clid='"Room 1" <%s>' % caller,
                src=caller,
                dst=callee,
                dcontext="from-internal",
                channel=self.channel(caller),
                dstchannel=self.channel(callee),
                duration=ring + talk,
                billsec=talk,
                disposition="ANSWERED" if talk else "NO ANSWER",
                cnum=caller,
            )
        ]

    def voicemail(self, start, caller, seconds=25, did=DID):
        """An incoming call that only reached a voicemail box."""
        uid = self.uniqueid(start)
        return [
            self.row(
                start,
                uid,
                uid,
                0,
                dst="vmu101",
                dcontext="ext-local",
                channel=self.channel(TRUNK),
                lastapp="VoiceMail",
                lastdata="101@default,u",
                duration=seconds,
                billsec=seconds - 2,
                disposition="ANSWERED",
                **self._incoming(caller, did),
            )
        ]


class MariaDb:
    """A MariaDB database of its own holding a FreePBX ``cdr`` table."""

    def __init__(self, name, host="127.0.0.1", port=3306, user="root", password=""):
        if not re.match(r"^[A-Za-z0-9_]{1,64}$", name):
            raise ValueError("not a database name: %r" % name)
        self.name = name
        self.settings = {"host": host, "port": port, "user": user, "password": password}
        self.cnx = None
        self.readers = []

    def _server(self, *statements):
        server = pymysql.connect(autocommit=True, **self.settings)
        try:
            for statement in statements:
                if isinstance(statement, tuple):
                    _run(server, statement[0] + "%s", [statement[1]])
                else:
                    _run(server, statement)
        finally:
            server.close()

    def build(self):
        """(Re)create the database and its empty ``cdr`` table."""
        self._server(
            "DROP DATABASE IF EXISTS `%s`" % self.name,
            "CREATE DATABASE `%s` CHARACTER SET utf8mb4" % self.name,
        )
        self.cnx = pymysql.connect(database=self.name, autocommit=True, **self.settings)
        with open(SCHEMA) as schema:
            statement = "\n".join(
                line for line in schema if not line.lstrip().startswith("--")
            )
        _run(self.cnx, statement)
        return self

    def drop(self):
        if self.cnx is not None:
            self.cnx.close()
            self.cnx = None
        self._server(
            "DROP DATABASE IF EXISTS `%s`" % self.name,
            *("DROP USER IF EXISTS '%s'@'%%'" % user for user in self.readers),
        )
        self.readers = []

    def add_reader(self, user, password):
        """A user who may only SELECT from the cdr table (as docs advise)."""
        if not re.match(r"^[A-Za-z0-9_]{1,32}$", user):
            raise ValueError("not a user name: %r" % user)
        self._server(
            "DROP USER IF EXISTS '%s'@'%%'" % user,
            # (statement, password): the password goes as a parameter.
            ("CREATE USER '%s'@'%%%%' IDENTIFIED BY " % user, password),
            "GRANT SELECT ON `%s`.`cdr` TO '%s'@'%%'" % (self.name, user),
        )
        self.readers.append(user)

    def insert(self, rows):
        if not rows:
            return
        columns = list(rows[0])
        sql = "INSERT INTO cdr (%s) VALUES (%s)" % (
            ", ".join("`%s`" % c for c in columns),
            ", ".join(["%s"] * len(columns)),
        )
        with self.cnx.cursor() as cr:
            cr.executemany(sql, [[row[c] for c in columns] for row in rows])

    def execute(self, sql, params=None):
        return _run(self.cnx, sql, params)

    def clear(self):
        self.execute("DELETE FROM cdr")


def _run(cnx, sql, params=None):
    with cnx.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchall()
