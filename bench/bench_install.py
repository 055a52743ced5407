"""Time to install clinic_pbx (with its dependencies) on a fresh database."""

import time

TITLE = "Installing clinic_pbx on a fresh database"


def run(ctx):
    rows = []
    base = ctx.create_db(
        "clinic_pbx_bench_base", modules="crm,contacts,phone_validation"
    )
    rows.append(
        {"what": "its dependencies alone (crm, contacts, …)", "seconds": f"{base:.1f}"}
    )
    full = ctx.create_db("clinic_pbx_bench_install")
    rows.append(
        {"what": "clinic_pbx with its dependencies, no demo", "seconds": f"{full:.1f}"}
    )
    started = time.perf_counter()
    ctx.create_db("clinic_pbx_bench_demo", demo=True)
    demo = time.perf_counter() - started
    rows.append(
        {
            "what": "clinic_pbx with its dependencies and demo data",
            "seconds": f"{demo:.1f}",
        }
    )
    notes = (
        "Wall-clock time of `odoo -i` on a new database; the difference between the "
        "first two rows is what clinic_pbx itself adds."
    )
    return rows, notes
