# Copyright 2026 Clinic PBX
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The report's ``start_slot`` filled in SQL before Odoo adds the column.

Odoo would otherwise compute the new stored column of every existing call
in Python during the update; one UPDATE does it (the start rounded down to
the quarter hour, as ``_compute_start_slot``).
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        "ALTER TABLE pbx_call ADD COLUMN IF NOT EXISTS start_slot "
        "timestamp without time zone"
    )
    cr.execute(
        """
        UPDATE pbx_call
           SET start_slot = date_trunc('hour', start)
                 + floor(date_part('minute', start) / 15) * interval '15 minutes'
         WHERE start_slot IS NULL AND start IS NOT NULL
        """
    )
