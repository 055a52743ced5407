import socket
import threading
import time
from datetime import datetime

from odoo.tests import BaseCase, TransactionCase, tagged

from odoo.addons.clinic_pbx.tests.common import make_connection
from odoo.addons.clinic_pbx.tests.fakes.ami_server import FakeAmiServer
from odoo.addons.clinic_pbx.tests.fakes.ami_stream import AmiStream, as_bytes
from odoo.addons.clinic_pbx.tests.fakes.freepbx_cdr import CdrWriter
from odoo.addons.clinic_pbx.tools.ami import (
    AmiClient,
    AmiError,
    AmiListener,
    AmiParser,
    AmiProtocolError,
    CallTracker,
    format_action,
)
from odoo.addons.clinic_pbx.tools.call_events import merge_events, validate_event
from odoo.addons.clinic_pbx.tools.cdr_fold import fold_rows

T0 = datetime(2026, 11, 5, 9, 17, 30)
TZ = "Europe/Moscow"
# What a call's state holds that both sources say.
COMPARED = (
    "start",
    "direction",
    "src",
    "dst",
    "did",
    "extension",
    "answer_extension",
    "rang_extensions",
    "disposition",
    "talk_seconds",
    "wait_seconds",
    "ended_at",
)


def live_events(messages):
    """The Event API events a tracker gives for ``messages``, checked."""
    tracker = CallTracker()
    raw = []
    for message in messages:
        raw += tracker.feed(message, received=None)
    return [validate_event(index, event) for index, event in enumerate(raw)], tracker


def scenarios():
    """(name, CDR rows, AMI events) of the same calls: each call's writer
    of CDR rows and of AMI events take the same arguments."""
    cdr, ami = CdrWriter(TZ), AmiStream(TZ)

    def pair(name, kind, **kwargs):
        rows = getattr(cdr, kind)(T0, **kwargs)
        return name, rows, getattr(ami, kind)(T0, rows[0]["linkedid"], **kwargs)

    caller = "89161234567"
    return [
        pair("ring group answered", "ring_group", caller=caller, answered_by="105"),
        pair(
            "ring group missed, one phone busy",
            "ring_group",
            caller=caller,
            busy=("103",),
        ),  # fmt: skip
        pair("queue with Local agents", "queue", caller=caller, answered_by="102"),
        pair("blind transfer", "transfer", caller=caller),
        pair("outgoing", "outgoing", extension="103", number="89167654321"),
        pair("internal", "internal", caller="101", callee="104"),
        pair("internal, not answered", "internal", caller="101", callee="104", talk=0),
    ]


