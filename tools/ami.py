"""Asterisk Manager Interface (AMI): the protocol, and live call events from it.

Plain Python, no ORM.

The protocol (Asterisk 12+, port 5038): the server greets with a banner line
(``Asterisk Call Manager/5.0.1``); then each message is ``Key: Value`` lines
ended by an empty line, ``\\r\\n`` throughout. A client sends actions
(``Action: Login``), the server answers each with ``Response: Success`` or
``Response: Error`` and the action's ``ActionID``, and sends events
(``Event: DialBegin``) as they happen. ``AmiParser`` splits the bytes read
into messages; ``format_action`` writes an action, refusing any value that
would start another header line.

``CallTracker`` turns the call events of one PBX into the live events of
the Event API (``ringing``, ``answered``, ``hangup``), one call per
``Linkedid``, the ``call_id`` the CDR fold gives the same call
(tools/cdr_fold.py), so that the CDR row read later lands on the same call:

- ``Newchannel`` of the call's first channel (``Uniqueid == Linkedid``): who
  calls, and which number (the DID of a call from a trunk);
- ``DialBegin`` to a phone, or to a ``Local/`` agent leg of a queue: that
  extension rings (``ringing``); to a trunk: an outgoing call;
- ``DialEnd`` with ``DialStatus: ANSWER``: answered (``answered``), by that
  phone for an incoming call, by the calling phone for the others, as the
  CDR fold counts them; a blind transfer's second answer keeps the first as
  the call's; other statuses decide how an unanswered call ended;
- ``Hangup`` of the call's last channel: the call ends (``hangup``). Talk is
  the time some answered leg was up (a transfer's segments add up, as the
  CDR's billsec do), wait the time to the first answer, both from the
  events' ``Timestamp`` (AMI's ``timestampevents``) or, without it, from
  when they were read.

A call that rang no extension (an IVR, a voicemail box) gives no live
event: nobody gets a pop-up for it, and the CDR sync brings it.
"""

import collections
import contextlib
import itertools
import logging
import select
import socket
import ssl
import time
from datetime import datetime, timezone

from .cdr_fold import INCOMING_CONTEXTS, Channel

_logger = logging.getLogger(__name__)

# The events CallTracker reads; a listener asks the PBX for these only.
CALL_EVENTS = ("Newchannel", "DialBegin", "DialEnd", "Hangup")
# DialStatus -> how an unanswered call ended; the best of a call's wins.
_UNANSWERED = {
    "NOANSWER": "no_answer",
    "CANCEL": "no_answer",
    "BUSY": "busy",
    "CONGESTION": "failed",
    "CHANUNAVAIL": "failed",
}
_UNANSWERED_RANK = {"no_answer": 3, "busy": 2, "failed": 1}
BANNER_PREFIX = "Asterisk Call Manager/"
# OriginateResponse ``Reason``: the outcome of ringing the first channel.
ORIGINATE_REASONS = {
    "0": "the phone is not registered or does not exist",
    "1": "the phone hung up",
    "3": "the phone rang but nobody answered",
    "5": "the phone is busy",
    "8": "the line is congested",
}


class AmiProtocolError(Exception):
    """The peer does not speak AMI (no banner, a line without ``Key:``)."""


class AmiParser:
    """Bytes read from an AMI connection -> messages (dicts of str).

    ``feed(data)`` returns the messages completed by ``data``; an incomplete
    one waits for the next call. ``banner`` is the server's greeting once
    read. A key given twice keeps its first value (AMI repeats only keys
    such as ``ChanVariable`` that nothing here reads).
    """

    def __init__(self, limit=1024 * 1024):
        self.banner = None
        self._buffer = b""
        self._lines = {}
        self._limit = limit

    def feed(self, data):
        # Split once: slicing the buffer line by line would copy the rest of
        # a 64 KiB read for each of its hundreds of lines.
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        if len(self._buffer) > self._limit:
            raise AmiProtocolError("a line longer than %d bytes" % self._limit)
        messages = []
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if self.banner is None:
                if not line.startswith(BANNER_PREFIX):
                    raise AmiProtocolError("not an AMI server: %r" % line[:80])
                self.banner = line
                continue
            if not line:
                if self._lines:
                    messages.append(self._lines)
                    self._lines = {}
                continue
            key, colon, value = line.partition(":")
            if not colon:
                raise AmiProtocolError("a line without a key: %r" % line[:80])
            self._lines.setdefault(key.strip(), value.strip())
        return messages


