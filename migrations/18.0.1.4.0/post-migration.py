# Copyright 2026 Clinic PBX
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A call's Admin is indexed with the call's time and company.

PbxCall.init created ``pbx_call_user_start_index`` (user, time, company),
which answers everything the old index on the Admin alone did; Odoo keeps an
index it no longer expects, so the old one is dropped here. The PBX User
record rule is a ``noupdate`` record: its domain moves to the field that
searches a staff member's calls through that index.
"""

from odoo import SUPERUSER_ID, api
from odoo.tools.sql import drop_index

OLD_DOMAIN = "['|', ('user_id', '=', user.id), ('rang_user_ids', 'in', [user.id])]"
NEW_DOMAIN = "[('staff_search_ids', 'in', [user.id])]"


def migrate(cr, version):
    if not version:
        return
    drop_index(cr, "pbx_call__user_id_index", "pbx_call")
    env = api.Environment(cr, SUPERUSER_ID, {})
    rule = env.ref("clinic_pbx.pbx_call_rule_user", raise_if_not_found=False)
    if rule and rule.domain_force.strip() == OLD_DOMAIN:
        rule.domain_force = NEW_DOMAIN
