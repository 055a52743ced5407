"""A relay's side of the event API, and traffic to drive it with.

Plain Python with ``requests`` (no Odoo), used by the end-to-end tests
(tests/e2e) and the load benchmark (bench/bench_load.py):

- ``EventRelay.post`` sends one batch the way a relay must (docs/deploy.md):
  a 5xx answer or a broken connection is retried, after the ``Retry-After``
  the server gave (capped) or a growing back-off, until a deadline; a 4xx is
  never retried, as sending the same request again cannot change it.
  Retrying is safe because a replayed event changes nothing.
- ``ring_traffic`` builds a PBX's live events of many calls (ring groups of
  five phones and plain calls), each event to be posted on its own at a
  given moment; ``open_loop`` posts them at those moments whatever the
  earlier posts take, as phones ring whether or not Odoo keeps up.
"""

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import requests

MAX_RETRY_AFTER = 10  # seconds: a relay waits no longer than this between tries
FIRST_BACKOFF = 0.2  # seconds, doubled after each failed try without Retry-After
MAX_BACKOFF = 5


@dataclass
class Attempt:
    """One HTTP exchange: ``status`` is None when the connection broke."""

    status: int | None
    seconds: float
    is_json: bool = False
    retry_after: str | None = None
    text: str = ""


@dataclass
class Delivery:
    """What posting one batch took, from the first try to the last."""

    events: list
    attempts: list = field(default_factory=list)
    body: dict | None = None
    seconds: float = 0.0

    @property
    def status(self):
        return self.attempts[-1].status if self.attempts else None

    @property
    def ok(self):
        return self.status == 200

    @property
    def retries(self):
        return max(0, len(self.attempts) - 1)


def _is_json(response):
    if response.headers.get("Content-Type", "").split(";")[0] != "application/json":
        return False
    try:
        response.json()
    except ValueError:
        return False
    return True


def _retry_after(value):
    """Seconds of a Retry-After header given in seconds, else None."""
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


class EventRelay:
    """POST /pbx/v1/events with a bearer token, retried as a relay must.

    ``deadline`` is how long one batch may keep being retried (0: one try
    only, as a benchmark wants it). Each thread has a session of its own.
    """

    def __init__(self, url, token, timeout=30, deadline=120, verify=True):
        self.endpoint = url.rstrip("/") + "/pbx/v1/events"
        self.headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
        }
        self.timeout = timeout
        self.deadline = deadline
        self.verify = verify
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _try(self, data):
        started = time.perf_counter()
        try:
            response = self._session().post(
                self.endpoint,
                data=data,
                headers=self.headers,
                timeout=self.timeout,
                verify=self.verify,
            )
        except requests.RequestException as error:
            # Start over on a fresh connection: the old one may be half-closed.
            self._local.session = None
            return (
                Attempt(None, time.perf_counter() - started, text=repr(error)),
                None,
            )
        attempt = Attempt(
            response.status_code,
            time.perf_counter() - started,
            is_json=_is_json(response),
            retry_after=response.headers.get("Retry-After"),
            text=response.text[:300],
        )
        return attempt, (response.json() if attempt.is_json else None)

    def post(self, events):
        """Post ``events`` as one batch until 200, a 4xx or the deadline."""
        data = json.dumps({"events": events})
        delivery = Delivery(events)
        started = time.perf_counter()
        backoff = FIRST_BACKOFF
        while True:
            attempt, body = self._try(data)
            delivery.attempts.append(attempt)
            delivery.body = body
            retryable = attempt.status is None or attempt.status >= 500
            elapsed = time.perf_counter() - started
            if not retryable or elapsed >= self.deadline:
                break
            wait = _retry_after(attempt.retry_after)
            if wait is None:
                wait, backoff = backoff, min(backoff * 2, MAX_BACKOFF)
            time.sleep(min(wait, MAX_RETRY_AFTER, max(0, self.deadline - elapsed)))
        delivery.seconds = time.perf_counter() - started
        return delivery


# ----------------------------------------------------------------------
# Traffic
# ----------------------------------------------------------------------

RING_GROUP = ("101", "102", "103", "104", "105")
DESKS = ("106", "107", "108", "109", "110")
CLINIC_LINE = "+7 495 123-45-00"
ANSWER_AFTER = 1.0  # seconds after the ring that `answered` is posted
HANGUP_AFTER = 3.0  # seconds after the ring that `hangup` is posted


