"""Real servers for the end-to-end tests: Odoo nodes, nginx, PostgreSQL.

Each helper starts its process as a child of the test, in a session of its
own, with its files in the test's directory, and stops it (all its
children too) when the ``with`` block ends, whatever happened inside.
"""

import configparser
import contextlib
import datetime
import ipaddress
import os
import re
import signal
import socket
import subprocess
import sys
import time

import psutil
import psycopg2
import requests
from psycopg2 import sql

HERE = os.path.dirname(os.path.abspath(__file__))
ADDON = os.path.dirname(os.path.dirname(HERE))
NGINX_TEMPLATE = os.path.join(ADDON, "docs", "nginx-clinic-pbx.conf")
START_TIMEOUT = 180  # seconds for a node to answer after it was started


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process, timeout=30):
    """Stop ``process`` and everything it started (its own session)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    # Workers outlive a master that was killed; the session holds them all.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


class Postgres:
    """The PostgreSQL server of the Odoo configuration file ``conf``."""

    def __init__(self, conf):
        parser = configparser.ConfigParser()
        parser.read(conf)
        self.options = parser["options"]

    def connect(self, dbname="postgres"):
        o = self.options
        password = o.get("db_password")
        return psycopg2.connect(
            host=o.get("db_host") or None,
            port=int(o.get("db_port") or 5432),
            user=o.get("db_user") or None,
            password=None if password in (None, "", "False") else password,
            dbname=dbname,
        )

    def query(self, dbname, query, params=()):
        cn = self.connect(dbname)
        try:
            with cn.cursor() as cr:
                cr.execute(query, params)
                return cr.fetchall()
        finally:
            cn.close()

    def drop(self, dbname):
        cn = self.connect()
        cn.autocommit = True
        try:
            with cn.cursor() as cr:
                cr.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(dbname)
                    )
                )
        finally:
            cn.close()

    def kill_connections(self, dbname):
        """Terminate every connection to ``dbname``, as a failover does."""
        cn = self.connect()
        cn.autocommit = True
        try:
            with cn.cursor() as cr:
                cr.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (dbname,),
                )
                return sum(1 for (done,) in cr.fetchall() if done)
        finally:
            cn.close()


def odoo_command(conf, *args, command=None):
    """odoo-bin (the launcher scripts/clinic.sh writes next to ``conf``).

    Prefork re-executes this command line to start its gevent worker, so it
    must be a script, not ``python -m odoo``.
    """
    launcher = os.path.join(os.path.dirname(conf), "odoo-bin")
    return [
        sys.executable,
        launcher,
        *([command] if command else []),
        "-c",
        conf,
        *args,
    ]


def run_odoo(conf, log, *args, timeout=1800):
    """Run odoo-bin to its end; fail with the log's errors if it had any."""
    with open(log, "w") as out:
        result = subprocess.run(
            odoo_command(conf, *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
            cwd=os.path.dirname(conf),
        )
    with open(log) as out:
        text = out.read()
    errors = [line for line in text.splitlines() if " ERROR " in line]
    assert result.returncode == 0 and not errors, (
        f"odoo-bin {' '.join(args)} failed (log {log}):\n" + text[-3000:]
    )


class OdooNode:
    """One Odoo server as production runs it: prefork, gevent, proxy mode."""

    def __init__(self, conf, dbname, logdir, name, workers=2, proxy_mode=True):
        self.conf = conf
        self.dbname = dbname
        self.name = name
        self.workers = workers
        self.proxy_mode = proxy_mode
        self.http_port = free_port()
        self.gevent_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.log = os.path.join(logdir, f"odoo-{name}.log")
        self.process = None

    def __enter__(self):
        args = [
            "-d",
            self.dbname,
            f"--db-filter=^{re.escape(self.dbname)}$",
            f"--http-port={self.http_port}",
            "--http-interface=127.0.0.1",
            f"--gevent-port={self.gevent_port}",
            f"--workers={self.workers}",
            "--max-cron-threads=0",
            "--load=base,web,clinic_pbx",
            "--log-level=warn",
        ]
        if self.proxy_mode:
            args.append("--proxy-mode")
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                odoo_command(self.conf, *args),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=os.path.dirname(self.conf),
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        # the HTTP workers, and the gevent worker the master starts after them
        urls = [self.url, f"http://127.0.0.1:{self.gevent_port}"]
        while True:
            assert self.process.poll() is None, (
                f"Odoo node {self.name} stopped at start:\n{self.log_tail()}"
            )
            with contextlib.suppress(requests.RequestException):
                while urls and requests.get(f"{urls[0]}/web/health", timeout=5).ok:
                    urls.pop(0)
            if not urls:
                return
            assert time.monotonic() < deadline, (
                f"Odoo node {self.name} did not answer in {START_TIMEOUT} s:\n"
                + self.log_tail()
            )
            time.sleep(0.5)

    def __exit__(self, *_exc):
        if self.process is not None:
            _stop(self.process)

    def log_tail(self, chars=3000):
        with contextlib.suppress(OSError), open(self.log) as log:
            return log.read()[-chars:]
        return "(no log)"

    def log_errors(self):
        with contextlib.suppress(OSError), open(self.log) as log:
            return [line for line in log if " ERROR " in line or " CRITICAL " in line]
        return []

    def websocket_peers(self):
        """How many TCP connections the gevent worker of this node holds open."""
        return sum(
            1
            for connection in psutil.net_connections(kind="tcp")
            if connection.status == psutil.CONN_ESTABLISHED
            and connection.laddr
            and connection.laddr.port == self.gevent_port
        )


def self_signed_certificate(directory):
    """(certificate, key) files for https://127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "server.crt")
    key_path = os.path.join(directory, "server.key")
    with open(cert_path, "wb") as out:
        out.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    os.chmod(key_path, 0o600)
    return cert_path, key_path


def render_site(template, nodes, http_port, https_port, cert, key, logdir):
    """docs/nginx-clinic-pbx.conf with this machine's nodes, ports and paths.

    Only the lines a site changes are replaced (upstream members, listen
    ports, certificate, log files); every other line is served as the
    document shows it. Each replacement must match exactly once, so a
    change of the document that the test no longer follows fails here.
    """

    def members(port_of):
        lines = "".join(f"    server 127.0.0.1:{port_of(node)};\n" for node in nodes)
        return lambda match: f"{match.group(1)}\n{lines}}}"

    replacements = [
        (r"(upstream odoo \{)[^}]*\}", members(lambda node: node.http_port)),
        (r"(upstream odoochat \{)[^}]*\}", members(lambda node: node.gevent_port)),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        (r"ssl_certificate [^;\s]+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key [^;\s]+;", f"ssl_certificate_key {key};"),
        (r"access_log [^;\s]+;", f"access_log {logdir}/access.log;"),
        (r"error_log [^;\s]+;", f"error_log {logdir}/error.log;"),
    ]
    text = template
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, (
            f"{NGINX_TEMPLATE}: expected one `{pattern}`, found {count}; "
            "keep the test's rendering (tests/e2e/e2e_servers.py) in step"
        )
    return text


class Nginx:
    """nginx from Debian's package in front of ``nodes``, with the site of
    docs/nginx-clinic-pbx.conf; ``url`` is its https address."""

    def __init__(self, binary, nodes, workdir):
        self.binary = binary
        self.nodes = nodes
        self.dir = os.path.join(workdir, "nginx")
        self.http_port = free_port()
        self.https_port = free_port()
        self.url = f"https://127.0.0.1:{self.https_port}"
        self.plain_url = f"http://127.0.0.1:{self.http_port}"
        self.process = None
        self.certificate = None

    def _write_config(self):
        os.makedirs(self.dir, exist_ok=True)
        # nginx's workers run as an unprivileged user when started by root:
        # they must reach their temporary directories.
        os.chmod(self.dir, 0o755)
        self.certificate, key = self_signed_certificate(self.dir)
        with open(NGINX_TEMPLATE) as template:
            site = render_site(
                template.read(),
                self.nodes,
                self.http_port,
                self.https_port,
                self.certificate,
                key,
                self.dir,
            )
        with open(os.path.join(self.dir, "site.conf"), "w") as out:
            out.write(site)
        temp = {
            name: os.path.join(self.dir, name)
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        }
        # One worker: its round robin over the upstream members is then exact.
        config = f"""
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log {self.dir}/access.log;
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {self.dir}/site.conf;
}}
"""
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as out:
            out.write(config)
        return path

    def __enter__(self):
        config = self._write_config()
        check = subprocess.run(
            [self.binary, "-t", "-p", self.dir, "-c", config],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, f"nginx refuses the site:\n{check.stderr}"
        self.process = subprocess.Popen(
            [self.binary, "-p", self.dir, "-c", config, "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, "nginx stopped at start: " + (
                self.process.stderr.read().decode(errors="replace")
            )
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", self.https_port), 1):
                    return self
            assert time.monotonic() < deadline, "nginx did not listen in 30 s"
            time.sleep(0.2)

    def __exit__(self, *_exc):
        if self.process is not None:
            _stop(self.process, timeout=10)
