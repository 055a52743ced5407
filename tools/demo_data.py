"""Realistic clinic data for the demo: patients, calls, Calltouch records and
Callmarker results.

Plain Python and deterministic for a given seed; used by the demo data
(models/pbx_demo.py), the PBX simulator and the benchmarks. Everything is
produced in the wire format it arrives in (Event API v1 events, Calltouch's
and Callmarker's JSON), so the demo enters Odoo through the same parsers and
methods as a real clinic's data.

``create_reception_users`` is the one exception that takes an environment:
the receptionists the benchmarks and the end-to-end tests log in as.
"""

import random
from datetime import timedelta

from odoo.fields import Command

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
# The numbers the demo clinic publishes (demo/clinic_pbx_demo.xml): of ten
# incoming calls, five dial the main number, two the 2GIS card's, two the
# Yandex Maps card's and one the flyers'.
PUBLISHED_DIDS = [CLINIC_DID] * 5 + [
    "+7 495 777-00-01",
    "+7 495 777-00-01",
    "+7 495 777-00-02",
    "+7 495 777-00-02",
    "+7 495 777-00-03",
]
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
                did = PUBLISHED_DIDS[counter % len(PUBLISHED_DIDS)]
                event.update(
                    {
                        "from": outside,
                        "to": did,
                        "did": did,
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


# --- Callmarker ------------------------------------------------------------

INTENTS = {
    "Booking": "Booked a %s appointment for the patient.",
    "Reschedule": "Moved the patient's %s appointment to another day.",
    "Price question": "Explained the price of a %s visit.",
    "Test results": "Told the patient when the %s results will be ready.",
    "Complaint": "The patient complained about waiting for %s.",
}
OUTCOMES = {
    "Booking": ["Appointment made", "Appointment made", "Call back later"],
    "Reschedule": ["Appointment made", "Call back later"],
    "Price question": ["Information given", "Appointment made"],
    "Test results": ["Information given"],
    "Complaint": ["Not resolved", "Call back later"],
}
SERVICES = {
    "Dentistry": "dentistry",
    "Cardiology": "cardiology",
    "Paediatrics": "paediatrics",
    "Lab tests": "lab tests",
    "MRI": "MRI",
}
CHECKLIST = [
    ("Greeted with the clinic's name", 1),
    ("Asked for the patient's name", 1),
    ("Checked the patient's record", 1),
    ("Offered the nearest slot", 2),
    ("Confirmed date and time", 2),
    ("Said goodbye politely", 1),
]


def _iso_utc(moment):
    return moment.replace(microsecond=0).isoformat() + "Z"


def callmarker_results(calls, seed=11, share=0.75):
    """Callmarker's raw results for ``calls``: dicts {id, ended_at} (naive UTC)."""
    rnd = random.Random(seed)
    results = []
    for call in calls:
        if rnd.random() > share:
            continue
        intent = rnd.choices(list(INTENTS), weights=[5, 2, 3, 2, 1])[0]
        outcome = rnd.choice(OUTCOMES[intent])
        service = rnd.choice(list(SERVICES))
        careful = rnd.random()
        checklist = [
            {
                "criterion": criterion,
                "passed": rnd.random() < 0.55 + careful * 0.45,
                "weight": weight,
            }
            for criterion, weight in CHECKLIST
        ]
        total = sum(item["weight"] for item in checklist)
        earned = sum(item["weight"] for item in checklist if item["passed"])
        score = max(0, min(100, round(100 * earned / total + rnd.uniform(-6, 6))))
        tags = [
            {"category": "Intent", "name": intent, "source": "auto"},
            {"category": "Outcome", "name": outcome, "source": "auto"},
            {"category": "Service", "name": service, "source": "auto"},
        ]
        results.append(
            {
                "call_id": str(call["id"]),
                "analyzed_at": _iso_utc(call["ended_at"] + timedelta(minutes=12)),
                "tags": tags,
                "score": {"value": score, "max": 100},
                "checklist": checklist,
                "summary": INTENTS[intent] % SERVICES[service],
            }
        )
    return results


# --- Calltouch -------------------------------------------------------------

# (utmSource, utmMedium, utmCampaign, landing page)
CALLTOUCH_SOURCES = [
    ("yandex", "cpc", "implants_msk", "https://clinic.example/implants"),
    ("google", "organic", None, "https://clinic.example/"),
    ("(direct)", "(none)", None, "https://clinic.example/contacts"),
    ("vk", "social", "spring_checkup", "https://clinic.example/checkup"),
    ("yandex", "cpc", "caries_msk", "https://clinic.example/caries"),
]
CALLTOUCH_TAGS = [["New patient"], ["Returning patient"], ["Booked a visit"], []]
CALLTOUCH_REQUESTERS = [
    ("Dmitry Kuznetsov", "79035550101", "d.kuznetsov@example.com"),
    ("Alina Lebedeva", "79265550202", None),
    ("Pavel Morozov", "79775550303", "pavel.morozov@example.com"),
]


def calltouch_calls(calls, seed=11):
    """Calltouch's calls diary records of PBX ``calls``: dicts {start (aware
    or UTC datetime), number (E.164), talk_seconds, answered}; Calltouch's
    clock drifts up to 90 s from the PBX's."""
    rnd = random.Random(seed)
    records = []
    for index, call in enumerate(calls):
        source, medium, campaign, page = CALLTOUCH_SOURCES[
            index % len(CALLTOUCH_SOURCES)
        ]
        names = CALLTOUCH_TAGS[index % len(CALLTOUCH_TAGS)]
        records.append(
            {
                "callId": 418800000 + index,
                "timestamp": int(call["start"].timestamp()) + rnd.randint(-90, 90),
                "callerNumber": call["number"].lstrip("+"),
                "phoneNumber": "74951234500",
                "duration": call["talk_seconds"],
                "successful": call["answered"],
                "uniqueCall": index % 3 == 0,
                "targetCall": call["talk_seconds"] > 30,
                "utmSource": source,
                "utmMedium": medium,
                "utmCampaign": campaign or "<не указано>",
                "utmTerm": "dentist near me" if medium == "cpc" else None,
                "url": page,
                "callTags": [{"category": "Category", "type": "MANUAL", "names": names}]
                if names
                else [],
            }
        )
    return records


def calltouch_requests(now):
    """Calltouch's requests journal: three web requests of the last days."""
    records = []
    for index, (name, phone, email) in enumerate(CALLTOUCH_REQUESTERS):
        source, medium, campaign, page = CALLTOUCH_SOURCES[(0, 1, 3)[index]]
        records.append(
            {
                "requestId": 55120000 + index,
                "subject": "Consultation booking",
                "date": int((now.timestamp() - 3600 * (5 + 20 * index)) * 1000),
                "requestUrl": page + "#booking",
                "targetRequest": True,
                "client": {
                    "fio": name,
                    "phones": [{"phoneNumber": phone}],
                    "contacts": [{"contactType": "EMAIL", "contactValue": email}]
                    if email
                    else [],
                },
                "session": {
                    "url": page,
                    "utmSource": source,
                    "utmMedium": medium,
                    "utmCampaign": campaign,
                },
                "RequestTags": [
                    {"category": "Type", "type": "MANUAL", "names": ["Consultation"]}
                ],
            }
        )
    return records


def create_reception_users(env, users, password=None):
    """Create one internal PBX User per ``(name, login, extension)`` of
    ``users``, all with ``password`` when given; returns the new users."""
    groups = [
        env.ref("base.group_user").id,
        env.ref("clinic_pbx.clinic_pbx_group_user").id,
    ]
    extra = {"password": password} if password else {}
    return env["res.users"].create(
        [
            {
                "name": name,
                "login": login,
                "pbx_extension": extension,
                "groups_id": [Command.set(groups)],
                **extra,
            }
            for name, login, extension in users
        ]
    )
