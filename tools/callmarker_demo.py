"""Realistic Callmarker results for the demo calls, in the wire format.

Plain Python and deterministic for a given seed. The demo data feeds these
through the adapter's parser and the same method that stores pulled results,
so the demo shows what a connected clinic sees.
"""

import random
from datetime import timedelta

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


def _iso(moment):
    return moment.replace(microsecond=0).isoformat() + "Z"


def results_for(calls, seed=11, share=0.75):
    """Raw results for ``calls``: dicts {id, ended_at} (naive UTC)."""
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
                "analyzed_at": _iso(call["ended_at"] + timedelta(minutes=12)),
                "tags": tags,
                "score": {"value": score, "max": 100},
                "checklist": checklist,
                "summary": INTENTS[intent] % SERVICES[service],
            }
        )
    return results
