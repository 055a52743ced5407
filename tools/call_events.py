"""Event API v1: validation of incoming events and folding them into a call.

Plain Python, no ORM. ``validate_batch`` turns the JSON body into clean event
dicts or a list of errors; ``merge_events`` folds any set of events of one
call into the call's state. Folding is order independent: each part of the
state (who/when it started, when it was answered, how it ended) is taken from
one winning event chosen by a total order, so the same events give the same
call whatever order and however often they arrive.
"""

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone

from .recording_fetch import has_control_characters, url_problem

EVENT_TYPES = ("ringing", "answered", "hangup", "cdr")
DIRECTIONS = ("incoming", "outgoing", "internal")
DISPOSITIONS = ("answered", "no_answer", "busy", "failed")
MAX_EVENTS = 1000
MAX_BODY_BYTES = 1024 * 1024
MAX_CALL_ID = 128
MAX_NUMBER = 64
MAX_EXTENSION = 32
MAX_URL = 2048
MAX_SECONDS = 7 * 24 * 3600
MAX_REVISION = 999999
# Extensions a call keeps as "rang" (a queue re-ringing its agents for an hour
# must not grow one call without end): the first ones in sort order.
MAX_RANG_EXTENSIONS = 200
MIN_YEAR, MAX_YEAR = 2000, 2100  # far years overflow the durations added later
# A number as people and PBXs write it, or a dialplan word the PBX gives when
# there is no number (anonymous, s, vmu101). Neither can become a formula in
# a spreadsheet export.
NUMBER = re.compile(r"[0-9+*#() .-]+|[A-Za-z][A-Za-z0-9_-]*", re.ASCII)
NUMBER_MESSAGE = "must be a number (digits, spaces and + * # ( ) . -) or a word"

REQUIRED = {
    "ringing": ("direction", "from", "to", "extension"),
    "answered": ("extension",),
    "hangup": ("disposition", "talk_seconds", "wait_seconds"),
    "cdr": ("direction", "from", "to", "disposition", "talk_seconds", "wait_seconds"),
}


class EventError(Exception):
    """One problem in one event: ``index`` in the batch and the ``field``."""

    def __init__(self, index, field, message):
        super().__init__(message)
        self.index = index
        self.field = field
        self.message = message

    def as_dict(self):
        return {"index": self.index, "field": self.field, "message": self.message}