@dataclass
class Call:
    """One call of the traffic and what Odoo must end up with for it."""

    call_id: str
    caller: str
    rang: tuple
    answered_by: str | None
    talk_seconds: int
    wait_seconds: int
    posts: list = field(default_factory=list)  # (seconds from start, event)

    @property
    def disposition(self):
        return "answered" if self.answered_by else "no_answer"


def caller_number(index):
    digits = f"916{index % 10_000_000:07d}"
    return f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


def make_call(index, prefix, moment, group=True, answered=True, rnd=None):
    """Call number ``index``, ringing at ``moment`` (an aware datetime).

    A ring group rings its five phones at once; otherwise one desk rings.
    ``posts`` are its events with the seconds after the ring to post them.
    """
    rnd = rnd or random.Random(index)
    rang = RING_GROUP if group else (DESKS[index % len(DESKS)],)
    wait = 4 + rnd.randrange(12) if answered else 20 + rnd.randrange(20)
    call = Call(
        call_id=f"{prefix}-{index:06d}",
        caller=caller_number(index),
        rang=rang,
        answered_by=rnd.choice(rang) if answered else None,
        talk_seconds=15 + rnd.randrange(300) if answered else 0,
        wait_seconds=wait,
    )

    def at(seconds):
        return (moment + timedelta(seconds=seconds)).isoformat(timespec="seconds")

    for extension in rang:  # every phone of the group rings at once
        call.posts.append(
            (
                0.0,
                {
                    "type": "ringing",
                    "call_id": call.call_id,
                    "time": at(0),
                    "direction": "incoming",
                    "from": call.caller,
                    "to": CLINIC_LINE,
                    "did": CLINIC_LINE,
                    "extension": extension,
                },
            )
        )
    if answered:
        call.posts.append(
            (
                ANSWER_AFTER,
                {
                    "type": "answered",
                    "call_id": call.call_id,
                    "time": at(wait),
                    "extension": call.answered_by,
                },
            )
        )
    call.posts.append(
        (
            HANGUP_AFTER,
            {
                "type": "hangup",
                "call_id": call.call_id,
                "time": at(wait + call.talk_seconds),
                "disposition": call.disposition,
                "talk_seconds": call.talk_seconds,
                "wait_seconds": wait,
            },
        )
    )
    return call


# Of six calls: two ring groups answered, one ring group missed, two calls to
# one desk answered, one missed (4.7 events a call).
_MIX = ((True, True), (True, True), (True, False), (False, True))
_MIX += ((False, True), (False, False))


def ring_traffic(rate, seconds, prefix="load", start=None, seed=13):
    """Calls whose events, posted one by one, come at ``rate`` a second.

    Calls start evenly so that the events of the calls that started within
    ``seconds`` (their last post comes HANGUP_AFTER later) average ``rate``.
    Returns the calls; ``schedule(calls)`` gives the posts in time order.
    """
    rnd = random.Random(seed)
    start = start or datetime.now(timezone.utc).replace(microsecond=0)
    calls, moment_offset, index = [], 0.0, 0
    while moment_offset < seconds - HANGUP_AFTER:
        group, answered = _MIX[index % len(_MIX)]
        moment = start + timedelta(seconds=moment_offset)
        call = make_call(index, prefix, moment, group, answered, rnd)
        call.posts = [(moment_offset + delay, event) for delay, event in call.posts]
        calls.append(call)
        moment_offset += len(call.posts) / rate
        index += 1
    return calls


def schedule(calls):
    """[(seconds from start, event)] of all calls, in time order."""
    return sorted(
        (post for call in calls for post in call.posts), key=lambda post: post[0]
    )


def open_loop(posts, send, max_in_flight=256):
    """Call ``send(item)`` for each ``(offset, item)`` at start + offset.

    Open loop: an item is sent at its moment whatever the earlier ones take
    (up to ``max_in_flight`` at once). Returns ``[(offset, lag, result)]`` in
    the order of ``posts``, ``lag`` being how late the send began.
    """
    results = [None] * len(posts)
    started = time.perf_counter()

    def run(index, offset, item):
        lag = time.perf_counter() - started - offset
        results[index] = (offset, lag, send(item))

    with ThreadPoolExecutor(max_workers=max_in_flight) as pool:
        futures = []
        for index, (offset, item) in enumerate(posts):
            delay = started + offset - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(run, index, offset, item))
        for future in futures:
            future.result()  # a failing send is a bug of the caller: show it
    return results


def percentile(values, share):
    """The ``share`` (0..1) percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, min(len(ordered), round(share * len(ordered))) - 1)]
