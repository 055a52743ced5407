"""clinic_pbx installs with its demo data and uninstalls without leftovers.

A plain pytest test (not an Odoo test case): it drives Odoo in
subprocesses on a database of its own, the way an administrator installs
and removes the module.
"""

import os
import subprocess
import sys

import psycopg2

import odoo

DB = "clinic_pbx_lifecycle_" + str(os.getpid())


def _config_file():
    conf = os.environ.get("CLINIC_PBX_CONF") or odoo.tools.config.rcfile
    assert conf and os.path.exists(conf), "run through make test (no Odoo config)"
    return conf


def _odoo(conf, *args, command="server", stdin=None):
    launcher = os.path.join(os.path.dirname(conf), "odoo-bin")
    argv = [sys.executable, launcher, command, "-c", conf, "-d", DB, "--log-level=warn"]
    result = subprocess.run(
        argv + list(args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert not errors, "\n".join(errors[:20])
    return result


def _connect(dbname):
    options = odoo.tools.config
    return psycopg2.connect(
        host=options["db_host"] or None,
        port=options["db_port"] or None,
        user=options["db_user"] or None,
        password=options["db_password"] or None,
        dbname=dbname,
    )


def _drop():
    cn = _connect("postgres")
    cn.autocommit = True
    with cn.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    cn.close()


def _query(sql):
    cn = _connect(DB)
    with cn.cursor() as cr:
        cr.execute(sql)
        rows = cr.fetchall()
    cn.close()
    return rows


def test_install_with_demo_then_uninstall_cleanly():
    conf = _config_file()
    _drop()
    try:
        _odoo(conf, "-i", "clinic_pbx", "--stop-after-init", "--no-http")
        [(calls,)] = _query("SELECT count(*) FROM pbx_call")
        [(with_patient,)] = _query(
            "SELECT count(*) FROM pbx_call WHERE partner_id IS NOT NULL"
        )
        [(users,)] = _query(
            "SELECT count(*) FROM res_users WHERE pbx_extension = '101'"
        )
        assert calls > 500, "the demo has a month of calls"
        assert with_patient > calls / 2, "most demo calls are matched to a patient"
        assert users == 2, "two receptionists share the reception extension"

        _odoo(
            conf,
            "--no-http",
            command="shell",
            stdin=(
                "env['ir.module.module'].search([('name', '=', 'clinic_pbx')])"
                ".button_immediate_uninstall()\nenv.cr.commit()\n"
            ),
        )
        [(state,)] = _query(
            "SELECT state FROM ir_module_module WHERE name = 'clinic_pbx'"
        )
        assert state == "uninstalled"
        assert _query("SELECT to_regclass('pbx_call')") == [(None,)]
        assert _query("SELECT count(*) FROM ir_model WHERE model LIKE 'pbx.%'") == [
            (0,)
        ]
        assert _query(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name IN ('res_partner', 'res_users', 'crm_lead') "
            "AND column_name LIKE 'pbx_%'"
        ) == [(0,)]
        assert _query(
            "SELECT count(*) FROM res_groups g JOIN ir_model_data d ON "
            "d.model = 'res.groups' AND d.res_id = g.id AND d.module = 'clinic_pbx'"
        ) == [(0,)]
    finally:
        _drop()