def parse_time(value):
    """ISO 8601 with an offset -> naive UTC datetime, or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            return None
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    return moment


def _text(event, key, index, limit, errors, required, number=False):
    value = event.get(key)
    if value is None or value == "":
        if required:
            errors.append(EventError(index, key, "is required"))
        return None
    if not isinstance(value, str):
        errors.append(EventError(index, key, "must be a string"))
        return None
    value = value.strip()
    if len(value) > limit:
        errors.append(EventError(index, key, f"is longer than {limit} characters"))
        return None
    if required and not value:
        errors.append(EventError(index, key, "is required"))
        return None
    # A NUL cannot be stored (500), and a line break or a bidi override
    # would garble every screen and export the value reaches.
    if has_control_characters(value):
        errors.append(EventError(index, key, "must not contain control characters"))
        return None
    if number and value and not NUMBER.fullmatch(value):
        errors.append(EventError(index, key, NUMBER_MESSAGE))
        return None
    return value or None


def _seconds(event, key, index, errors, required):
    value = event.get(key)
    if value is None:
        if required:
            errors.append(EventError(index, key, "is required"))
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(EventError(index, key, "must be an integer"))
        return 0
    if not 0 <= value <= MAX_SECONDS:
        errors.append(EventError(index, key, f"must be between 0 and {MAX_SECONDS}"))
        return 0
    return value


def _choice(event, key, index, choices, errors, required):
    value = event.get(key)
    if value is None:
        if required:
            errors.append(EventError(index, key, "is required"))
        return None
    if value not in choices:
        errors.append(EventError(index, key, "must be one of " + ", ".join(choices)))
        return None
    return value


def validate_event(index, event):
    """Clean copy of one raw event, or raise EventError for its first problem."""
    if not isinstance(event, dict):
        raise EventError(index, None, "must be an object")
    errors = []
    etype = _choice(event, "type", index, EVENT_TYPES, errors, True)
    if errors:
        raise errors[0]
    required = REQUIRED[etype]
    call_id = _text(event, "call_id", index, MAX_CALL_ID, errors, True)
    moment = None
    if "time" not in event or event.get("time") in (None, ""):
        errors.append(EventError(index, "time", "is required"))
    else:
        moment = parse_time(event.get("time"))
        if moment is None:
            errors.append(
                EventError(
                    index,
                    "time",
                    "must be ISO 8601 with a UTC offset, years 2000 to 2100",
                )
            )
    clean = {
        "type": etype,
        "call_id": call_id,
        "time": moment,
        "direction": _choice(
            event, "direction", index, DIRECTIONS, errors, "direction" in required
        ),
        "from": _text(
            event, "from", index, MAX_NUMBER, errors, "from" in required, True
        ),
        "to": _text(event, "to", index, MAX_NUMBER, errors, "to" in required, True),
        "extension": _text(
            event, "extension", index, MAX_EXTENSION, errors, "extension" in required
        ),
        "disposition": _choice(
            event,
            "disposition",
            index,
            DISPOSITIONS,
            errors,
            "disposition" in required,
        ),
        "talk_seconds": _seconds(
            event, "talk_seconds", index, errors, "talk_seconds" in required
        ),
        "wait_seconds": _seconds(
            event, "wait_seconds", index, errors, "wait_seconds" in required
        ),
        "recording_url": _text(event, "recording_url", index, MAX_URL, errors, False),
        "did": _text(event, "did", index, MAX_NUMBER, errors, False, True),
    }
    url = clean["recording_url"]
    problem = url and url_problem(url)
    if problem:
        errors.append(EventError(index, "recording_url", problem))
    rang = event.get("rang_extensions")
    clean["rang_extensions"] = []
    if rang is not None:
        if not isinstance(rang, list) or len(rang) > 100:
            errors.append(
                EventError(index, "rang_extensions", "must be a list of extensions")
            )
        else:
            for ext in rang:
                if (
                    not isinstance(ext, str)
                    or not ext.strip()
                    or len(ext) > MAX_EXTENSION
                    or has_control_characters(ext.strip())
                ):
                    errors.append(
                        EventError(
                            index, "rang_extensions", "must be a list of extensions"
                        )
                    )
                    break
            else:
                clean["rang_extensions"] = sorted({ext.strip() for ext in rang})
    revision = event.get("revision")
    if revision is not None:
        if (
            isinstance(revision, bool)
            or not isinstance(revision, int)
            or not 0 <= revision <= MAX_REVISION
        ):
            errors.append(
                EventError(
                    index, "revision", f"must be an integer from 0 to {MAX_REVISION}"
                )
            )
        elif revision:
            # Only when given, so that events without it keep their fingerprint.
            clean["revision"] = revision
    if errors:
        raise errors[0]
    clean["fingerprint"] = fingerprint(clean)
    return clean


def validate_batch(body):
    """(events, errors) for a decoded JSON body; ``events`` is empty on errors."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return [], [EventError(None, "events", 'the body must be {"events": [...]}')]
    raw_events = body["events"]
    if len(raw_events) > MAX_EVENTS:
        return [], [
            EventError(None, "events", f"at most {MAX_EVENTS} events per request")
        ]
    events, errors = [], []
    for index, raw in enumerate(raw_events):
        try:
            events.append(validate_event(index, raw))
        except EventError as error:
            errors.append(error)
    if errors:
        return [], errors
    return events, []


