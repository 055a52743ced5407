#!/usr/bin/env python3
"""PBX simulator: plays realistic calls against the clinic_pbx event API.

Plain Python with ``requests`` (no Odoo), so it runs from any machine that
can reach Odoo, like a real PBX would::

    python3 scripts/pbx_simulator.py --url http://localhost:8069 --token TOKEN \\
        ring --extension 101 --from "+7 916 123-45-67"
    python3 scripts/pbx_simulator.py answer --call-id sim-… --extension 101
    python3 scripts/pbx_simulator.py hangup --call-id sim-… [--missed]
    python3 scripts/pbx_simulator.py answered --extension 101 --ring-seconds 8
    python3 scripts/pbx_simulator.py missed --extension 101 --ring-seconds 20
    python3 scripts/pbx_simulator.py burst --calls 200 --concurrency 10

``--url``, ``--token`` and ``--from`` default to $PBX_URL, $PBX_TOKEN and
$PBX_FROM. ``--speed 0`` plays a scenario without waiting (the event times
still say how long each part lasted). See docs/popups.md.
"""

# pylint: disable=print-used
# (a command-line tool: it prints what it does)

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import requests

CLINIC_LINE = "+7 495 123-45-00"
MOBILE_PREFIXES = ("903", "915", "916", "925", "926", "977", "985")


class SimulatorError(Exception):
    """The event API refused a batch (status and its answer)."""


class EventApi:
    """POST /pbx/v1/events with a bearer token, as a PBX does."""

    def __init__(self, url, token, session=None, timeout=10):
        self.endpoint = url.rstrip("/") + "/pbx/v1/events"
        self.token = token
        self.session = session or requests.Session()
        self.timeout = timeout

    def post(self, events):
        response = self.session.post(
            self.endpoint,
            data=json.dumps({"events": events}),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
            },
            timeout=self.timeout,
        )
        if response.status_code != 200:
            raise SimulatorError(
                f"the event API answered {response.status_code}: {response.text[:500]}"
            )
        return response.json()


class Clock:
    """PBX time of the scenario; waits ``seconds * speed`` in real time."""

    def __init__(self, speed=1.0, sleep=time.sleep, start=None):
        self.speed = speed
        self.sleep = sleep
        self.now = start or datetime.now(timezone.utc)

    def wait(self, seconds):
        if self.speed > 0 and seconds > 0:
            self.sleep(seconds * self.speed)
        self.now += timedelta(seconds=seconds)

    def iso(self):
        return self.now.isoformat(timespec="milliseconds")


class SimulatedCall:
    """Events of one incoming call, in Event API v1 form."""

    def __init__(
        self,
        caller,
        extension,
        call_id=None,
        rang_extensions=None,
        line=CLINIC_LINE,
        clock=None,
    ):
        self.call_id = call_id or f"sim-{uuid.uuid4().hex[:16]}"
        self.caller = caller
        self.extension = extension
        self.rang_extensions = rang_extensions
        self.line = line
        self.clock = clock or Clock()
        self.rang_at = None
        self.answered_at = None

    def ringing(self):
        self.rang_at = self.clock.now
        event = {
            "type": "ringing",
            "call_id": self.call_id,
            "time": self.clock.iso(),
            "direction": "incoming",
            "from": self.caller,
            "to": self.line,
            "did": self.line,
            "extension": self.extension,
        }
        if self.rang_extensions:
            event["rang_extensions"] = list(self.rang_extensions)
        return event

    def answered(self, extension=None):
        self.answered_at = self.clock.now
        return {
            "type": "answered",
            "call_id": self.call_id,
            "time": self.clock.iso(),
            "extension": extension or self.extension,
        }

    def hangup(self):
        end = self.clock.now
        start = self.rang_at or end
        if self.answered_at:
            wait = self.answered_at - start
            talk = end - self.answered_at
            disposition = "answered"
        else:
            wait, talk, disposition = end - start, timedelta(0), "no_answer"
        return {
            "type": "hangup",
            "call_id": self.call_id,
            "time": self.clock.iso(),
            "disposition": disposition,
            "talk_seconds": int(talk.total_seconds()),
            "wait_seconds": int(wait.total_seconds()),
        }


def random_mobile(rnd=random):
    digits = rnd.choice(MOBILE_PREFIXES) + "".join(
        str(rnd.randint(0, 9)) for _ in range(7)
    )
    return f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


# ----------------------------------------------------------------------
# Scenarios: each posts its events in order and returns the call.
# ----------------------------------------------------------------------


def _send(api, event, log):
    answer = api.post([event])
    log(f"{event['type']:<9} {event['call_id']}  → {answer}")
    return answer


def scenario_ring(api, call, log=print):
    """The call rings and keeps ringing (answer or hang up later)."""
    _send(api, call.ringing(), log)
    return call


def scenario_answered(
    api, call, ring_seconds=8, talk_seconds=45, answer_extension=None, log=print
):
    """Rings, is answered (on ``answer_extension``), talks, hangs up."""
    _send(api, call.ringing(), log)
    call.clock.wait(ring_seconds)
    _send(api, call.answered(answer_extension), log)
    call.clock.wait(talk_seconds)
    _send(api, call.hangup(), log)
    return call


def scenario_missed(api, call, ring_seconds=20, log=print):
    """Rings until the caller gives up."""
    _send(api, call.ringing(), log)
    call.clock.wait(ring_seconds)
    _send(api, call.hangup(), log)
    return call