@tagged("post_install", "-at_install")
class TestAmiProtocol(BaseCase):
    """The AMI wire format (plain Python)."""

    def test_messages_split_anywhere_on_the_wire(self):
        events = AmiStream(TZ).internal(T0, "1730780250.7")
        data = as_bytes([{"Response": "Success", "ActionID": "1"}, *events])
        whole = AmiParser()
        self.assertEqual(whole.feed(data)[1:], events)
        self.assertEqual(whole.banner, "Asterisk Call Manager/5.0.1")
        pieces, parser = [], AmiParser()
        for offset in range(0, len(data), 7):
            pieces += parser.feed(data[offset : offset + 7])
        self.assertEqual(pieces, AmiParser().feed(data))
        self.assertEqual(pieces[0], {"Response": "Success", "ActionID": "1"})

    def test_a_peer_that_is_not_ami_is_refused(self):
        with self.assertRaises(AmiProtocolError):
            AmiParser().feed(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        parser = AmiParser()
        parser.feed(b"Asterisk Call Manager/5.0.1\r\n")
        with self.assertRaises(AmiProtocolError):
            parser.feed(b"no colon here\r\n\r\n")

    def test_actions_cannot_carry_a_second_header(self):
        self.assertEqual(
            format_action("Login", "7", Username="odoo", Secret="s3 cret"),
            b"Action: Login\r\nActionID: 7\r\n"
            b"Username: odoo\r\nSecret: s3 cret\r\n\r\n",
        )
        for value in ("x\r\nApplication: System", "x\nEvents: on", "x\x00"):
            with self.assertRaises(ValueError):
                format_action("Originate", "8", Context=value)
        with self.assertRaises(ValueError):
            format_action("Originate", "9", **{"Bad Key": "x"})


@tagged("post_install", "-at_install")
class TestAmiCalls(BaseCase):
    """AMI call events -> live Event API events, one call per Linkedid."""

    def test_a_ring_group_rings_every_phone_then_is_taken(self):
        cdr = CdrWriter(TZ)
        rows = cdr.ring_group(T0, "89161234567", answered_by="105")
        linkedid = rows[0]["linkedid"]
        events, tracker = live_events(
            AmiStream(TZ).ring_group(T0, linkedid, "89161234567", answered_by="105")
        )
        self.assertEqual(
            [(e["type"], e["rang_extensions"]) for e in events],
            [("ringing", [ext]) for ext in ("101", "102", "103", "104", "105")]
            + [("answered", []), ("hangup", [])],
        )
        self.assertEqual(events[5]["extension"], "105", "who took it")
        self.assertEqual(
            (events[6]["disposition"], events[6]["talk_seconds"]), ("answered", 120)
        )
        self.assertEqual({e["call_id"] for e in events}, {linkedid})
        ringing = events[0]
        self.assertEqual(
            (ringing["direction"], ringing["from"], ringing["to"], ringing["did"]),
            ("incoming", "89161234567", "74951234500", "74951234500"),
        )
        self.assertEqual(tracker.calls, {}, "the call is forgotten once it ended")

    def test_live_events_give_the_call_the_cdr_gives(self):
        for name, rows, messages in scenarios():
            with self.subTest(name):
                cdr_events, problems = fold_rows(rows, TZ)
                self.assertEqual(problems, [])
                (cdr_event,) = cdr_events
                live, _tracker = live_events(messages)
                self.assertTrue(live, "the call gave live events")
                self.assertEqual({e["call_id"] for e in live}, {cdr_event["call_id"]})
                from_cdr = merge_events({}, [cdr_event])
                from_live = merge_events({}, live)
                both = merge_events(merge_events({}, live), [cdr_event])
                for key in COMPARED:
                    if key == "rang_extensions" and cdr_event["direction"] == (
                        "outgoing"
                    ):
                        # A live call rings the phone that placed it, and a
                        # call keeps every phone that rang.
                        self.assertEqual(from_cdr[key], [])
                        self.assertEqual(from_live[key], ["103"])
                        self.assertEqual(both[key], ["103"])
                        continue
                    # Otherwise the CDR is authoritative: once it is read,
                    # the call is the CDR's call, whatever came live.
                    self.assertEqual(both.get(key), from_cdr.get(key), key)
                    if key == "ended_at" and name == "blind transfer":
                        # The CDR's end is its start plus wait plus talk,
                        # which leaves out the 5 s the second phone rang;
                        # live, the end is the last Hangup.
                        self.assertEqual(
                            (from_live[key] - from_cdr[key]).total_seconds(), 5
                        )
                    elif (
                        key == "extension"
                        and from_cdr.get("answer_extension")
                        and (cdr_event["direction"] == "incoming")
                    ):
                        # Live, the phone that rang first; the CDR names the
                        # one that answered (answer_extension, for both).
                        self.assertEqual(from_live[key], from_cdr["rang_extensions"][0])
                    else:
                        self.assertEqual(from_live.get(key), from_cdr.get(key), key)

    def test_calls_that_rang_nobody_give_no_live_events(self):
        ami = AmiStream(TZ)
        linkedid = "1730780250.42"
        trunk, new = ami.leg(
            T0, linkedid, ami.channel("sipnet"), "89161234567", "74951234500",
            "from-pstn", True,
        )  # fmt: skip
        events, tracker = live_events([new, ami.hangup(T0, trunk)])
        self.assertEqual(events, [], "an IVR or voicemail call: the CDR brings it")
        # The end of a call that began before the listener did.
        self.assertEqual(tracker.feed(ami.hangup(T0, trunk), received=None), [])
        self.assertEqual(tracker.calls, {})

    def test_events_without_timestamps_use_the_time_they_were_read(self):
        messages = AmiStream(TZ).internal(T0, "1730780250.8")
        tracker, out = CallTracker(), []
        moments = [datetime(2026, 11, 5, 6, 17, 30 + n).astimezone() for n in range(6)]
        for message, moment in zip(messages, moments, strict=True):
            message = {k: v for k, v in message.items() if k != "Timestamp"}
            out += tracker.feed(message, received=moment)
        self.assertEqual([e["type"] for e in out], ["ringing", "answered", "hangup"])
        # answered when the fourth message was read; the phone that answered
        # hung up at the fifth
        self.assertEqual(out[-1]["talk_seconds"], 1)


@tagged("post_install", "-at_install")
class TestAmiClient(BaseCase):
    """An AMI session over TCP with a server that speaks the protocol."""

    def server(self, events=(), **kwargs):
        server = FakeAmiServer(**kwargs).start(events)
        self.addCleanup(server.stop)
        return server

    def test_login_then_the_call_events_of_the_pbx(self):
        messages = AmiStream(TZ).ring_group(
            T0, "1730780250.9", "89161234567", answered_by="102"
        )
        server = self.server(messages)
        tracker, out = CallTracker(), []
        with AmiClient("127.0.0.1", server.port, timeout=5) as client:
            client.connect()
            self.assertEqual(client.banner, "Asterisk Call Manager/5.0.1")
            client.login("odoo", "s3cret")
            self.assertEqual(client.action("Ping")["Ping"], "Pong")
            for _message in messages:
                out += tracker.feed(client.next_event(), received=None)
        login = server.actions[0]
        self.assertEqual(
            (login["Action"], login["Username"], login["Events"]),
            ("Login", "odoo", "call"),
            "only the call events are asked for",
        )
        self.assertEqual(server.actions[-1]["Action"], "Logoff")
        self.assertEqual(
            [event["type"] for event in out], ["ringing"] * 5 + ["answered", "hangup"]
        )

    def test_failures_are_told_in_a_sentence(self):
        server = self.server()
        client = AmiClient("127.0.0.1", server.port, timeout=5).connect()
        with self.assertRaisesRegex(
            AmiError, "refused the AMI login of odoo: Authentication failed"
        ):
            client.login("odoo", "wrong")
        client.close()
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        with self.assertRaisesRegex(AmiError, "could not be reached"):
            AmiClient("127.0.0.1", port, timeout=5).connect()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        self.addCleanup(listener.close)

        def http_answer():
            conn, _address = listener.accept()
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()

        threading.Thread(target=http_answer, daemon=True).start()
        with self.assertRaisesRegex(AmiError, "does not speak the Asterisk Manager"):
            AmiClient("127.0.0.1", listener.getsockname()[1], timeout=5).connect()

    def test_a_pbx_that_restarts_ends_the_session(self):
        server = self.server()
        client = AmiClient("127.0.0.1", server.port, timeout=5).connect()
        self.addCleanup(client.close)
        client.login("odoo", "s3cret")
        events = AmiStream(TZ).internal(T0, "1730780250.11")
        server.send(events[:2])
        self.assertEqual(client.next_event()["Event"], "Newchannel")
        self.assertEqual(client.next_event()["Event"], "Newchannel")
        server.drop()
        with self.assertRaisesRegex(AmiError, "closed the AMI connection"):
            client.next_event()

    def test_an_action_that_would_inject_a_header_is_never_sent(self):
        server = self.server()
        with AmiClient("127.0.0.1", server.port, timeout=5) as client:
            client.connect()
            client.login("odoo", "s3cret")
            with self.assertRaises(ValueError):
                client.action(
                    "Originate", Channel="PJSIP/101", Context="x\r\nApplication: System"
                )
            self.assertEqual(client.action("Ping")["Response"], "Success")
        self.assertEqual(
            [a["Action"] for a in server.actions], ["Login", "Ping", "Logoff"]
        )

    def test_originate_rings_the_phone_then_dials(self):
        server = self.server()
        with AmiClient("127.0.0.1", server.port, timeout=5) as client:
            client.connect()
            client.login("odoo", "s3cret")
            answer = client.originate(
                "PJSIP/101", "from-internal", "89161234567",
                caller_id='"Vera Sokolova" <89161234567>',
            )  # fmt: skip
            self.assertEqual(answer["Response"], "Success")
        originate = server.actions[1]
        self.assertEqual(
            {key: originate[key] for key in ("Channel", "Context", "Exten", "Async")},
            {
                "Channel": "PJSIP/101",
                "Context": "from-internal",
                "Exten": "89161234567",
                "Async": "true",
            },
        )
        self.assertEqual(originate["CallerID"], '"Vera Sokolova" <89161234567>')

    def test_originate_says_why_the_call_was_not_made(self):
        for setting, message in (
            ("refuse", "refused to place the call: Originate failed"),
            ("5", "could not ring PJSIP/101: the phone is busy"),
            ("0", "could not ring PJSIP/101: the phone is not registered"),
        ):
            with self.subTest(setting):
                server = self.server(originate=setting)
                with AmiClient("127.0.0.1", server.port, timeout=5) as client:
                    client.connect()
                    client.login("odoo", "s3cret")
                    with self.assertRaisesRegex(AmiError, message):
                        client.originate("PJSIP/101", "from-internal", "89161234567")

    def test_calls_in_progress_are_forgotten_when_the_session_drops(self):
        messages = AmiStream(TZ).ring_group(T0, "1730780250.12", "89161234567")
        tracker = CallTracker()
        half = len(messages) // 2
        for message in messages[:half]:
            tracker.feed(message, received=None)
        self.assertEqual(tracker.forget(), ["1730780250.12"])
        # After the reconnection, the rest of that call says nothing: the CDR
        # sync brings it whole.
        later = []
        for message in messages[half:]:
            later += tracker.feed(message, received=None)
        self.assertEqual(later, [])
        self.assertEqual(tracker.calls, {})


def wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.02)


