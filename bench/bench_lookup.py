"""Finding the caller: clinic_pbx's keys against Odoo's phone_mobile_search."""

import io
import random
import statistics
import time

from odoo.addons.clinic_pbx.tools.phone import phone_key

TITLE = "Caller lookup among 100k and 1M patients (numbers stored in mixed forms)"
DB = "clinic_pbx_bench_lookup"
QUERIES = 2000


def _forms(digits):
    d = digits
    return [
        f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"8 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"7{d}",
        d,
        f"8({d[:3]}){d[3:]}",
        f"+7{d}",
    ]


def _digits(n):
    # distinct 10-digit mobile numbers, spread over operators' prefixes
    return f"9{(n * 7919) % 1_000_000_000:09d}"


def _add_partners(ctx, start, stop, rnd):
    """Partners ``start``..``stop`` with a mobile in a random form, and its key.

    Written with COPY for speed; the key column gets exactly what the
    module's stored compute puts there (phone_key of the number).
    """
    buffer = io.StringIO()
    for n in range(start, stop):
        mobile = rnd.choice(_forms(_digits(n)))
        key = phone_key(mobile, "RU")
        buffer.write(f"Patient {n}\tt\tcontact\t{mobile}\t{key}\t{ctx.ru_id}\n")
    buffer.seek(0)
    with ctx.pg(DB) as cn, cn.cursor() as cr:
        cr.copy_expert(
            "COPY res_partner (name, active, type, mobile, pbx_mobile_key, country_id) "
            "FROM STDIN",
            buffer,
        )
        cr.execute("ANALYZE res_partner")


def _measure(env, population, rnd):
    Partner = env["res.partner"]
    Call = env["pbx.call"]
    company = env.company
    phone_key.cache_clear()
    wanted = [rnd.randrange(population) for _ in range(QUERIES)]
    asked = [rnd.choice(_forms(_digits(n))) for n in wanted]
    result = {}
    for name, lookup in (
        (
            "stock phone_mobile_search (=)",
            lambda q: Partner.search([("phone_mobile_search", "=", q)], limit=10).ids,
        ),
        (
            "clinic_pbx keys",
            lambda q: Call._find_contacts({phone_key(q, "RU")} - {False}, company)[0],
        ),
    ):
        timings, found = [], 0
        for query in asked:
            env.invalidate_all()
            started = time.perf_counter()
            hit = lookup(query)
            timings.append(time.perf_counter() - started)
            found += bool(hit)
        timings.sort()
        result[name] = {
            "p50 (ms)": f"{statistics.median(timings) * 1000:.2f}",
            "p99 (ms)": f"{timings[int(len(timings) * 0.99) - 1] * 1000:.2f}",
            "found": f"{found / len(asked):.0%}",
            "_p99": timings[int(len(timings) * 0.99) - 1],
        }
    return result


def run(ctx):
    ctx.create_db(DB, modules="clinic_pbx,sms")
    rnd = random.Random(5)
    with ctx.env(DB) as env:
        ctx.ru_id = env.ref("base.ru").id
        env.company.country_id = ctx.ru_id
    rows, ratios = [], []
    built = 0
    for population in (100_000, 1_000_000):
        _add_partners(ctx, built, population, rnd)
        built = population
        with ctx.env(DB) as env:
            # warm the caches and the query plans
            _measure(env, population, random.Random(1))
            measured = _measure(env, population, random.Random(2))
        for name, figures in measured.items():
            rows.append(
                {
                    "patients": f"{population:,}",
                    "lookup": name,
                    **{k: v for k, v in figures.items() if not k.startswith("_")},
                }
            )
        ours, stock = (
            measured["clinic_pbx keys"],
            measured["stock phone_mobile_search (=)"],
        )
        ratios.append((population, ours["_p99"] / stock["_p99"]))
    notes = (
        "Each lookup asks for an existing patient's number written in a random one "
        "of six forms (`+7 (916) 123-45-67`, `8 916 …`, `7916…`, `916…`, `8(916)…`, "
        "`+7916…`) while the patient's own number was stored in another random form. "
        "clinic_pbx time includes normalising the query. "
        + "; ".join(
            f"p99 ratio clinic_pbx / stock at {p:,}: {r:.1f}×" for p, r in ratios
        )
        + " (goal: 100% found, p99 ≤ 1 ms and ≤ 2× the stock search)."
    )
    return rows, notes
