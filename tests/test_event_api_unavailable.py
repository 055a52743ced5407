"""The Event API when PostgreSQL goes away and comes back, on a real server.

Plain pytest test: an Odoo server in a subprocess (clinic_pbx loaded
server-wide, as docs/deploy.md says) reaches PostgreSQL through a TCP proxy
that the test cuts, as a database failover does.
"""

import configparser
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests

import odoo

from .common import cdr_event, committed_pbx, real_registry
from .fakes.tcp_proxy import TcpProxy


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def server(tmp_path):
    """(base URL, proxy) of an Odoo server whose database link can be cut."""
    options = odoo.tools.config
    proxy = TcpProxy(
        options["db_host"] or "127.0.0.1", int(options["db_port"] or 5432)
    ).start()
    conf = configparser.ConfigParser()
    conf.read(os.environ.get("CLINIC_PBX_CONF") or options.rcfile)
    conf["options"].update(db_host="127.0.0.1", db_port=str(proxy.port))
    conf_path = tmp_path / "odoo.conf"
    with open(conf_path, "w") as conf_file:
        conf.write(conf_file)
    launcher = os.path.join(os.path.dirname(options.rcfile), "odoo-bin")
    db = options["db_name"]
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, launcher, "-c", str(conf_path), "-d", db,
         f"--db-filter=^{db}$", f"--http-port={port}", "--max-cron-threads=0",
         "--load=base,web,clinic_pbx", "--log-level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                requests.get(f"{url}/web/health", timeout=30)
                break
            except requests.RequestException:
                assert process.poll() is None, process.stderr.read()[-3000:]
                assert time.time() < deadline, "the server did not start"
                time.sleep(0.3)
        yield url, proxy
    finally:
        process.terminate()
        process.communicate(timeout=60)
        proxy.stop()


def _post(url, token, events):
    return requests.post(
        f"{url}/pbx/v1/events",
        data=json.dumps({"events": events}),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
        timeout=60,
    )


def test_database_unreachable_is_503_json_and_nothing_is_lost(server):
    url, proxy = server
    with committed_pbx() as pbx:
        token = pbx["token"]
        first = _post(url, token, [cdr_event("before", "2026-11-05T09:00:00+03:00")])
        assert first.status_code == 200, first.text
        proxy.down()
        during = [cdr_event("during", "2026-11-05T09:05:00+03:00")]
        answers = [_post(url, token, during) for _n in range(3)]
        for answer in answers:
            assert answer.status_code == 503, answer.text[:300]
            assert answer.headers["Content-Type"].startswith("application/json")
            assert int(answer.headers["Retry-After"]) > 0
            assert "unavailable" in answer.json()["error"]
        proxy.up()
        deadline = time.time() + 60
        while (again := _post(url, token, during)).status_code == 503:
            assert time.time() < deadline, again.text
            time.sleep(1)
        assert again.status_code == 200, again.text
        assert again.json() == {"accepted": 1, "duplicates": 0}
        with real_registry().cursor() as cr:
            cr.execute(
                "SELECT external_id FROM pbx_call WHERE connection_id = %s"
                " ORDER BY external_id",
                (pbx["connection_id"],),
            )
            assert cr.fetchall() == [("before",), ("during",)]
