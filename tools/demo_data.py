"""Realistic clinic telephony data: patients and a month of calls.

Plain Python and deterministic for a given seed; used by the demo data, the
PBX simulator and the benchmarks. Calls are produced as Event API v1 events,
so they enter Odoo through the same path as a real PBX's.
"""

import random
from datetime import timedelta

FIRST_NAMES = [
    "Anna", "Maria", "Elena", "Olga", "Natalia", "Irina", "Tatiana", "Svetlana",
    "Ekaterina", "Yulia", "Daria", "Polina", "Sofia", "Alina", "Ksenia", "Vera",
    "Ivan", "Sergei", "Alexei", "Dmitry", "Andrei", "Mikhail", "Pavel", "Nikolai",
    "Vladimir", "Artem", "Maxim", "Egor", "Kirill", "Roman", "Oleg", "Denis",
]  # fmt: skip
LAST_NAMES = [
    "Ivanov", "Petrov", "Sidorov", "Smirnov", "Kuznetsov", "Popov", "Volkov",
    "Sokolov", "Lebedev", "Kozlov", "Novikov", "Morozov", "Orlov", "Pavlov",
    "Semenov", "Golubev", "Vinogradov", "Bogdanov", "Vorobiev", "Fedorov",
    "Mikhailov", "Belyaev", "Tarasov", "Belov", "Komarov", "Zaitsev", "Frolov",
]  # fmt: skip
FEMALE = set(FIRST_NAMES[:16])
MOBILE_PREFIXES = ["903", "905", "909", "915", "916", "925", "926", "965", "977", "985"]
CLINIC_DID = "+7 495 123-45-00"
RECEPTION_RING = ["101", "102"]


def _name(rnd):
    first = rnd.choice(FIRST_NAMES)
    last = rnd.choice(LAST_NAMES)
    if first in FEMALE:
        last += "a"
    return f"{first} {last}"


def _mobile_digits(rnd):
    return rnd.choice(MOBILE_PREFIXES) + "".join(
        str(rnd.randint(0, 9)) for _ in range(7)
    )


def write_number(rnd, digits10):
    """A 10-digit Russian number written the way people and PBXs write it."""
    d = digits10
    forms = [
        f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"8 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"7{d}",
        d,
        f"8({d[:3]}){d[3:]}",
        f"+7{d}",
    ]
    return rnd.choice(forms)


