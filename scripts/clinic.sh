#!/usr/bin/env bash
# What `make run`, `make test`, `make e2e`, `make bench` and `make lint` do.
#
# Odoo 18.0 is looked for, in this order: ODOO_PATH (an Odoo 18.0 server tree),
# an `odoo` 18.0 that python3 imports, a copy downloaded earlier into .build/odoo,
# and finally Odoo's official 18.0 source archive ($ODOO_SRC_URL).
# PostgreSQL: the server at $PGHOST/localhost when it answers, otherwise a
# private cluster in .pgdata/.
# Everything generated lives in .build/ (config, venv link, logs) and .venv/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.build"
VENV="$ROOT/.venv"
ODOO_SRC_URL="${ODOO_SRC_URL:-https://nightly.odoo.com/18.0/nightly/src/odoo_18.0.latest.tar.gz}"
HTTP_PORT="${HTTP_PORT:-8069}"
RUN_DB="${RUN_DB:-clinic_pbx_demo}"
TEST_DB="${TEST_DB:-clinic_pbx_test}"
PRIVATE_PG_PORT="${PRIVATE_PG_PORT:-5439}"
# Odoo finds the addon through a link named clinic_pbx, whatever the checkout is
# called. The link lives outside the checkout so that nothing walking the
# addon's tree (Odoo's translation export, linters) is led back into it.
ADDONS="${TMPDIR:-/tmp}/clinic_pbx-addons-$(printf %s "$ROOT" | sha1sum | cut -c1-12)"

die() { echo "clinic_pbx: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
can_apt() { is_root && command -v apt-get >/dev/null 2>&1; }
apt_install() {
  can_apt || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1; }
}

# --- Odoo 18.0 ---------------------------------------------------------------
tree_is_odoo18() { grep -Eq '^version_info = \(18, 0,' "$1/odoo/release.py" 2>/dev/null; }
python_imports_odoo18() {
  (cd / && "$1" -c 'import odoo.release as r, sys; sys.exit(r.version_info[:2] != (18, 0))') >/dev/null 2>&1
}

download_odoo() {
  command -v curl >/dev/null 2>&1 || return 1
  mkdir -p "$STATE"
  say "Odoo 18.0 not found; downloading the official source archive $ODOO_SRC_URL"
  local tmp="$STATE/odoo-18.0.tar.gz.part"
  curl -fsSL --connect-timeout 15 --max-time 1800 "$ODOO_SRC_URL" -o "$tmp" || { rm -f "$tmp"; return 1; }
  rm -rf "$STATE/odoo.new" && mkdir -p "$STATE/odoo.new"
  tar -xzf "$tmp" -C "$STATE/odoo.new" --strip-components=1 || return 1
  tree_is_odoo18 "$STATE/odoo.new" || return 1
  rm -rf "$STATE/odoo" && mv "$STATE/odoo.new" "$STATE/odoo" && rm -f "$tmp"
}

