"""clinic_pbx on a real server: install with demo data, concurrent PBXs, uninstall.

Plain pytest tests (not Odoo test cases): they drive Odoo in subprocesses on
a database of their own, the way an administrator installs, runs with
several workers and removes the module. They run in file order.
"""

import hashlib
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time

import psycopg2
import pytest
import requests

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


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo_db():
    """A database with clinic_pbx and its demo data, dropped at the end."""
    conf = _config_file()
    _drop()
    try:
        _odoo(conf, "-i", "clinic_pbx", "--stop-after-init", "--no-http")
        yield conf
    finally:
        _drop()


def test_installs_with_its_demo_data(demo_db):
    [(calls,)] = _query("SELECT count(*) FROM pbx_call")
    [(with_patient,)] = _query(
        "SELECT count(*) FROM pbx_call WHERE partner_id IS NOT NULL"
    )
    [(users,)] = _query("SELECT count(*) FROM res_users WHERE pbx_extension = '101'")
    assert calls > 500, "the demo has a month of calls"
    assert with_patient > calls / 2, "most demo calls are matched to a patient"
    assert users == 2, "two receptionists share the reception extension"
    # Its missed callers: some still to call back, others called back later
    # and their callback done by itself, with the message saying so.
    [(open_callbacks, done_callbacks, done_messages)] = _query(
        "SELECT count(*) FILTER (WHERE a.active), count(*) FILTER (WHERE NOT a.active),"
        " (SELECT count(*) FROM mail_message m"
        "  WHERE m.mail_activity_type_id = a.activity_type_id"
        "    AND m.body LIKE '%Called back by%')"
        " FROM mail_activity a JOIN ir_model_data d"
        " ON d.res_id = a.activity_type_id AND d.model = 'mail.activity.type'"
        " AND d.name = 'mail_activity_type_call_back'"
        " GROUP BY a.activity_type_id"
    )
    assert open_callbacks > 10, "the Missed Calls screen has work"
    assert done_callbacks > 10, "callbacks done by the calls back"
    assert done_messages > 10, "each says who called back and when"


def _live_calls(count, prefix):
    """Events of ``count`` calls: ringing, answered, hangup each."""
    events = []
    for n in range(count):
        call = {"call_id": f"{prefix}-{n}"}
        minute = f"2026-11-05T10:{n % 60:02d}"
        events += [
            dict(call, type="ringing", time=f"{minute}:00+03:00", direction="incoming",
                 extension="101", **{"from": f"+7916{n:07d}", "to": "74951234500"}),
            dict(call, type="answered", time=f"{minute}:07+03:00", extension="101"),
            dict(call, type="hangup", time=f"{minute}:50+03:00", disposition="answered",
                 talk_seconds=43, wait_seconds=7),
        ]  # fmt: skip
    return events


def test_concurrent_pbx_requests_make_each_call_once(demo_db):
    """Several PBX workers posting overlapping batches at once, on 2 Odoo workers."""
    token = secrets.token_urlsafe(32)
    cn = _connect(DB)
    with cn, cn.cursor() as cr:
        cr.execute(
            "UPDATE pbx_connection SET token_hash = %s WHERE id = ("
            "SELECT res_id FROM ir_model_data WHERE module = 'clinic_pbx' "
            "AND name = 'demo_connection')",
            (hashlib.sha256(token.encode()).hexdigest(),),
        )
    cn.close()
    port = _free_port()
    launcher = os.path.join(os.path.dirname(demo_db), "odoo-bin")
    server = subprocess.Popen(
        [sys.executable, launcher, "-c", demo_db, "-d", DB, f"--db-filter=^{DB}$",
         f"--http-port={port}", f"--gevent-port={_free_port()}", "--workers=2",
         "--max-cron-threads=0", "--log-level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/pbx/v1/events"
    try:
        deadline = time.time() + 300
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/web/login", timeout=60)
                break
            except requests.RequestException:
                assert time.time() < deadline, "the server did not start"
                assert server.poll() is None, "the server stopped"
                time.sleep(0.5)
        events = _live_calls(40, "race")
        statuses, accepted = [], []

        def pbx_worker(seed):
            mine = list(events)
            random.Random(seed).shuffle(mine)
            for start in range(0, len(mine), 30):
                response = requests.post(
                    url,
                    data=json.dumps({"events": mine[start : start + 30]}),
                    headers={"Authorization": f"Bearer {token}",
                             "Content-Type": "application/json"},
                    timeout=120,
                )  # fmt: skip
                statuses.append(response.status_code)
                if response.status_code == 200:
                    accepted.append(response.json()["accepted"])

        threads = [threading.Thread(target=pbx_worker, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=60)
    assert set(statuses) == {200}, statuses
    assert sum(accepted) == len(events), "every event applied exactly once"
    rows = _query(
        "SELECT external_id, count(*), min(state), min(disposition), min(talk_seconds),"
        " min(wait_seconds) FROM pbx_call WHERE external_id LIKE 'race-%' GROUP BY 1"
    )
    assert len(rows) == 40
    assert {row[1:] for row in rows} == {(1, "done", "answered", 43, 7)}
    assert " ERROR " not in err, err[-3000:]


def test_uninstalls_without_leftovers(demo_db):
    _odoo(
        demo_db,
        "--no-http",
        command="shell",
        stdin=(
            "env['ir.module.module'].search([('name', '=', 'clinic_pbx')])"
            ".button_immediate_uninstall()\nenv.cr.commit()\n"
        ),
    )
    [(state,)] = _query("SELECT state FROM ir_module_module WHERE name = 'clinic_pbx'")
    assert state == "uninstalled"
    assert _query("SELECT to_regclass('pbx_call')") == [(None,)]
    assert _query("SELECT count(*) FROM ir_model WHERE model LIKE 'pbx.%'") == [(0,)]
    assert _query(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_name IN ('res_partner', 'res_users', 'crm_lead') "
        "AND column_name LIKE 'pbx_%'"
    ) == [(0,)]
    assert _query(
        "SELECT count(*) FROM pg_proc WHERE proname LIKE 'clinic\\_pbx\\_%'"
    ) == [(0,)]
    assert _query(
        "SELECT count(*) FROM res_groups g JOIN ir_model_data d ON "
        "d.model = 'res.groups' AND d.res_id = g.id AND d.module = 'clinic_pbx'"
    ) == [(0,)]