def format_action(action, action_id, **fields):
    """The bytes of the AMI action ``action`` with ``fields``.

    A value holding a line break would end its header and start another
    (``Context: x\\r\\nApplication: System``): refused with ValueError, as is
    a key that is not a plain word.
    """
    lines = [("Action", action), ("ActionID", action_id), *fields.items()]
    out = []
    for key, value in lines:
        value = "" if value is None else str(value)
        if not key.replace("-", "").isalnum():
            raise ValueError("AMI header %r is not a word" % key)
        if "\r" in value or "\n" in value or "\x00" in value:
            raise ValueError("AMI header %s holds a line break" % key)
        out.append("%s: %s\r\n" % (key, value))
    return ("".join(out) + "\r\n").encode()


class AmiError(Exception):
    """The PBX could not be reached, or refused: a sentence for the user."""


class AmiClient:
    """One AMI session over TCP (TLS when ``tls``), blocking.

    ``connect()`` reads the banner; ``login()`` logs in, asking for the call
    events only; ``action()`` sends an action and returns its response, the
    events read meanwhile kept for ``next_event()``; ``close()`` logs off.
    Every failure is an ``AmiError`` that says what happened.
    """

    def __init__(self, host, port=5038, timeout=10.0, tls=False, ssl_context=None):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.tls = tls
        self.ssl_context = ssl_context
        self.banner = None
        self._sock = None
        self._parser = AmiParser()
        self._events = collections.deque()  # read, not yet taken
        self._responses = {}  # ActionID: response, read, not yet taken
        self._ids = itertools.count(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def connect(self):
        where = "%s:%s" % (self.host, self.port)
        try:
            sock = socket.create_connection((self.host, self.port), self.timeout)
        except TimeoutError as error:
            raise AmiError("The PBX at %s did not answer in time." % where) from error
        except OSError as error:
            raise AmiError(
                "The PBX at %s could not be reached: %s."
                % (where, error.strerror or error)
            ) from error
        if self.tls:
            context = self.ssl_context or ssl.create_default_context()
            try:
                sock = context.wrap_socket(sock, server_hostname=self.host)
            except (OSError, ssl.SSLError) as error:
                sock.close()
                raise AmiError(
                    "The PBX at %s refused the TLS connection: %s." % (where, error)
                ) from error
        self._sock = sock
        while self._parser.banner is None:
            self._read()
        self.banner = self._parser.banner
        return self

    def login(self, username, secret, events="call"):
        """Log in; ``events`` is the AMI event mask (``call``: calls only)."""
        response = self.action("Login", Username=username, Secret=secret, Events=events)
        if response.get("Response") != "Success":
            raise AmiError(
                "The PBX refused the AMI login of %s: %s."
                % (username, response.get("Message") or "no reason given")
            )
        return response

    def action(self, name, **fields):
        """Send the action ``name`` and return its response (a dict)."""
        action_id = "clinic-pbx-%d" % next(self._ids)
        self._send(format_action(name, action_id, **fields))
        while action_id not in self._responses:
            self._read()
        return self._responses.pop(action_id)

    def originate(
        self, channel, context, exten, caller_id="", timeout=30, variables=None
    ):
        """Ring ``channel`` (the user's phone) and, once it is answered, send
        it to ``exten`` in ``context``: the PBX dials the number. Waits for
        the PBX's OriginateResponse; AmiError says why the call was not made.
        """
        fields = {
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "CallerID": caller_id,
            "Timeout": str(int(timeout * 1000)),
            "Async": "true",
        }
        if variables:
            fields["Variable"] = ",".join("%s=%s" % item for item in variables.items())
        response = self.action("Originate", **fields)
        if response.get("Response") != "Success":
            raise AmiError(
                "The PBX refused to place the call: %s."
                % (response.get("Message") or "no reason given")
            )
        action_id = response.get("ActionID")
        while True:
            for message in self._events:
                if (
                    message.get("Event") == "OriginateResponse"
                    and message.get("ActionID") == action_id
                ):
                    self._events.remove(message)
                    if message.get("Response") == "Success":
                        return message
                    reason = ORIGINATE_REASONS.get(
                        message.get("Reason", ""), "it could not be placed"
                    )
                    raise AmiError("The PBX could not ring %s: %s." % (channel, reason))
            self._read()

    def next_event(self, idle=None):
        """The next event (a dict); None when none came for ``idle`` seconds
        (when given); AmiError when the PBX closed the session."""
        while not self._events:
            if idle is not None and not self._readable(idle):
                return None
            self._read()
        return self._events.popleft()

    def _readable(self, seconds):
        if self._sock is None:
            raise AmiError("Not connected to the PBX.")
        if isinstance(self._sock, ssl.SSLSocket) and self._sock.pending():
            return True
        readable, _w, _x = select.select([self._sock], [], [], seconds)
        return bool(readable)

    def close(self):
        if self._sock is None:
            return
        # Log off and wait (briefly) for the PBX's Goodbye, as AMI clients do.
        with contextlib.suppress(AmiError, OSError):
            self._sock.settimeout(min(self.timeout, 2.0))
            self.action("Logoff")
        sock, self._sock = self._sock, None
        sock.close()

    def _send(self, data):
        if self._sock is None:
            raise AmiError("Not connected to the PBX.")
        try:
            self._sock.sendall(data)
        except OSError as error:
            raise AmiError("The PBX closed the AMI connection.") from error

    def _read(self):
        """Read from the PBX once; keep the events and the responses."""
        for message in self._receive():
            if "Event" in message:
                self._events.append(message)
            else:
                self._responses[message.get("ActionID")] = message

    def _receive(self):
        if self._sock is None:
            raise AmiError("Not connected to the PBX.")
        try:
            data = self._sock.recv(65536)
        except TimeoutError as error:
            raise AmiError("The PBX stopped answering.") from error
        except OSError as error:
            raise AmiError("The PBX closed the AMI connection.") from error
        if not data:
            raise AmiError("The PBX closed the AMI connection.")
        try:
            return self._parser.feed(data)
        except AmiProtocolError as error:
            raise AmiError(
                "%s:%s does not speak the Asterisk Manager Interface (%s)."
                % (self.host, self.port, error)
            ) from error


class AmiListener:
    """Keeps one PBX's AMI session and turns its call events into Event API
    events, until ``stop`` is set.

    ``connect()`` returns a connected, logged-in ``AmiClient``; ``sink(events)``
    applies a list of raw events (raising to have them offered again: events
    are kept, in order, until the sink took them, and applying an event twice
    changes nothing); ``report(error)`` is told each session's outcome: None
    once connected, else the AmiError. A session dropped or refused is
    opened again after ``backoff`` seconds (growing up to its last value);
    the calls then in progress are forgotten (the CDR sync brings them).
    An idle session is checked with a Ping every ``ping_seconds``. What
    arrived together goes to the sink together, ``batch_size`` events at
    most per call.
    """

    def __init__(
        self, connect, sink, report, backoff=(1, 2, 5, 10, 30), ping_seconds=20,
        clock=None, batch_size=500,
    ):  # fmt: skip
        self.connect = connect
        self.sink = sink
        self.report = report
        self.backoff = backoff
        self.ping_seconds = ping_seconds
        self.batch_size = batch_size  # events per sink call at most
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.tracker = CallTracker()
        self.pending = []  # raw events the sink has not taken yet
        self.sink_failing = False
        self.sessions = 0

    def run(self, stop):
        failures = 0
        while not stop.is_set():
            try:
                client = self.connect()
            except AmiError as error:
                self.report(error)
                failures += 1
                stop.wait(self._delay(failures))
                continue
            self.sessions += 1
            self.report(None)
            try:
                failures = 0
                self._session(client, stop)
            except AmiError as error:
                self.report(error)
                failures += 1
                self.tracker.forget()
                stop.wait(self._delay(failures))
            finally:
                client.close()
        self._deliver()

    def _delay(self, failures):
        return self.backoff[min(failures, len(self.backoff)) - 1]

    def _session(self, client, stop):
        last = time.monotonic()
        while not stop.is_set():
            message = client.next_event(idle=min(1.0, self.ping_seconds))
            if message is None:
                if time.monotonic() - last >= self.ping_seconds:
                    client.action("Ping")
                    last = time.monotonic()
                self._deliver()
                continue
            last = time.monotonic()
            # A burst (every phone of a ring group, or many calls at once)
            # is read whole, then applied in one sink call: one transaction
            # for what arrived together, not one per event.
            while True:
                self.pending += self.tracker.feed(message, self.clock())
                if len(self.pending) >= self.batch_size:
                    break
                message = client.next_event(idle=0)
                if message is None:
                    break
            self._deliver()

    def _deliver(self):
        while self.pending:
            batch = self.pending[: self.batch_size]
            try:
                self.sink(batch)
            except Exception:  # noqa: BLE001 -- kept and offered again
                if not self.sink_failing:  # once per failing streak
                    _logger.exception("AMI events not applied yet; they are kept")
                self.sink_failing = True
                return
            self.sink_failing = False
            del self.pending[: len(batch)]


def event_time(message, received):
    """An event's moment as an aware UTC datetime: its ``Timestamp`` (seconds
    since the epoch, when the PBX adds them), else ``received``."""
    stamp = message.get("Timestamp")
    if not stamp:
        return received
    try:
        return datetime.fromtimestamp(float(stamp), timezone.utc)
    except (ValueError, OverflowError, OSError):
        return received  # not a number of seconds: as if it had none


class _Call:
    __slots__ = (
        "linkedid",
        "start",
        "origin",
        "caller",
        "dialled",
        "direction",
        "channels",
        "rang",
        "announced",
        "answered_at",
        "talking",
        "talking_since",
        "talk",
        "outcome",
    )

    def __init__(self, linkedid, start):
        self.linkedid = linkedid
        self.start = start
        self.origin = None  # Channel of the call's first channel
        self.caller = ""  # its CallerIDNum
        self.dialled = ""  # its Exten: the DID of a call from a trunk
        self.direction = None
        self.channels = set()
        self.rang = []
        self.announced = False  # a ringing event was given
        self.answered_at = None
        self.talking = set()  # the answered legs still up (their Uniqueid)
        self.talking_since = None
        self.talk = 0.0  # seconds with a leg answered, before talking_since
        self.outcome = None


class CallTracker:
    """The calls in progress of one PBX, from its AMI events.

    ``feed(message, received)`` takes one AMI message (other messages than
    the call events are ignored) and returns the raw Event API events it
    gives, to be checked with ``validate_event`` like any other.
    """

    def __init__(self):
        self.calls = {}

    def forget(self):
        """Forget the calls in progress, after the AMI session dropped: their
        ends will not come; the CDR sync brings each of them whole. Returns
        their Linkedids."""
        forgotten, self.calls = sorted(self.calls), {}
        return forgotten

    def feed(self, message, received):
        name = message.get("Event")
        if name not in CALL_EVENTS:
            return []
        linkedid = message.get("Linkedid") or message.get("Uniqueid")
        if not linkedid:
            return []
        moment = event_time(message, received)
        call = self.calls.get(linkedid)
        if call is None:
            # A call is followed from its first channel: one begun before the
            # session (a listener starting, or reconnecting after a drop)
            # would be half known, so it is left to the CDR sync.
            if name != "Newchannel" or message.get("Uniqueid") != linkedid:
                return []
            call = self.calls[linkedid] = _Call(linkedid, moment)
        handler = getattr(self, "_on_" + name.lower())
        return handler(call, message, moment)

    # -- events -----------------------------------------------------------

    def _on_newchannel(self, call, message, moment):
        uniqueid = message.get("Uniqueid", "")
        call.channels.add(uniqueid)
        if uniqueid == call.linkedid or call.origin is None:
            channel = Channel.parse(message.get("Channel", ""))
            if channel is not None and (call.origin is None or not channel.is_local):
                call.origin = channel
                call.caller = message.get("CallerIDNum", "")
                call.dialled = message.get("Exten", "")
                call.start = min(call.start, moment)
                context = message.get("Context", "")
                if channel.is_trunk or context.startswith(INCOMING_CONTEXTS):
                    call.direction = "incoming"
        return []

    def _on_dialbegin(self, call, message, moment):
        call.channels.add(message.get("DestUniqueid", ""))
        dest = Channel.parse(message.get("DestChannel", ""))
        if dest is None:
            return []
        if call.direction is None:
            call.direction = "outgoing" if dest.is_trunk else "internal"
        if call.direction == "outgoing":
            if not dest.is_trunk or call.announced:
                return []
            call.announced = True
            return [self._ringing(call, moment, self._own_extension(call), [])]
        extension = dest.extension
        if not extension or extension in call.rang:
            return []
        if call.direction == "internal" and extension == self._own_extension(call):
            return []
        call.rang.append(extension)
        call.announced = True
        if call.direction == "internal":
            return [self._ringing(call, moment, self._own_extension(call), [extension])]
        # Each phone that rings is in its own event (its users get the
        # pop-up at once); the call's extension is the first that rang, as
        # the CDR fold has it.
        return [self._ringing(call, moment, call.rang[0], [extension])]

    def _on_dialend(self, call, message, moment):
        status = (message.get("DialStatus") or "").upper()
        dest = Channel.parse(message.get("DestChannel", ""))
        if status != "ANSWER":
            outcome = _UNANSWERED.get(status)
            if outcome and (
                call.outcome is None
                or _UNANSWERED_RANK[outcome] > _UNANSWERED_RANK[call.outcome]
            ):
                call.outcome = outcome
            return []
        if dest is None:
            return []
        if call.direction == "incoming":
            extension = dest.extension
            if not extension:
                return []  # an IVR or a queue answering for itself
        else:
            if call.direction == "outgoing" and not dest.is_trunk:
                return []
            extension = self._own_extension(call)
            if not extension:
                return []
        # Talk is the time some answered leg is up: a transfer's segments
        # add up, and the two legs of a Local agent count once.
        if not call.talking:
            call.talking_since = moment
        call.talking.add(message.get("DestUniqueid", ""))
        if call.answered_at is not None:
            return []  # the first answer is the call's: a transfer keeps it
        call.answered_at = moment
        return [
            {
                "type": "answered",
                "call_id": call.linkedid,
                "time": moment.isoformat(),
                "extension": extension,
            }
        ]

    def _on_hangup(self, call, message, moment):
        uniqueid = message.get("Uniqueid", "")
        call.channels.discard(uniqueid)
        if uniqueid in call.talking:
            call.talking.discard(uniqueid)
            if not call.talking:
                call.talk += (moment - call.talking_since).total_seconds()
        if call.channels:
            return []
        del self.calls[call.linkedid]
        if not call.announced:
            return []  # it never rang anyone: no live call to end
        if call.answered_at is not None:
            disposition = "answered"
            talk = call.talk
            if call.talking:  # legs whose Hangup was not seen
                talk += (moment - call.talking_since).total_seconds()
            wait = (call.answered_at - call.start).total_seconds()
        else:
            disposition = call.outcome or "no_answer"
            talk, wait = 0, (moment - call.start).total_seconds()
        return [
            {
                "type": "hangup",
                "call_id": call.linkedid,
                "time": moment.isoformat(),
                "disposition": disposition,
                "talk_seconds": max(0, int(talk)),
                "wait_seconds": max(0, int(wait)),
            }
        ]

    # -- helpers ----------------------------------------------------------

    @staticmethod
    def _own_extension(call):
        """The extension that placed an outgoing or internal call."""
        if call.origin is not None and call.origin.extension:
            return call.origin.extension
        return call.caller if call.caller.isdigit() else None

    @staticmethod
    def _ringing(call, moment, extension, rang):
        incoming = call.direction == "incoming"
        event = {
            "type": "ringing",
            "call_id": call.linkedid,
            "time": call.start.isoformat(),
            "direction": call.direction,
            "from": call.caller or ("anonymous" if incoming else extension or "s"),
            "to": call.dialled or "s",
            "extension": extension or "",
            "rang_extensions": rang,
        }
        if incoming and call.dialled:
            event["did"] = call.dialled
        return event
