"""What benchmarks share: databases, an Odoo environment, a running server.

A benchmark is a module ``bench/bench_<name>.py`` with a ``TITLE`` and a
``run(ctx)`` that returns a list of result rows (dicts with the same keys,
printed as a table) or ``(rows, notes)`` where ``notes`` is Markdown shown
under the table.
"""

# A developer tool outside Odoo: its database names come from our own config.
# pylint: disable=sql-injection,except-pass
import configparser
import contextlib
import os
import platform
import socket
import subprocess
import sys
import time

import psycopg2
from psycopg2 import sql


class BenchContext:
    def __init__(self, conf):
        self.conf = conf
        parser = configparser.ConfigParser()
        parser.read(conf)
        self.options = parser["options"]
        self.created = []
        self.kept = set()  # databases worth keeping between runs (see calls_data)
        import odoo

        # makes odoo.addons.clinic_pbx importable for the benchmarks
        odoo.tools.config.parse_config(["-c", conf])

    # --- databases -------------------------------------------------------
    def pg(self, dbname="postgres"):
        o = self.options
        password = o.get("db_password")
        return psycopg2.connect(
            host=o["db_host"],
            port=int(o["db_port"]),
            user=o["db_user"],
            password=None if password in (None, "False") else password,
            dbname=dbname,
        )

    def drop_db(self, name):
        cn = self.pg()
        cn.autocommit = True
        with cn.cursor() as cr:
            cr.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )
        cn.close()

    def odoo_cmd(self, *args):
        launcher = os.path.join(os.path.dirname(self.conf), "odoo-bin")
        return [sys.executable, launcher, "-c", self.conf, *args]

    def update_db(self, name, modules="clinic_pbx"):
        """Bring a kept database to the code's schema (new columns, indexes)."""
        args = ["-d", name, "-u", modules, "--stop-after-init", "--no-http"]
        args += ["--log-level=warn"]
        subprocess.run(self.odoo_cmd(*args), check=True, stdout=subprocess.DEVNULL)

    def create_db(self, name, demo=False, modules="clinic_pbx"):
        """A new database with ``modules`` installed; returns the seconds it took."""
        self.drop_db(name)
        args = ["-d", name, "-i", modules, "--stop-after-init", "--no-http"]
        args += ["--log-level=warn"]
        if not demo:
            args.append("--without-demo=all")
        started = time.perf_counter()
        subprocess.run(self.odoo_cmd(*args), check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        self.created.append(name)
        return elapsed

    @contextlib.contextmanager
    def env(self, dbname):
        """An Odoo environment (superuser) on ``dbname``; commits on success."""
        import odoo
        from odoo import SUPERUSER_ID, api

        registry = odoo.modules.registry.Registry(dbname)
        with registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    # --- a running server --------------------------------------------------
    @staticmethod
    def free_port():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    @contextlib.contextmanager
    def server(self, dbname, workers=0, extra=()):
        """Odoo serving ``dbname`` on a free port; yields its base URL."""
        port = self.free_port()
        args = ["-d", dbname, f"--db-filter=^{dbname}$", f"--http-port={port}"]
        args += [f"--workers={workers}", "--log-level=warn", "--max-cron-threads=0"]
        if workers:
            args.append(f"--gevent-port={self.free_port()}")
        proc = subprocess.Popen(self.odoo_cmd(*args, *extra), stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if proc.poll() is not None:
                        raise RuntimeError("the Odoo server stopped at start") from None
                    time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def cleanup(self):
        if os.environ.get("BENCH_KEEP_DB") == "1":
            return
        for name in self.created:
            if name not in self.kept:
                self.drop_db(name)


def machine_description(ctx):
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo") as meminfo:
            kb = int(meminfo.readline().split()[1])
            memory = f"{kb / 1024 / 1024:.0f} GiB RAM"
    with ctx.pg() as cn, cn.cursor() as cr:
        cr.execute("SHOW server_version")
        pg_version = cr.fetchone()[0]
    import odoo.release

    return (
        f"{cpu}, {os.cpu_count()} CPUs, {memory}; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; "
        f"PostgreSQL {pg_version}; Odoo {odoo.release.version}"
    )
