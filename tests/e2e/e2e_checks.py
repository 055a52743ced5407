"""What the end-to-end tests check after their traffic, and how they report it.

Each ``check_*`` returns its problems as sentences, so that a failing run
says everything that went wrong at once.
"""

import collections

import event_relay

from odoo.addons.clinic_pbx.tools.call_events import merge_events, validate_batch


def _clean_events(call):
    """The call's events as the API validates them (with fingerprints)."""
    events, errors = validate_batch({"events": [event for _at, event in call.posts]})
    assert not errors, errors
    return events


def _expected_extension(call):
    """The call's extension as the API folds all its events at once."""
    return merge_events({}, _clean_events(call))["extension"]


def _final_calls(database, prefix):
    rows = database.postgres.query(
        database.name,
        """
        SELECT c.external_id, count(*) OVER (PARTITION BY c.external_id),
               c.state, c.disposition, c.talk_seconds, c.wait_seconds,
               c.answered_extension, c.extension,
               (SELECT count(*) FROM pbx_call_rang_user_rel r WHERE r.call_id = c.id)
        FROM pbx_call c
        WHERE c.connection_id = %s AND c.external_id LIKE %s
        """,
        (database.connection_id, prefix + "-%"),
    )
    found = collections.defaultdict(list)
    for row in rows:
        found[row[0]].append(row[1:])
    return found


def check_calls(database, calls, prefix):
    """Problems with the calls in the database, as sentences."""
    found = _final_calls(database, prefix)
    problems = []
    wanted = {call.call_id for call in calls}
    extra = sorted(set(found) - wanted)
    if extra:
        problems.append(f"{len(extra)} calls nobody made: {extra[:5]}")
    missing = [call.call_id for call in calls if call.call_id not in found]
    if missing:
        problems.append(f"{len(missing)} of {len(calls)} calls missing: {missing[:5]}")
    wrong = []
    for call in calls:
        rows = found.get(call.call_id)
        if not rows:
            continue
        expected = (
            1,
            "done",
            call.disposition,
            call.talk_seconds,
            call.wait_seconds,
            call.answered_by,
            _expected_extension(call),
            len(call.rang),
        )
        if len(rows) != 1 or rows[0] != expected:
            wrong.append(f"{call.call_id}: {rows} instead of [{expected}]")
    if wrong:
        problems.append(
            f"{len(wrong)} calls not once in their final state "
            "(count, state, disposition, talk, wait, answered extension, "
            "extension, users rung): " + "; ".join(wrong[:5])
        )
    return problems


def check_answers(deliveries):
    """Problems with the answers the relay got, as sentences."""
    problems = []
    attempts = [a for d in deliveries for a in d.attempts if a.status is not None]
    refused = [
        (d, a) for d in deliveries for a in d.attempts if a.status in range(400, 500)
    ]
    if refused:
        first = "; ".join(
            f"{a.status} for {d.events[0]['type'] if d.events else '[]'} "
            f"{d.events[0]['call_id'] if d.events else ''}: {a.text[:160]!r}"
            for d, a in refused[:3]
        )
        problems.append(
            f"{len(refused)} answers were 4xx, which a relay does not retry "
            f"(events lost): {first}"
        )
    not_json = [a for a in attempts if not a.is_json]
    if not_json:
        kinds = collections.Counter(a.status for a in not_json)
        problems.append(
            f"{len(not_json)} of {len(attempts)} answers were not JSON "
            f"(by status: {dict(kinds)}), e.g. {not_json[0].text[:160]!r}"
        )
    unanswered = [d for d in deliveries if not d.ok]
    if unanswered:
        problems.append(
            f"{len(unanswered)} of {len(deliveries)} posts never got a 200 "
            f"(last status: {dict(collections.Counter(d.status for d in unanswered))})"
        )
    return problems


def report(title, deliveries, extra=()):
    """Counts worth reading in the CI log, whatever the outcome."""
    statuses = collections.Counter(
        a.status if a.status is not None else "broken"
        for d in deliveries
        for a in d.attempts
    )
    first = [d.attempts[0].seconds for d in deliveries if d.attempts]
    broken = [a.text for d in deliveries for a in d.attempts if a.status is None]
    lines = [
        title,
        f"  answers by status: {dict(sorted(statuses.items(), key=str))}",
        f"  retries: {sum(d.retries for d in deliveries)} "
        f"({sum(1 for d in deliveries if d.retries)} posts needed more than one try), "
        f"503s: {statuses.get(503, 0)}, "
        f"broken connections: {statuses.get('broken', 0)}",
        f"  first try p50 {event_relay.percentile(first, 0.5) * 1000:.0f} ms, "
        f"p95 {event_relay.percentile(first, 0.95) * 1000:.0f} ms; until 200 p95 "
        f"{event_relay.percentile([d.seconds for d in deliveries], 0.95):.2f} s",
        *extra,
    ]
    if broken:
        lines.append(f"  a broken connection: {broken[0][:200]}")
    print("\n".join(lines))
    return lines


def check_receipts(database, calls):
    """Problems with the record of received events, as sentences."""
    events = [event for call in calls for event in _clean_events(call)]
    [(recorded,)] = database.postgres.query(
        database.name,
        "SELECT count(*) FROM pbx_event_receipt "
        "WHERE connection_id = %s AND fingerprint = ANY(%s)",
        (database.connection_id, [event["fingerprint"] for event in events]),
    )
    if recorded != len(events):
        return [f"{recorded} of {len(events)} events recorded as received"]
    return []
