from odoo.tools import SQL

from .models.pbx_call_ingest import FIND_CONTACTS


def uninstall_hook(env):
    """Drop the caller lookup function: Odoo removes only tables and columns."""
    env.cr.execute(
        SQL(
            "DROP FUNCTION IF EXISTS %s(varchar[], integer)",
            SQL.identifier(FIND_CONTACTS),
        )
    )
