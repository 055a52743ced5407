"""Fixtures of `make e2e`: a database of its own, and what its tests share.

These tests start real servers (Odoo with --workers, nginx) against a
database they create and drop, so `make test` does not collect them
(scripts/pytest.ini); `make e2e` runs them after the suite.
"""

import logging
import os
import secrets
import shutil
import sys
from types import SimpleNamespace

import pytest
from e2e_servers import ADDON, Postgres, run_odoo

import odoo

DESK_PASSWORD = "e2e-desk-password"


def pytest_configure(config):
    # the relay's client is a PBX-side tool in scripts/, not part of the addon
    sys.path.insert(0, os.path.join(ADDON, "scripts"))
    path = os.environ.get("CLINIC_PBX_CONF")
    if path and os.path.exists(path):
        # makes odoo.addons.clinic_pbx importable (as for the benchmarks)
        # before the test modules are collected
        odoo.tools.config.parse_config(["-c", path])
    # the registry this process loads to prepare the database says little
    logging.getLogger("odoo").setLevel(logging.WARNING)


def pytest_report_header():
    return "clinic_pbx end-to-end: real servers, database " + _dbname()


def _dbname():
    return os.environ.get("E2E_DB") or f"clinic_pbx_e2e_{os.getpid()}"


@pytest.fixture(scope="session")
def conf():
    path = os.environ.get("CLINIC_PBX_CONF")
    assert path and os.path.exists(path), "run these through `make e2e`"
    return path


@pytest.fixture(scope="session")
def nginx_binary():
    binary = os.environ.get("E2E_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    assert os.access(binary, os.X_OK), (
        f"nginx is needed ({binary}); `make e2e` installs Debian's package"
    )
    return binary


@pytest.fixture(scope="session")
def logdir(tmp_path_factory):
    path = os.environ.get("E2E_LOGS") or str(tmp_path_factory.mktemp("e2e"))
    os.makedirs(path, exist_ok=True)
    return path


def _populate(dbname, token):
    """PBX users, patients and an Event API connection, committed."""
    from event_relay import DESKS, RING_GROUP, caller_number

    from odoo import SUPERUSER_ID, api

    from odoo.addons.clinic_pbx.models.pbx_connection import hash_token
    from odoo.addons.clinic_pbx.tools.demo_data import create_reception_users

    registry = odoo.modules.registry.Registry(dbname)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        # one receptionist per phone of the ring group and per desk
        create_reception_users(
            env,
            [
                (f"Reception {extension}", f"e2e_{extension}", extension)
                for extension in RING_GROUP + DESKS
            ],
        )
        desk = create_reception_users(
            env, [("Front Desk", "e2e_desk", "201")], password=DESK_PASSWORD
        )
        russia = env.ref("base.ru")
        # half of the callers are known patients
        env["res.partner"].create(
            [
                {
                    "name": f"Patient {index}",
                    "mobile": caller_number(index),
                    "country_id": russia.id,
                }
                for index in range(0, 2000, 2)
            ]
        )
        connection = env["pbx.connection"].create(
            {
                "name": "E2E PBX",
                "kind": "event_api",
                "country_id": russia.id,
                "timezone": "Europe/Moscow",
            }
        )
        connection.token_hash = hash_token(token)
        return SimpleNamespace(
            connection_id=connection.id,
            desk_login=desk.login,
            desk_partner_id=desk.partner_id.id,
        )


@pytest.fixture(scope="session")
def database(conf, logdir):
    """A new database with clinic_pbx (no demo data), dropped at the end."""
    postgres = Postgres(conf)
    dbname = _dbname()
    postgres.drop(dbname)
    filestore = os.path.join(odoo.tools.config["data_dir"], "filestore", dbname)
    try:
        run_odoo(
            conf,
            os.path.join(logdir, "install.log"),
            "-d",
            dbname,
            "-i",
            "clinic_pbx",
            "--without-demo=all",
            "--stop-after-init",
            "--no-http",
            "--log-level=warn",
        )
        token = secrets.token_urlsafe(32)
        made = _populate(dbname, token)
        yield SimpleNamespace(
            name=dbname,
            postgres=postgres,
            token=token,
            desk_password=DESK_PASSWORD,
            **vars(made),
        )
    finally:
        odoo.modules.registry.Registry.delete(dbname)
        odoo.sql_db.close_db(dbname)
        if os.environ.get("E2E_KEEP_DB") != "1":
            postgres.drop(dbname)
            shutil.rmtree(filestore, ignore_errors=True)
