"""FreePBX / Asterisk CDR rows -> one Event API ``cdr`` event per call.

Plain Python, no ORM. Asterisk writes several rows for one call (one per
Party A / Party B pairing: each phone of a ring group, the caller in a queue
and each agent leg through a ``Local/`` channel, every transfer segment); they
share the call's ``linkedid``. ``fold_rows`` checks the rows, groups them by
``linkedid`` and folds each group into a single raw ``cdr`` event, then runs it
through ``validate_event`` so that a call read from a CDR table takes exactly
the path of a call posted to the event API.

What the fold decides (FreePBX conventions, see docs/freepbx-cdr.md):

- direction: incoming when the call came in on a trunk (or has a DID),
  outgoing when an extension reached a trunk, internal otherwise;
- disposition: answered when a person answered (an extension, or a trunk for
  an outgoing call; the PBX answering for an IVR, a queue's music or a
  voicemail box does not count), else the most telling of no answer, busy and
  failed (CONGESTION is failed);
- talk = billsec of the answered legs (summed over transfer segments), wait =
  time from the first row to the first answer (or, unanswered, to the end);
- the recording URL: ``recordingfile`` under the recordings base URL in
  FreePBX's ``YYYY/MM/DD/`` directory, the date taken from the file name.
"""

import re
from collections import defaultdict
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytz

from .call_events import (
    MAX_EXTENSION,
    MAX_NUMBER,
    NUMBER,
    EventError,
    validate_event,
)

# The columns the fold reads (FreePBX 16 has them all).
COLUMNS = (
    "calldate",
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "duration",
    "billsec",
    "disposition",
    "uniqueid",
    "linkedid",
    "sequence",
    "did",
    "recordingfile",
    "cnum",
    "outbound_cnum",
)
# Extensions as the project knows them (res.users.pbx_extension): 2-8 digits.
EXTENSION = re.compile(r"^\d{2,8}$")
# A dialled number longer than any extension is outside the clinic.
OUTSIDE_NUMBER = re.compile(r"^\+?\d{9,}$")
# Channel name suffixes: "-0000002a" (SIP/PJSIP/IAX2/DAHDI) and ";1"/";2" (Local).
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+(?:;\d)?$")
_CLID_NUMBER = re.compile(r"<([^<>]*)>\s*$")
# Contexts FreePBX gives calls that came in from outside.
INCOMING_CONTEXTS = ("from-trunk", "from-pstn", "ext-did", "from-did")
# Of several unanswered outcomes, the one closest to a person answering wins.
_UNANSWERED_RANK = {"no_answer": 3, "busy": 2, "failed": 1}
_DISPOSITIONS = {
    "ANSWERED": "answered",
    "NO ANSWER": "no_answer",
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "FAILED": "failed",
    "CONGESTION": "failed",
}
MAX_RANG = 100
FIRST_DATE = datetime(1971, 1, 1)


class CdrRowError(Exception):
    """A CDR row that cannot be used; ``uniqueid`` names it."""

    def __init__(self, uniqueid, message):
        super().__init__(message)
        self.uniqueid = uniqueid
        self.message = message

    def __str__(self):
        return "%s: %s" % (self.uniqueid or "?", self.message)


class Channel:
    """What an Asterisk channel name says: technology, endpoint, context."""

    __slots__ = ("tech", "name", "context")

    def __init__(self, tech, name, context):
        self.tech = tech
        self.name = name
        self.context = context

    @classmethod
    def parse(cls, value):
        """``PJSIP/101-0000002a`` -> PJSIP, 101; ``Local/101@from-queue-1f;2``
        -> Local, 101, from-queue; None for an empty or unknown value."""
        if not value or "/" not in value:
            return None
        tech, rest = value.split("/", 1)
        rest = _CHANNEL_SUFFIX.sub("", rest)
        name, _at, context = rest.partition("@")
        return cls(tech.upper(), name, context)

    @property
    def is_local(self):
        return self.tech == "LOCAL"

    @property
    def extension(self):
        """The extension behind the channel (a phone, or a Local agent leg)."""
        return self.name if EXTENSION.match(self.name) else None

    @property
    def is_phone(self):
        return not self.is_local and bool(self.extension)

    @property
    def is_trunk(self):
        return not self.is_local and not self.extension


def _text(value):
    if value.__class__ is str:
        return value.strip()
    return "" if value is None else str(value).strip()