def scenario_burst(
    api,
    calls=100,
    concurrency=10,
    extensions=("101",),
    seed=None,
    speed=0.0,
    log=print,
):
    """Many calls at once, answered or missed at random (load).

    Returns {"calls", "events", "errors", "p50_ms", "p95_ms", "max_ms"}, the
    times being those of the event API's answers.
    """
    rnd = random.Random(seed)
    plans = [
        (
            random_mobile(rnd),
            rnd.choice(extensions),
            rnd.random() < 0.8,
            rnd.randint(2, 25),
            rnd.randint(10, 300),
        )
        for _ in range(calls)
    ]
    timings, errors = [], []
    lock = threading.Lock()

    class TimedApi:
        def post(self, events):
            started = time.perf_counter()
            try:
                return api.post(events)
            finally:
                with lock:
                    timings.append(time.perf_counter() - started)

    timed = TimedApi()

    def play(plan):
        caller, extension, answer, ring_s, talk_s = plan
        call = SimulatedCall(caller, extension, clock=Clock(speed))
        try:
            if answer:
                scenario_answered(timed, call, ring_s, talk_s, log=lambda _m: None)
            else:
                scenario_missed(timed, call, ring_s, log=lambda _m: None)
        except (SimulatorError, requests.RequestException) as error:
            with lock:
                errors.append(str(error))

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(play, plans))
    ms = sorted(t * 1000 for t in timings)
    result = {
        "calls": calls,
        "events": len(ms),
        "errors": len(errors),
        "p50_ms": round(statistics.median(ms), 1) if ms else None,
        "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 1) if ms else None,
        "max_ms": round(ms[-1], 1) if ms else None,
    }
    log(f"burst: {result}")
    for error in errors[:5]:
        log(f"  error: {error}")
    return result


# ----------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        description="Play PBX calls against the clinic_pbx event API."
    )
    parser.add_argument("--url", default=os.environ.get("PBX_URL"))
    parser.add_argument("--token", default=os.environ.get("PBX_TOKEN"))
    parser.add_argument(
        "--speed",
        type=float,
        help="real seconds per scenario second (0: do not wait; default 1, "
        "and 0 for burst)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def call_args(p):
        p.add_argument("--extension", default="101", help="extension that rings")
        p.add_argument(
            "--from",
            dest="caller",
            default=os.environ.get("PBX_FROM"),
            help="caller's number as the PBX gives it (default: $PBX_FROM or random)",
        )
        p.add_argument(
            "--rang",
            nargs="*",
            help="every extension that rings (a ring group), e.g. --rang 101 102",
        )
        p.add_argument("--call-id", help="the PBX's call id (default: random)")

    p = sub.add_parser("ring", help="ring an extension and leave it ringing")
    call_args(p)
    p = sub.add_parser("answered", help="ring, answer, talk, hang up")
    call_args(p)
    p.add_argument("--ring-seconds", type=int, default=8)
    p.add_argument("--talk-seconds", type=int, default=45)
    p.add_argument("--answer-extension", help="extension that answers")
    p = sub.add_parser("missed", help="ring until the caller hangs up")
    call_args(p)
    p.add_argument("--ring-seconds", type=int, default=20)
    p = sub.add_parser("answer", help="answer a call that rings")
    p.add_argument("--call-id", required=True)
    p.add_argument("--extension", default="101")
    p = sub.add_parser("hangup", help="end a call (answered unless --missed)")
    p.add_argument("--call-id", required=True)
    p.add_argument("--missed", action="store_true")
    p.add_argument("--talk-seconds", type=int, default=0)
    p.add_argument("--wait-seconds", type=int, default=0)
    p = sub.add_parser("burst", help="many calls at once (load)")
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--extensions", nargs="+", default=["101"])
    p.add_argument("--seed", type=int)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not args.url or not args.token:
        sys.exit("pbx_simulator: give --url and --token (or $PBX_URL and $PBX_TOKEN)")
    api = EventApi(args.url, args.token)
    speed = (
        args.speed
        if args.speed is not None
        else (0.0 if args.command == "burst" else 1.0)
    )
    clock = Clock(speed)
    call = None
    try:
        if args.command == "burst":
            result = scenario_burst(
                api,
                args.calls,
                args.concurrency,
                tuple(args.extensions),
                args.seed,
                speed=speed,
            )
            return 1 if result["errors"] else 0
        if args.command in ("answer", "hangup"):
            event = {"call_id": args.call_id, "time": clock.iso()}
            if args.command == "answer":
                event.update(type="answered", extension=args.extension)
            else:
                event.update(
                    type="hangup",
                    disposition="no_answer" if args.missed else "answered",
                    talk_seconds=0 if args.missed else args.talk_seconds,
                    wait_seconds=args.wait_seconds,
                )
            _send(api, event, print)
            return 0
        call = SimulatedCall(
            args.caller or random_mobile(),
            args.extension,
            call_id=args.call_id,
            rang_extensions=args.rang,
            clock=clock,
        )
        if args.command == "ring":
            scenario_ring(api, call)
            print(
                f"ringing {call.extension} from {call.caller}; call id {call.call_id}"
            )
        elif args.command == "answered":
            print(
                f"ringing {call.extension} from {call.caller} for {args.ring_seconds} s"
            )
            scenario_answered(
                api, call, args.ring_seconds, args.talk_seconds, args.answer_extension
            )
        elif args.command == "missed":
            print(
                f"ringing {call.extension} from {call.caller} for {args.ring_seconds} s"
            )
            scenario_missed(api, call, args.ring_seconds)
    except (SimulatorError, requests.RequestException) as error:
        sys.exit(f"pbx_simulator: {error}")
    except KeyboardInterrupt:
        # Do not leave a call ringing on screens.
        if call is not None and call.rang_at is not None:
            try:
                _send(api, call.hangup(), print)
            except (SimulatorError, requests.RequestException) as error:
                print(f"pbx_simulator: could not hang up {call.call_id}: {error}")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