def patients(seed=7, count=200, families=15):
    """Patient dicts {name, phone, mobile, digits}; some families share a number."""
    rnd = random.Random(seed)
    result = []
    for _ in range(count):
        digits = _mobile_digits(rnd)
        result.append(
            {
                "name": _name(rnd),
                "mobile": write_number(rnd, digits),
                "phone": False,
                "digits": digits,
            }
        )
    # A parent's number on a child's or a spouse's record.
    for _ in range(families):
        owner = rnd.choice(result)
        first = rnd.choice(FIRST_NAMES)
        family = owner["name"].split()[-1]
        if family.endswith("a") and family[:-1] in LAST_NAMES:
            family = family[:-1]
        relative = {
            "name": f"{first} {family}{'a' if first in FEMALE else ''}",
            "mobile": False,
            "phone": write_number(rnd, owner["digits"]),
            "digits": owner["digits"],
        }
        result.append(relative)
    return result


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def month_of_calls(
    now,
    known_digits,
    seed=11,
    days=30,
    per_day=(35, 60),
    tz_offset_hours=3,
    recording_urls=(),
    call_prefix="demo",
):
    """Finished calls of the last ``days`` days as (events, claims).

    Business hours are 08:00-20:00 local time (``tz_offset_hours`` east of
    UTC). Incoming calls ring the reception ring group; about a fifth go
    unanswered and many of those are called back. ``claims`` lists
    (call_id, extension) for answered reception calls a receptionist took
    with "I'll take it".
    """
    rnd = random.Random(seed)
    events, claims = [], []
    counter = 0
    start_day = (now - timedelta(days=days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    for day in range(days + 1):
        base = start_day + timedelta(days=day)
        if base > now:
            break
        weekend = base.weekday() >= 5
        lo, hi = per_day
        count = rnd.randint(lo, hi) // (2 if weekend else 1)
        missed_today = []
        for _ in range(count):
            local_hour = rnd.choices(
                range(8, 20), weights=[3, 6, 7, 6, 5, 4, 5, 6, 5, 4, 3, 2]
            )[0]
            start = base + timedelta(
                hours=local_hour - tz_offset_hours,
                minutes=rnd.randint(0, 59),
                seconds=rnd.randint(0, 59),
            )
            if start > now - timedelta(minutes=5):
                continue
            counter += 1
            call_id = f"{call_prefix}-{counter:06d}"
            kind = rnd.choices(
                ["incoming", "outgoing", "internal"], weights=[65, 30, 5]
            )[0]
            if kind != "internal" and rnd.random() < 0.8 and known_digits:
                digits = rnd.choice(known_digits)
            else:
                digits = _mobile_digits(rnd)
            outside = write_number(rnd, digits)
            event = {
                "type": "cdr",
                "call_id": call_id,
                "time": _iso(start),
                "direction": kind,
            }
            if kind == "incoming":
                disposition = rnd.choices(
                    ["answered", "no_answer", "busy"], weights=[76, 20, 4]
                )[0]
                answered_by = rnd.choices(RECEPTION_RING, weights=[7, 3])[0]
                event.update(
                    {
                        "from": outside,
                        "to": CLINIC_DID,
                        "did": CLINIC_DID,
                        "extension": answered_by
                        if disposition == "answered"
                        else RECEPTION_RING[0],
                        "rang_extensions": RECEPTION_RING,
                    }
                )
                if disposition == "no_answer":
                    missed_today.append((start, outside, digits))
            elif kind == "outgoing":
                disposition = rnd.choices(
                    ["answered", "no_answer", "busy", "failed"], weights=[72, 18, 6, 4]
                )[0]
                event.update(
                    {
                        "from": rnd.choice(["102", "102", "103"]),
                        "to": outside,
                        "did": CLINIC_DID,
                    }
                )
                event["extension"] = event["from"]
            else:
                disposition = rnd.choices(["answered", "no_answer"], weights=[85, 15])[
                    0
                ]
                caller, callee = rnd.sample(["101", "102", "103"], 2)
                event.update({"from": caller, "to": callee, "extension": callee})
            answered = disposition == "answered"
            event.update(
                {
                    "disposition": disposition,
                    "wait_seconds": rnd.randint(2, 25)
                    if answered
                    else rnd.randint(15, 60),
                    "talk_seconds": int(rnd.expovariate(1 / 150)) + 10
                    if answered
                    else 0,
                }
            )
            if (
                answered
                and recording_urls
                and kind != "internal"
                and rnd.random() < 0.6
            ):
                event["recording_url"] = rnd.choice(recording_urls)
            if (
                answered
                and kind == "incoming"
                and event["extension"] == "101"
                and rnd.random() < 0.85
            ):
                claims.append((call_id, "101"))
            events.append(event)
        # Call back most of the day's missed callers a little later.
        for missed_start, outside, _digits in missed_today:
            if rnd.random() > 0.7:
                continue
            start = missed_start + timedelta(minutes=rnd.randint(3, 180))
            if start > now - timedelta(minutes=5):
                continue
            counter += 1
            events.append(
                {
                    "type": "cdr",
                    "call_id": f"{call_prefix}-{counter:06d}",
                    "time": _iso(start),
                    "direction": "outgoing",
                    "from": "102",
                    "to": outside,
                    "extension": "102",
                    "disposition": "answered",
                    "wait_seconds": rnd.randint(3, 15),
                    "talk_seconds": rnd.randint(30, 240),
                }
            )
    return events, claims