def clean_row(raw):
    """A checked copy of one CDR row or CdrRowError.

    ``raw`` is a dict of COLUMNS or a tuple of their values in that order.
    """
    if isinstance(raw, dict):
        raw = [raw.get(key) for key in COLUMNS]
    (
        calldate,
        clid,
        src,
        dst,
        dcontext,
        channel,
        dstchannel,
        duration,
        billsec,
        disposition,
        uniqueid,
        linkedid,
        sequence,
        did,
        recordingfile,
        cnum,
        outbound_cnum,
    ) = raw
    row = {
        "calldate": calldate,
        "clid": _text(clid),
        "src": _text(src),
        "dst": _text(dst),
        "dcontext": _text(dcontext),
        "channel": _text(channel),
        "dstchannel": _text(dstchannel),
        "duration": duration,
        "billsec": billsec,
        "disposition": _text(disposition).upper(),
        "uniqueid": _text(uniqueid),
        "linkedid": _text(linkedid),
        "sequence": sequence,
        "did": _text(did),
        "recordingfile": _text(recordingfile),
        "cnum": _text(cnum),
        "outbound_cnum": _text(outbound_cnum),
    }
    uniqueid = row["uniqueid"]
    if not uniqueid:
        raise CdrRowError(
            None,
            "a row without uniqueid (linkedid %r, calldate %s)"
            % (row["linkedid"], row.get("calldate")),
        )
    if not row["linkedid"]:
        raise CdrRowError(uniqueid, "no linkedid")
    if not isinstance(calldate, datetime) or calldate < FIRST_DATE:
        # '0000-00-00 00:00:00' (PyMySQL gives it as text), FreePBX's
        # '1000-01-01' default, None...
        raise CdrRowError(uniqueid, "calldate '%s' is not a date" % (calldate,))
    for key in ("duration", "billsec"):
        value = row[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CdrRowError(
                uniqueid, "%s %r is not a number of seconds" % (key, value)
            )
    row["billsec"] = min(row["billsec"], row["duration"])
    if not isinstance(sequence, int) or isinstance(sequence, bool):
        row["sequence"] = 0
    row["a"] = Channel.parse(row["channel"])
    row["b"] = Channel.parse(row["dstchannel"])
    return row


def _end(row):
    return row["calldate"] + timedelta(seconds=row["duration"])


def _answer(row):
    return row["calldate"] + timedelta(seconds=row["duration"] - row["billsec"])


def _number(row):
    """The caller's number of a row: src, else the number in clid."""
    if row["src"]:
        return row["src"]
    match = _CLID_NUMBER.search(row["clid"])
    return match.group(1).strip() if match else ""


def _direction(rows, origin):
    a = origin["a"]
    if any(row["did"] for row in rows):
        return "incoming"
    if a is not None and a.is_trunk:
        return "incoming"
    if origin["dcontext"].startswith(INCOMING_CONTEXTS):
        return "incoming"
    if any(row["b"] is not None and row["b"].is_trunk for row in rows) or any(
        row["outbound_cnum"] for row in rows
    ):
        return "outgoing"
    if OUTSIDE_NUMBER.match(origin["dst"]):
        # Dialled out but no trunk answered the attempt (e.g. CONGESTION).
        return "outgoing"
    return "internal"


def _answered_legs(rows, direction):
    """Rows in which a person answered, in time order."""
    answered = [row for row in rows if row["disposition"] == "ANSWERED" and row["b"]]
    if direction == "outgoing":
        return [row for row in answered if row["b"].is_trunk]
    if direction == "incoming":
        # The caller's side of the call (not an extension's consultation call
        # during an attended transfer) with a phone or an outside number.
        answered = [row for row in answered if not (row["a"] and row["a"].is_phone)]
    direct = [row for row in answered if not row["b"].is_local]
    if direct:
        return direct
    # Only Local legs (agents reached through Local channels whose own rows
    # are missing): their extension still says who answered.
    return [row for row in answered if row["b"].extension]


def _unanswered_disposition(rows):
    best = None
    for row in rows:
        value = _DISPOSITIONS.get(row["disposition"], "failed")
        if value == "answered":
            # The PBX itself answered (IVR, queue music, voicemail).
            value = "no_answer"
        if best is None or _UNANSWERED_RANK[value] > _UNANSWERED_RANK[best]:
            best = value
    return best or "no_answer"


def recording_url(base_url, recordingfile, calldate=None):
    """URL of a FreePBX recording under ``base_url`` (None without either).

    FreePBX stores only the file name, e.g.
    ``out-71222-002-20241105-091730-1730780250.107.wav``, and keeps the file in
    ``monitor/YYYY/MM/DD/``, the date being the name's fourth dash-separated
    part. Older systems store a full path; its part below ``monitor/`` is kept.
    """
    name = (recordingfile or "").strip()
    if not base_url or not name:
        return None
    relative = None
    if "/" in name:
        head, marker, tail = name.partition("/monitor/")
        relative = tail.lstrip("/") if marker else None
        name = name.rsplit("/", 1)[1]
        if not name:
            return None
    if relative is None:
        day = None
        parts = name.split("-")
        token = parts[3][:8] if len(parts) > 3 else ""
        if len(token) == 8 and token.isdigit():
            try:
                day = datetime(int(token[:4]), int(token[4:6]), int(token[6:]))
            except ValueError:
                day = None
        day = day or calldate
        if day is None:
            return None
        relative = "%04d/%02d/%02d/%s" % (day.year, day.month, day.day, name)
    return base_url.rstrip("/") + "/" + quote(relative, safe="/")


def zone(name):
    """The time zone called ``name`` (zoneinfo, or pytz for names it lacks)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return pytz.timezone(name or "UTC")


def localize(moment, tz):
    """A naive PBX-local datetime as an aware one; in the repeated hour when
    clocks go back, the first of the two readings."""
    if hasattr(tz, "localize"):
        return tz.localize(moment, is_dst=True)
    return moment.replace(tzinfo=tz, fold=0)


def fold_call(rows, tz, base_url=None):
    """One raw Event API ``cdr`` event from the clean rows of one call."""
    rows = sorted(
        rows,
        key=lambda r: (
            r["calldate"],
            r["uniqueid"] != r["linkedid"],
            r["sequence"],
            r["uniqueid"],
            r["dstchannel"],
        ),
    )
    first = rows[0]
    # The channel that started the call: skip Local halves when we can.
    origin = next((r for r in rows if r["a"] and not r["a"].is_local), first)
    start = first["calldate"]
    direction = _direction(rows, origin)
    legs = _answered_legs(rows, direction)

    rang = []
    for row in rows:
        for channel in (row["b"],) + (
            (row["a"],) if row["a"] and row["a"].is_local else ()
        ):
            ext = channel.extension if channel else None
            if ext and ext not in rang:
                rang.append(ext)
    caller_ext = origin["a"].extension if origin["a"] else None
    if direction != "incoming" and not caller_ext and EXTENSION.match(origin["cnum"]):
        caller_ext = origin["cnum"]

    did = next((row["did"] for row in rows if row["did"]), "")
    if direction == "incoming":
        src = _number(origin)
        dst = did or origin["dst"]
        answered_ext = next(
            (leg["b"].extension for leg in legs if leg["b"].extension), None
        )
        extension = answered_ext or (rang[0] if rang else None)
    elif direction == "outgoing":
        src = origin["cnum"] or _number(origin)
        trunk_rows = legs or [r for r in rows if r["b"] and r["b"].is_trunk]
        dst = (trunk_rows[0] if trunk_rows else origin)["dst"]
        extension = caller_ext
        rang = []
    else:
        src = origin["cnum"] or _number(origin)
        dst = origin["dst"]
        extension = caller_ext
        rang = [ext for ext in rang if ext != caller_ext]

    if legs:
        disposition = "answered"
        talk = sum(leg["billsec"] for leg in legs)
        wait = (_answer(legs[0]) - start).total_seconds()
    else:
        disposition = _unanswered_disposition(rows)
        talk = 0
        wait = (max(_end(row) for row in rows) - start).total_seconds()

    # Unanswered calls leave an empty file (FreePBX shows none either).
    recorded = (
        next((r for r in legs + rows if r["recordingfile"]), None) if legs else None
    )
    url = None
    if recorded is not None:
        url = recording_url(base_url, recorded["recordingfile"], recorded["calldate"])

    event = {
        "type": "cdr",
        "call_id": first["linkedid"],
        "time": localize(start, tz).isoformat(),
        "direction": direction,
        "from": event_number(src, "anonymous"),
        "to": event_number(dst, "s"),
        "disposition": disposition,
        "talk_seconds": int(talk),
        "wait_seconds": max(0, int(wait)),
        "rang_extensions": [ext[:MAX_EXTENSION] for ext in rang[:MAX_RANG]],
        # A later read of the same call with more rows supersedes this one.
        "revision": len(rows),
    }
    if extension:
        event["extension"] = extension
    if did and direction == "incoming":
        event["did"] = event_number(did, None)
    if url:
        event["recording_url"] = url
    return event


def event_number(value, fallback):
    """A CDR number as the Event API accepts it (digits and ``+*#() .-``, or
    a dialplan word such as ``anonymous`` or ``s``), so that an odd caller ID
    ("John <100>", "sip:100@pbx") never costs the call: the digits are kept,
    else the word, else ``fallback``."""
    value = (value or "").strip()[:MAX_NUMBER]
    if value and NUMBER.fullmatch(value):
        return value
    digits = re.sub(r"[^0-9+*#]", "", value)
    if digits:
        return digits[:MAX_NUMBER]
    word = re.sub(r"[^A-Za-z0-9_-]", "", value).lstrip("0123456789_-")
    return word[:MAX_NUMBER] or fallback


def fold_rows(raw_rows, tz_name, base_url=None):
    """Clean ``cdr`` events for the calls in ``raw_rows``, and the problems.

    Returns ``(events, problems)``: one validated event per ``linkedid`` and a
    list of messages naming each row (by uniqueid) or call that was skipped.
    A malformed row is left out of its call; the rest of the call is kept.
    """
    tz = zone(tz_name)
    groups = defaultdict(list)
    problems = []
    for raw in raw_rows:
        try:
            row = clean_row(raw)
        except CdrRowError as error:
            problems.append(str(error))
            continue
        groups[row["linkedid"]].append(row)
    events = []
    for index, (linkedid, rows) in enumerate(groups.items()):
        try:
            events.append(validate_event(index, fold_call(rows, tz, base_url)))
        except EventError as error:
            problems.append(
                "call %s: %s %s" % (linkedid, error.field or "", error.message)
            )
    return events, problems