@tagged("post_install", "-at_install")
class TestAmiListener(BaseCase):
    """The session a listener keeps: events to the sink, reconnections."""

    def start(self, server, sink=None, secret="s3cret", **options):
        applied, reports = [], []

        def connect():
            client = AmiClient("127.0.0.1", server.port, timeout=5).connect()
            try:
                client.login("odoo", secret)
            except AmiError:
                client.close()
                raise
            return client

        listener = AmiListener(
            connect, sink or applied.extend, reports.append, **options
        )
        stop = threading.Event()
        thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
        thread.start()

        def finish():
            stop.set()
            thread.join(10)
            self.assertFalse(thread.is_alive())

        self.addCleanup(finish)
        return listener, applied, reports, finish

    def server(self, **kwargs):
        server = FakeAmiServer(**kwargs).start()
        self.addCleanup(server.stop)
        return server

    def test_a_dropped_session_is_opened_again_and_nothing_is_lost(self):
        ami = AmiStream(TZ)
        first = ami.internal(T0, "1730780250.21")
        second = ami.internal(T0, "1730780250.22", caller="102", callee="103")
        server = self.server()
        listener, applied, reports, finish = self.start(server, backoff=(0.1,))
        wait_for(lambda: server.listening_sessions == 1)
        server.send(first)
        wait_for(lambda: [e["type"] for e in applied][-1:] == ["hangup"])
        server.drop()
        wait_for(lambda: server.listening_sessions == 1 and listener.sessions == 2)
        server.send(second)
        wait_for(lambda: len(applied) == 6)
        finish()
        self.assertEqual(
            [(e["call_id"], e["type"]) for e in applied],
            [("1730780250.21", t) for t in ("ringing", "answered", "hangup")]
            + [("1730780250.22", t) for t in ("ringing", "answered", "hangup")],
        )
        self.assertIsNone(reports[0])
        self.assertIsInstance(reports[1], AmiError)
        self.assertIn("closed the AMI connection", str(reports[1]))
        self.assertIsNone(reports[2])

    def test_a_call_cut_by_the_drop_is_left_to_the_cdr(self):
        messages = AmiStream(TZ).ring_group(T0, "1730780250.23", "89161234567")
        server = self.server()
        listener, applied, _reports, _finish = self.start(server, backoff=(0.1,))
        wait_for(lambda: server.listening_sessions == 1)
        server.send(messages[:6])  # rings, then the PBX restarts
        wait_for(lambda: len(applied) == 2)
        server.drop()
        wait_for(lambda: listener.sessions == 2 and server.listening_sessions == 1)
        server.send(messages[6:])
        server.send(AmiStream(TZ).internal(T0, "1730780250.24"))
        wait_for(lambda: [e["type"] for e in applied][-1:] == ["hangup"])
        self.assertEqual({e["call_id"] for e in applied[2:]}, {"1730780250.24"})

    def test_a_refused_login_is_reported_and_tried_again_later(self):
        server = self.server()
        _listener, applied, reports, finish = self.start(
            server, secret="wrong", backoff=(0.2, 0.4)
        )
        time.sleep(1)
        finish()
        self.assertEqual(applied, [])
        self.assertTrue(reports)
        self.assertTrue(all(isinstance(report, AmiError) for report in reports))
        self.assertIn("refused the AMI login of odoo", str(reports[0]))
        logins = [a for a in server.actions if a["Action"] == "Login"]
        self.assertLessEqual(len(logins), 4, "it waits between attempts")

    def test_events_the_sink_cannot_take_yet_are_kept_in_order(self):
        messages = AmiStream(TZ).ring_group(
            T0, "1730780250.25", "89161234567", answered_by="101"
        )
        failures, applied = [2], []

        def sink(events):
            if failures[0]:
                failures[0] -= 1
                raise RuntimeError("database restarting")
            applied.extend(events)

        server = self.server()
        self.start(server, sink=sink)
        wait_for(lambda: server.listening_sessions == 1)
        server.send(messages)
        wait_for(lambda: [e["type"] for e in applied][-1:] == ["hangup"])
        expected, _tracker = live_events(messages)
        self.assertEqual(
            [(e["type"], e.get("rang_extensions")) for e in applied],
            [(e["type"], e["rang_extensions"] or None) for e in expected],
        )

    def test_a_burst_is_applied_in_one_go(self):
        # Five phones of a ring group start ringing at once, in one burst:
        # their five ringing events reach the sink together.
        messages = AmiStream(TZ).ring_group(
            T0, "1730780250.26", "89161234567", answered_by="103"
        )
        ringing_burst = [m for m in messages if m["Event"] != "DialEnd"][:11]
        batches = []
        server = self.server()
        self.start(server, sink=lambda events: batches.append(list(events)))
        wait_for(lambda: server.listening_sessions == 1)
        server.send(ringing_burst)
        wait_for(lambda: sum(map(len, batches)) == 5)
        self.assertEqual(len(batches), 1, batches)
        self.assertEqual([e["type"] for e in batches[0]], ["ringing"] * 5)

    def test_a_large_burst_goes_to_the_sink_in_bounded_batches(self):
        messages = AmiStream(TZ).ring_group(
            T0, "1730780250.27", "89161234567", answered_by="103"
        )
        batches = []
        server = self.server()
        self.start(
            server, sink=lambda events: batches.append(list(events)), batch_size=3
        )
        wait_for(lambda: server.listening_sessions == 1)
        server.send(messages)
        wait_for(lambda: sum(map(len, batches)) == 7)
        self.assertLessEqual(max(map(len, batches)), 3)
        self.assertEqual(
            [e["type"] for batch in batches for e in batch],
            ["ringing"] * 5 + ["answered", "hangup"],
        )

    def test_an_idle_session_is_checked_with_a_ping(self):
        server = self.server()
        self.start(server, ping_seconds=0.2)
        wait_for(lambda: any(a["Action"] == "Ping" for a in server.actions), 5)


@tagged("post_install", "-at_install")
class TestAmiIngestion(TransactionCase):
    """Live AMI events and the CDR row of the same call make one call."""

    def test_the_cdr_row_lands_on_the_live_call(self):
        connection, _token = make_connection(self.env, name="FreePBX AMI")
        Call = self.env["pbx.call"]
        for name, rows, messages in scenarios():
            with self.subTest(name):
                live, _tracker = live_events(messages)
                Call._ingest_events(connection, live)
                (cdr_event,), _problems = fold_rows(rows, TZ)
                accepted, _dups, calls = Call._ingest_events(connection, [cdr_event])
                self.assertEqual(accepted, 1)
                same = Call.search(
                    [
                        ("connection_id", "=", connection.id),
                        ("external_id", "=", cdr_event["call_id"]),
                    ]
                )
                self.assertEqual(same, calls, "one call, not two")
                self.assertEqual(same.state, "done")
                self.assertEqual(same.disposition, cdr_event["disposition"])
                self.assertEqual(same.talk_seconds, cdr_event["talk_seconds"])