def fingerprint(event):
    """Stable digest of what an event says (its identity for replays)."""
    payload = {
        key: (value.isoformat() if isinstance(value, datetime) else value)
        for key, value in event.items()
        if key != "fingerprint"
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _event_end(event):
    return event["time"] + timedelta(
        seconds=event["wait_seconds"] + event["talk_seconds"]
    )


def merge_events(state, events):
    """Fold ``events`` (clean events of one call) into ``state``.

    ``state`` is the dict stored on the call (empty for a new call); returns
    the new full state. Each winner key is a string whose order decides:
    the smallest header and answer key win, the largest end key wins, a CDR
    beats live events for all three, and of two CDRs the higher ``revision``
    (a later, fuller reading of the call) wins.
    """
    new = dict(state)
    for event in events:
        etype, moment, fp = event["type"], event["time"], event["fingerprint"]
        revision = event.get("revision", 0)
        if etype in ("ringing", "cdr"):
            if etype == "cdr":
                key = "0|%06d|%s|%s" % (MAX_REVISION - revision, _iso(moment), fp)
            else:
                key = "1|%s|%s" % (_iso(moment), fp)
            rang = event["rang_extensions"]
            if not rang and etype == "ringing" and event["extension"]:
                rang = [event["extension"]]
            # Every phone that rang, whichever event said so first: a queue or
            # a transfer rings more phones after the call began.
            rang = sorted(set(new.get("rang_extensions") or []) | set(rang))
            new["rang_extensions"] = rang[:MAX_RANG_EXTENSIONS]
            if not new.get("header_key") or key < new["header_key"]:
                new.update(
                    header_key=key,
                    start=moment,
                    direction=event["direction"],
                    src=event["from"],
                    dst=event["to"],
                    did=event["did"],
                    extension=event["extension"],
                )
        answered_at = None
        if etype == "answered":
            answered_at, rank = moment, "1"
        elif etype == "cdr" and event["disposition"] == "answered":
            answered_at = moment + timedelta(seconds=event["wait_seconds"])
            rank = "0|%06d" % (MAX_REVISION - revision)
        if answered_at is not None:
            key = "%s|%s|%s" % (rank, _iso(answered_at), fp)
            if not new.get("answer_key") or key < new["answer_key"]:
                new.update(
                    answer_key=key,
                    answered_at=answered_at,
                    answer_extension=event["extension"],
                )
        if etype in ("hangup", "cdr"):
            if etype == "cdr":
                key = "1|%06d|%s|%s" % (revision, _iso(_event_end(event)), fp)
            else:
                key = "0|%s|%s" % (_iso(moment), fp)
            end = _event_end(event) if etype == "cdr" else moment
            if not new.get("end_key") or key > new["end_key"]:
                new.update(
                    end_key=key,
                    ended_at=end,
                    disposition=event["disposition"],
                    talk_seconds=event["talk_seconds"],
                    wait_seconds=event["wait_seconds"],
                    end_extension=event["extension"],
                    end_recording_url=event["recording_url"],
                )
        elif event["recording_url"]:
            url = event["recording_url"]
            if not new.get("live_recording_url") or url < new["live_recording_url"]:
                new["live_recording_url"] = url
    return _derive(new)


def _derive(state):
    """Fill the call's visible values from the winners."""
    if state.get("end_key"):
        state["state"] = "done"
    elif state.get("answer_key"):
        state["state"] = "talking"
    else:
        state["state"] = "ringing"
    if not state.get("header_key"):
        # Only answered/hangup events so far: place the call where they say.
        if state.get("answered_at"):
            state["start"] = state["answered_at"] - timedelta(
                seconds=state.get("wait_seconds") or 0
            )
        elif state.get("ended_at"):
            state["start"] = state["ended_at"] - timedelta(
                seconds=(state.get("wait_seconds") or 0)
                + (state.get("talk_seconds") or 0)
            )
    if state["state"] != "done":
        state["disposition"] = None
        state["talk_seconds"] = 0
        state["wait_seconds"] = 0
        if state.get("answered_at") and state.get("start"):
            state["wait_seconds"] = max(
                0, int((state["answered_at"] - state["start"]).total_seconds())
            )
    if state["state"] == "done" and state.get("disposition") != "answered":
        state["answered_extension"] = None
    else:
        state["answered_extension"] = state.get("answer_extension") or state.get(
            "end_extension"
        )
    state["recording_url"] = state.get("end_recording_url") or state.get(
        "live_recording_url"
    )
    return state
