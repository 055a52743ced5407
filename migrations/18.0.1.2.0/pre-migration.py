# Copyright 2026 Clinic PBX
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Calltouch's "credentials refused" state is called paused, as Callmarker's.

The column ``calltouch_stopped`` becomes ``calltouch_paused`` before Odoo
updates ``res.company``, so a company whose sync waits for corrected
settings still waits. The field's record in ``ir.model.fields`` (and its
XML id) follows, so what refers to the field keeps referring to it, and so
do the views: the settings form is checked with every view that extends it
before this module's own views are loaded again.
"""

from odoo.tools.sql import column_exists, rename_column

OLD, NEW = "calltouch_stopped", "calltouch_paused"


def migrate(cr, version):
    if not version:
        return
    if column_exists(cr, "res_company", OLD) and not column_exists(
        cr, "res_company", NEW
    ):
        rename_column(cr, "res_company", OLD, NEW)
    for model in ("res.company", "res.config.settings"):
        cr.execute(
            "UPDATE ir_model_fields SET name = %s WHERE model = %s AND name = %s "
            "AND NOT EXISTS (SELECT 1 FROM ir_model_fields "
            "WHERE model = %s AND name = %s)",
            (NEW, model, OLD, model, NEW),
        )
        prefix = "field_%s__" % model.replace(".", "_")
        cr.execute(
            "UPDATE ir_model_data SET name = %s WHERE module = 'clinic_pbx' "
            "AND model = 'ir.model.fields' AND name = %s AND NOT EXISTS "
            "(SELECT 1 FROM ir_model_data WHERE module = 'clinic_pbx' AND name = %s)",
            (prefix + NEW, prefix + OLD, prefix + NEW),
        )
    cr.execute(
        "UPDATE ir_ui_view SET arch_db = replace(arch_db::text, %s, %s)::jsonb "
        "WHERE arch_db::text LIKE %s",
        (OLD, NEW, "%" + OLD + "%"),
    )
