# Copyright 2026 Clinic PBX
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Calls scored before ``quality_scored`` existed keep their score on screen.

A score was only ever written when the service sent one, so a stored score
means a scored call; calls classified without a score keep it empty.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        "UPDATE pbx_call SET quality_scored = TRUE "
        "WHERE quality_score IS NOT NULL AND quality_scored IS NOT TRUE"
    )