# Pythons worth asking for an installed Odoo: python3 on PATH first, then the
# usual places of other installations (pyenv, /usr/local), as a shell with a
# shorter PATH (cron, CI) may not see the one Odoo was installed into.
candidate_pythons() {
  command -v python3 || true
  ls -d "${HOME:-/nonexistent}"/.pyenv/versions/*/bin/python3 2>/dev/null | sort -rV || true
  for p in /usr/local/bin/python3 /usr/bin/python3; do [ -x "$p" ] && echo "$p"; done
  true
}

# Sets BASE_PY and ODOO_TREE (empty when BASE_PY already imports Odoo 18.0).
find_odoo() {
  BASE_PY=$(command -v python3 || true)
  [ -n "$BASE_PY" ] || die "python3 is not installed; install Python 3.10+ and retry."
  ODOO_TREE=""
  local candidate importing=""
  for candidate in $(candidate_pythons); do
    if python_imports_odoo18 "$candidate"; then importing=$candidate; break; fi
  done
  if [ -n "${ODOO_PATH:-}" ]; then
    tree_is_odoo18 "$ODOO_PATH" || die "ODOO_PATH=$ODOO_PATH is not an Odoo 18.0 server tree (no odoo/release.py of 18.0)."
    ODOO_TREE=$(cd "$ODOO_PATH" && pwd)
  elif [ -n "$importing" ]; then
    BASE_PY=$importing
    ODOO_TREE=""
  elif tree_is_odoo18 "$STATE/odoo"; then
    ODOO_TREE="$STATE/odoo"
  elif download_odoo; then
    ODOO_TREE="$STATE/odoo"
  else
    die "Odoo 18.0 not found: python3 cannot import odoo 18.0, ODOO_PATH is not set and $ODOO_SRC_URL could not be downloaded; install Odoo 18.0 so that python3 imports it, or set ODOO_PATH=/path/to/odoo-18.0 (a server tree)."
  fi
}

# --- Python environment --------------------------------------------------------
setup_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating $VENV (with the system site-packages, so an installed Odoo stays importable)"
    "$BASE_PY" -m venv --system-site-packages "$VENV" 2>/dev/null \
      || { apt_install python3-venv && "$BASE_PY" -m venv --system-site-packages "$VENV"; } \
      || die "cannot create a virtualenv with $BASE_PY; install python3-venv."
  fi
  PY="$VENV/bin/python"
  local site
  site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if [ -n "$ODOO_TREE" ]; then
    echo "$ODOO_TREE" >"$site/clinic_pbx_odoo_tree.pth"
  else
    rm -f "$site/clinic_pbx_odoo_tree.pth"
  fi
  local reqs=("$ROOT/requirements.txt" "$ROOT/requirements-test.txt")
  if [ -n "$ODOO_TREE" ] && [ -f "$ODOO_TREE/requirements.txt" ]; then
    # psycopg2 and python-ldap would need a compiler and headers; the binary wheel
    # of psycopg2 serves Odoo as well and LDAP is not used here.
    grep -viE '^(psycopg2|python-ldap)' "$ODOO_TREE/requirements.txt" >"$STATE/odoo-requirements.txt"
    echo "psycopg2-binary" >>"$STATE/odoo-requirements.txt"
    reqs+=("$STATE/odoo-requirements.txt")
  fi
  local stamp
  stamp=$(cat "${reqs[@]}" | sha1sum | cut -c1-40)
  if [ "$(cat "$VENV/.clinic_pbx_stamp" 2>/dev/null)" != "$stamp" ]; then
    say "Installing Python requirements into $VENV"
    local args=()
    for r in "${reqs[@]}"; do args+=(-r "$r"); done
    mkdir -p "$STATE"
    "$PY" -m pip install -q --disable-pip-version-check "${args[@]}" >"$STATE/pip.log" 2>&1 \
      || { tail -n 20 "$STATE/pip.log" >&2; die "pip could not install ${reqs[*]} (is PyPI reachable?)."; }
    echo "$stamp" >"$VENV/.clinic_pbx_stamp"
  fi
  python_imports_odoo18 "$PY" \
    || die "Odoo 18.0 is present but does not import in $PY: run '$PY -c \"import odoo\"' to see what is missing."
}

# --- PostgreSQL ----------------------------------------------------------------
pg_answers() {
  "$PY" - "$1" "$2" "$3" <<'EOF' >/dev/null 2>&1
import sys, psycopg2
host, port, user = sys.argv[1:4]
psycopg2.connect(host=host, port=int(port), user=user, dbname="postgres", connect_timeout=3).close()
EOF
}

setup_postgres() {
  DB_HOST="${PGHOST:-localhost}"
  DB_PORT="${PGPORT:-5432}"
  DB_USER="${PGUSER:-$(id -un)}"
  DB_PASSWORD="${PGPASSWORD:-}"
  if pg_answers "$DB_HOST" "$DB_PORT" "$DB_USER"; then
    return
  fi
  local pgdata="$ROOT/.pgdata" bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bindir" ]; then
    say "No PostgreSQL answers on $DB_HOST:$DB_PORT; installing PostgreSQL for a private cluster"
    apt_install postgresql || die "no PostgreSQL answers on $DB_HOST:$DB_PORT and none could be installed; start one or set PGHOST/PGPORT/PGUSER."
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  local as=()
  if is_root; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$pgdata" postgres
    as=(runuser -u postgres --)
  fi
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    say "Creating a private PostgreSQL cluster in $pgdata"
    mkdir -p "$pgdata"
    is_root && chown postgres "$pgdata"
    "${as[@]}" "$bindir/initdb" -D "$pgdata" -U odoo --auth=trust -E UTF8 >/dev/null
  fi
  if ! "${as[@]}" "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    "${as[@]}" "$bindir/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
      -o "-k $pgdata -c listen_addresses='' -p $PRIVATE_PG_PORT" start >/dev/null \
      || die "the private PostgreSQL cluster did not start; see $pgdata/server.log."
  fi
  DB_HOST="$pgdata"; DB_PORT="$PRIVATE_PG_PORT"; DB_USER=odoo; DB_PASSWORD=""
}

# --- Odoo configuration ------------------------------------------------------------
write_config() {
  mkdir -p "$ADDONS" "$STATE/data"
  rm -rf "$STATE/addons"  # where the link lived before: it made a loop
  ln -sfn "$ROOT" "$ADDONS/clinic_pbx"
  local core
  core=$(cd / && "$PY" -c '
import os, odoo
pkg = os.path.dirname(odoo.__file__)
paths = [os.path.join(pkg, "addons"), os.path.join(os.path.dirname(pkg), "addons")]
print(",".join(p for p in paths if os.path.isdir(os.path.join(p, "web"))))')
  # A launcher script rather than `python -m odoo`: Odoo's multi-worker mode
  # re-executes sys.argv[0] to start its websocket (gevent) process.
  printf '#!/usr/bin/env python3\nimport odoo\n\nodoo.cli.main()\n' >"$STATE/odoo-bin"
  CONF="$STATE/odoo.conf"
  cat >"$CONF" <<EOF
[options]
addons_path = $ADDONS,$core
data_dir = $STATE/data
db_host = $DB_HOST
db_port = $DB_PORT
db_user = $DB_USER
db_password = ${DB_PASSWORD:-False}
http_port = $HTTP_PORT
admin_passwd = admin
list_db = False
EOF
}

find_chromium() {
  for b in google-chrome chromium chromium-browser google-chrome-stable; do
    command -v "$b" >/dev/null 2>&1 && return 0
  done
  say "Installing Chromium for the browser tests"
  apt_install chromium || die "Chromium is needed for the browser tests and could not be installed: install the 'chromium' package."
}

# nginx from Debian's package: `make e2e` runs it in front of two Odoo nodes.
find_nginx() {
  NGINX_BIN=""
  for b in /usr/sbin/nginx "$(command -v nginx 2>/dev/null || true)"; do
    [ -n "$b" ] && [ -x "$b" ] && { NGINX_BIN=$b; return 0; }
  done
  say "Installing nginx for the end-to-end tests"
  apt_install nginx || die "nginx is needed for the end-to-end tests and could not be installed: install the 'nginx' package."
  NGINX_BIN=/usr/sbin/nginx
}

setup() {
  find_odoo
  setup_venv
  setup_postgres
  write_config
}

odoo() { (cd "$STATE" && "$PY" "$STATE/odoo-bin" -c "$CONF" "$@"); }

db_exists() {
  "$PY" - "$CONF" "$1" <<'EOF'
import configparser, sys, psycopg2
c = configparser.ConfigParser(); c.read(sys.argv[1]); o = c["options"]
pw = o.get("db_password"); pw = None if pw in (None, "False") else pw
with psycopg2.connect(host=o["db_host"], port=int(o["db_port"]), user=o["db_user"], password=pw, dbname="postgres") as cn:
    with cn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (sys.argv[2],))
        sys.exit(0 if cr.fetchone() else 1)
EOF
}

drop_db() {
  "$PY" - "$CONF" "$1" <<'EOF'
import configparser, sys, psycopg2
c = configparser.ConfigParser(); c.read(sys.argv[1]); o = c["options"]
pw = o.get("db_password"); pw = None if pw in (None, "False") else pw
cn = psycopg2.connect(host=o["db_host"], port=int(o["db_port"]), user=o["db_user"], password=pw, dbname="postgres")
cn.autocommit = True
cn.cursor().execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % sys.argv[2].replace('"', ''))
EOF
  rm -rf "$STATE/data/filestore/$1"
}

# Installs clinic_pbx into a new database and fails on any error in the log.
install_db() {
  local db=$1; shift
  local log="$STATE/install-$db.log"
  drop_db "$db"
  say "Installing clinic_pbx into a new database '$db' (log: $log)"
  if ! odoo -d "$db" -i clinic_pbx --stop-after-init --no-http --log-level=info "$@" >"$log" 2>&1 \
      || grep -Eq ' (ERROR|CRITICAL) ' "$log"; then
    grep -E ' (ERROR|CRITICAL|WARNING) ' -A20 "$log" | head -n 80 >&2
    die "installing clinic_pbx into '$db' failed; see $log."
  fi
}

OCA_CHECK='import importlib, sys; sys.argv.pop(0); main = importlib.import_module(sys.argv[0]).main; sys.exit(main())'
cmd_lint() {
  setup_venv_only
  say "ruff"
  "$PY" -m ruff check "$ROOT"
  "$PY" -m ruff format --check "$ROOT"
  say "pylint-odoo (mandatory checks)"
  (cd "$ADDONS" && "$PY" -m pylint --rcfile="$ROOT/.pylintrc-mandatory" clinic_pbx)
  say "oca-checks-odoo-module and oca-checks-po (XML, CSV and translation checks)"
  # Through the module, not the console script: with a requirement already
  # met by the system's site-packages, pip puts no script into the venv.
  (cd "$ADDONS" && "$PY" -c "$OCA_CHECK" oca_pre_commit_hooks.cli clinic_pbx)
  if compgen -G "$ROOT/i18n/*.po*" >/dev/null; then
    "$PY" -c "$OCA_CHECK" oca_pre_commit_hooks.cli_po "$ROOT"/i18n/*.po*
  fi
}

setup_venv_only() {
  find_odoo
  setup_venv
  mkdir -p "$ADDONS"
  ln -sfn "$ROOT" "$ADDONS/clinic_pbx"
}

run_pytest() {
  (cd "$ADDONS/clinic_pbx" && \
    PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" CLINIC_PBX_CONF="$CONF" \
    "$PY" -m pytest -p pytest_clinic_pbx -c "$ROOT/scripts/pytest.ini" --rootdir "$ADDONS/clinic_pbx" \
      --odoo-config="$CONF" --odoo-database="$TEST_DB" --odoo-http --odoo-log-level=warn "$@")
}

cmd_test() {
  setup
  find_chromium
  cmd_lint
  install_db "$TEST_DB" --without-demo=all
  say "Running the test suite (pytest-odoo, with an HTTP server and headless Chromium)"
  local rc=0
  run_pytest "$ADDONS/clinic_pbx/tests" ${PYTEST_ARGS:-} || rc=$?
  [ "${KEEP_DB:-0}" = 1 ] || drop_db "$TEST_DB"
  return $rc
}

# Real servers after the suite (tests/e2e, which `make test` does not
# collect): a database of its own, Odoo through odoo-bin with --workers=2,
# a PostgreSQL failover under load, two nodes behind nginx. E2E_RATE and
# E2E_SECONDS set the load (default 30 events/s for 60 s); logs go to
# .build/e2e/; E2E_KEEP_DB=1 keeps the database for a look afterwards.
cmd_e2e() {
  setup
  find_nginx
  local logs="$STATE/e2e"
  rm -rf "$logs" && mkdir -p "$logs"
  say "End-to-end tests: load and failover on --workers=2, two nodes behind nginx (logs: $logs)"
  (cd "$ADDONS/clinic_pbx/tests/e2e" && \
    CLINIC_PBX_CONF="$CONF" E2E_NGINX="$NGINX_BIN" E2E_LOGS="$logs" \
    "$PY" -m pytest -c pytest.ini "$@")
}

# For development: pytest against $TEST_DB as it is (installed first when
# missing, updated with UPDATE=1), e.g. scripts/clinic.sh pytest tests/test_x.py -k name
cmd_pytest() {
  setup
  if ! db_exists "$TEST_DB"; then
    install_db "$TEST_DB" --without-demo=all
  elif [ "${UPDATE:-0}" = 1 ]; then
    say "Updating clinic_pbx in '$TEST_DB'"
    odoo -d "$TEST_DB" -u clinic_pbx --stop-after-init --no-http --log-level=warn
  fi
  local args=()
  for a in "$@"; do
    case "$a" in
      tests/*) args+=("$ADDONS/clinic_pbx/$a") ;;
      *) args+=("$a") ;;
    esac
  done
  [ ${#args[@]} -gt 0 ] || args=("$ADDONS/clinic_pbx/tests")
  run_pytest "${args[@]}"
}

cmd_run() {
  setup
  local update=()
  if ! db_exists "$RUN_DB"; then
    install_db "$RUN_DB"
  else
    # An existing demo database gets the checkout's version of the module.
    update=(-u clinic_pbx)
  fi
  say "Odoo with clinic_pbx and its demo data: http://localhost:$HTTP_PORT (login admin / admin)"
  odoo -d "$RUN_DB" --db-filter="^$RUN_DB\$" --http-port="$HTTP_PORT" "${update[@]}"
}

cmd_bench() {
  setup
  (cd "$ROOT" && CLINIC_PBX_CONF="$CONF" "$PY" -m bench "$@")
}

cmd_env() {
  # Prints the resolved environment, for scripts and for people debugging set-up.
  setup
  echo "PY=$PY"
  echo "CONF=$CONF"
  echo "ADDON=$ADDONS/clinic_pbx"
}

# --- make ring: a live incoming-call pop-up on the demo server ----------------
# Gives the demo PBX connection (clinic_pbx.demo_connection) an API token kept
# in .build/ring-token-$RUN_DB, picks a demo patient who has called before and
# plays a call to the shared reception extension 101 (anna and maria) with the
# PBX simulator. RING_ARGS replaces the scenario, e.g.
# RING_ARGS="missed --extension 102 --ring-seconds 15" make ring.
cmd_ring() {
  setup
  db_exists "$RUN_DB" || die "no demo database '$RUN_DB' yet: start the demo server with 'make run' first."
  local token_file="$STATE/ring-token-$RUN_DB" number
  [ -s "$token_file" ] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$token_file"
  number=$(cd "$STATE" && PBX_RING_TOKEN=$(cat "$token_file") "$PY" -m odoo shell -c "$CONF" -d "$RUN_DB" --no-http --log-level=warn <<'EOF' 2>/dev/null | sed -n 's/^RING_FROM=//p'
import os
from odoo.addons.clinic_pbx.models.pbx_connection import hash_token
token = os.environ["PBX_RING_TOKEN"]
connection = env.ref("clinic_pbx.demo_connection").sudo()
if connection.token_hash != hash_token(token):
    connection.write({"token_hash": hash_token(token), "token_hint": "…" + token[-4:]})
    env.cr.commit()
call = env["pbx.call"].search([("partner_id", "!=", False), ("direction", "=", "incoming")], limit=1)
patient = call.partner_id
print("RING_FROM=" + (patient.mobile or patient.phone or "+7 916 123-45-67"))
EOF
)
  [ -n "$number" ] || die "could not prepare the demo connection of '$RUN_DB' (does it have the demo data?)."
  say "Ringing on http://localhost:$HTTP_PORT — log in as anna/anna or maria/maria (extension 101) to see the pop-up"
  # shellcheck disable=SC2086  # RING_ARGS is a list of arguments
  PBX_URL="http://localhost:$HTTP_PORT" PBX_TOKEN=$(cat "$token_file") PBX_FROM="$number" \
    "$PY" "$ROOT/scripts/pbx_simulator.py" ${RING_ARGS:-answered --extension 101 --ring-seconds 30 --talk-seconds 20}
}

case "${1:-}" in
  run) shift; cmd_run "$@" ;;
  test) shift; cmd_test "$@" ;;
  e2e) shift; cmd_e2e "$@" ;;
  bench) shift; cmd_bench "$@" ;;
  lint) shift; cmd_lint "$@" ;;
  env) shift; cmd_env "$@" ;;
  pytest) shift; cmd_pytest "$@" ;;
  ring) shift; cmd_ring "$@" ;;
  *) die "usage: scripts/clinic.sh run|test|e2e|bench|lint|env|ring" ;;
esac
