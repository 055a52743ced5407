# Copyright 2026 Clinic PBX
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The call's extension is no longer indexed.

Odoo keeps an index it no longer expects, so it is dropped here: searching
the Call Log by extension (ilike) never used it, and every ring of a ring
group that moved the extension paid for it. The table's fillfactor is set
by PbxCall.init, which ran before this script.
"""

from odoo.tools.sql import drop_index


def migrate(cr, version):
    if not version:
        return
    drop_index(cr, "pbx_call__extension_index", "pbx_call")
