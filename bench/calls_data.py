"""A database with a year of calls, made once and kept for the benchmarks.

The calls enter through ``pbx.call._ingest_events`` (the one ingestion
path); patients are written with COPY, their phone keys computed with the
module's own ``phone_key``.
"""

import io
import os
import random
import time
from datetime import datetime, timedelta

from odoo import Command

from odoo.addons.clinic_pbx.tools.call_events import validate_event
from odoo.addons.clinic_pbx.tools.phone import phone_key

PATIENTS = 200_000
EXTENSIONS = [str(ext) for ext in range(101, 113)]
RING_GROUP = ["101", "102", "103", "104"]
YEAR_START = datetime(2025, 11, 1)


def _mobile(n):
    return f"9{(n * 7919) % 1_000_000_000:09d}"


def _number_form(rnd, digits):
    d = digits
    return rnd.choice(
        [f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}", f"8{d}", f"7{d}", d, f"+7{d}"]
    )


def _events(count, first, rnd):
    span = 365 * 86400
    for n in range(first, first + count):
        moment = YEAR_START + timedelta(seconds=n * span / count)
        # business hours 08-20 Moscow: fold the timeline into 12 h a day
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        moment = day + timedelta(hours=5) + (moment - day) / 2
        direction = rnd.choices(["incoming", "outgoing", "internal"], [65, 30, 5])[0]
        outside = _number_form(rnd, _mobile(rnd.randrange(PATIENTS * 5 // 4)))
        disposition = rnd.choices(
            ["answered", "no_answer", "busy", "failed"], [78, 17, 3, 2]
        )[0]
        answered = disposition == "answered"
        event = {
            "type": "cdr",
            "call_id": f"year-{n:08d}",
            "time": moment.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "direction": direction,
            "disposition": disposition,
            "talk_seconds": int(rnd.expovariate(1 / 150)) + 5 if answered else 0,
            "wait_seconds": rnd.randint(1, 30) if answered else rnd.randint(10, 60),
        }
        if direction == "incoming":
            event.update(
                {
                    "from": outside,
                    "to": "+7 495 123-45-00",
                    "did": "+7 495 123-45-00",
                    "extension": rnd.choice(RING_GROUP),
                    "rang_extensions": RING_GROUP,
                }
            )
        elif direction == "outgoing":
            ext = rnd.choice(EXTENSIONS)
            event.update({"from": ext, "to": outside, "extension": ext})
        else:
            a, b = rnd.sample(EXTENSIONS, 2)
            event.update({"from": a, "to": b, "extension": b})
        yield event


def ensure_calls_db(ctx, name, count):
    """Database ``name`` with ``count`` calls (built once; BENCH_FRESH=1 rebuilds)."""
    if os.environ.get("BENCH_FRESH") != "1":
        try:
            with ctx.pg(name) as cn, cn.cursor() as cr:
                cr.execute("SELECT count(*) FROM pbx_call")
                kept = cr.fetchone()[0] >= count
        except Exception:  # noqa: BLE001 -- no such database yet
            kept = False
        if kept:
            ctx.kept.add(name)
            ctx.update_db(name)
            _vacuum(ctx, name)  # after an update that rewrote columns
            return 0.0
    ctx.create_db(name)
    ctx.kept.add(name)
    rnd = random.Random(3)
    with ctx.env(name) as env:
        ru = env.ref("base.ru")
        env.company.country_id = ru
        # The Call Log and the Calls Report read calls, not activities: a
        # year of missed calls opening Call back activities one by one would
        # make most of the build (bench_ingest measures what they cost).
        env.company.pbx_callback_assignment = "none"
        env["pbx.connection"].create({"name": "Year PBX", "country_id": ru.id})
        manager = env.ref("clinic_pbx.clinic_pbx_group_manager")
        user = env.ref("clinic_pbx.clinic_pbx_group_user")
        for index, ext in enumerate(EXTENSIONS):
            env["res.users"].create(
                {
                    "name": f"Admin {ext}",
                    "login": f"admin{ext}",
                    "password": f"admin{ext}",
                    "pbx_extension": ext,
                    "groups_id": [Command.link((manager if index == 0 else user).id)],
                }
            )
        ru_id = ru.id
    buffer = io.StringIO()
    for n in range(PATIENTS):
        mobile = _number_form(rnd, _mobile(n))
        key = phone_key(mobile, "RU") or "\\N"  # no key: NULL, as the compute stores
        buffer.write(f"Patient {n}\tt\tcontact\t{mobile}\t{key}\t{ru_id}\n")
    buffer.seek(0)
    with ctx.pg(name) as cn, cn.cursor() as cr:
        cr.copy_expert(
            "COPY res_partner (name, active, type, mobile, pbx_mobile_key, country_id) "
            "FROM STDIN",
            buffer,
        )
        cr.execute("ANALYZE res_partner")
    started = time.perf_counter()
    batch = 2000
    with ctx.env(name) as env:
        connection = env["pbx.connection"].search([], limit=1)
        Call = env["pbx.call"]
        pending = []
        for index, raw in enumerate(_events(count, 0, rnd)):
            pending.append(validate_event(index, raw))
            if len(pending) == batch:
                Call._ingest_events(connection, pending)
                env.cr.commit()
                env.invalidate_all()
                pending = []
        if pending:
            Call._ingest_events(connection, pending)
            env.cr.commit()
    _vacuum(ctx, name)
    return time.perf_counter() - started


def _vacuum(ctx, name):
    """A clinic's database is vacuumed by autovacuum in the background; the
    benchmarks measure that steady state, not the minutes right after a
    million calls were written."""
    cn = ctx.pg(name)
    cn.autocommit = True
    with cn.cursor() as cr:
        cr.execute("VACUUM ANALYZE")
    cn.close()
