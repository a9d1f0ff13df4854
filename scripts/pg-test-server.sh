#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite.
#
#   scripts/pg-test-server.sh start    # start (or reuse) the server; prints its asyncpg URL on stdout
#   scripts/pg-test-server.sh url      # print the URL of the running server
#   scripts/pg-test-server.sh status   # exit 0 when it runs
#   scripts/pg-test-server.sh stop     # stop it and delete its data
#
# The cluster lives in a temporary directory (PG_TEST_DIR, by default one per checkout under /tmp), listens
# on 127.0.0.1 only (port 55432 or the next free one; PG_TEST_PORT to choose), keeps its unix socket in that
# directory and trusts every local connection. Durability is switched off: the data is thrown away.
#
# The server binaries are looked up under /usr/lib/postgresql/*/bin (newest first), then on PATH. When none
# are found and we are root with CI=true or INSTALL_PG=1, Debian's postgresql package is installed with apt.
# initdb refuses to run as root, so as root the server runs as the "postgres" OS user (created if missing).
#
# Everything but the URL goes to stderr, so `url=$(scripts/pg-test-server.sh start)` works.
set -euo pipefail

DB_NAME="${PG_TEST_DB:-dienhinh_test}"
SUPERUSER="postgres"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_KEY="$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)"
STATE_DIR="${PG_TEST_DIR:-${TMPDIR:-/tmp}/dienhinh-pg-$(id -u)-$REPO_KEY}"
DATA_DIR="$STATE_DIR/data"
SOCKET_DIR="$STATE_DIR/sock"
LOG_FILE="$STATE_DIR/server.log"
PORT_FILE="$STATE_DIR/port"
FIRST_PORT="${PG_TEST_PORT:-55432}"

log() { printf 'pg-test-server: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

find_bindir() {
    local dir
    # Newest major version first.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
        if [[ -x "$dir/pg_ctl" && -x "$dir/initdb" && -x "$dir/postgres" ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    return 1
}

install_postgres() {
    if [[ "$(id -u)" != 0 ]]; then
        die "no PostgreSQL server binaries (initdb, pg_ctl) found; install Debian's 'postgresql' package"
    fi
    if [[ "${CI:-}" != "true" && "${INSTALL_PG:-}" != "1" ]]; then
        die "no PostgreSQL server binaries found; run with INSTALL_PG=1 to install them with apt-get"
    fi
    command -v apt-get >/dev/null 2>&1 || die "no PostgreSQL server binaries and no apt-get to install them"
    log "installing PostgreSQL with apt-get (CI=${CI:-} INSTALL_PG=${INSTALL_PG:-})"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the package from creating and starting its own cluster on port 5432: we only want the binaries.
    mkdir -p /etc/postgresql-common/createcluster.d
    printf 'create_main_cluster = false\n' >/etc/postgresql-common/createcluster.d/dienhinh-no-main.conf
    apt-get update -qq </dev/null >&2
    apt-get install -y -qq --no-install-recommends postgresql </dev/null >&2
}

BINDIR="$(find_bindir || true)"

need_bindir() {
    if [[ -z "$BINDIR" ]]; then
        install_postgres
        BINDIR="$(find_bindir || true)"
        [[ -n "$BINDIR" ]] || die "PostgreSQL was installed but no initdb/pg_ctl was found"
    fi
}

# Run a server command as the cluster's owner: ourselves, or "postgres" when we are root.
RUN_AS=""
if [[ "$(id -u)" == 0 ]]; then
    RUN_AS="${PG_TEST_OS_USER:-postgres}"
fi

ensure_os_user() {
    [[ -n "$RUN_AS" ]] || return 0
    if ! id "$RUN_AS" >/dev/null 2>&1; then
        log "creating OS user $RUN_AS to run the server (initdb refuses root)"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RUN_AS" \
            || die "could not create OS user $RUN_AS"
    fi
}

as_owner() {
    if [[ -n "$RUN_AS" ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$RUN_AS" -- "$@"
        else
            su -s /bin/sh "$RUN_AS" -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

port_in_use() {
    # A TCP connect that succeeds means something listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

is_running() {
    [[ -n "$BINDIR" && -f "$DATA_DIR/postmaster.pid" ]] || return 1
    as_owner "$BINDIR/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1
}

print_url() {
    [[ -f "$PORT_FILE" ]] || die "not started (no $PORT_FILE); run: $0 start"
    printf 'postgresql+asyncpg://%s@127.0.0.1:%s/%s\n' "$SUPERUSER" "$(cat "$PORT_FILE")" "$DB_NAME"
}

init_cluster() {
    rm -rf "$STATE_DIR"
    mkdir -p "$STATE_DIR"
    # Only the owner's directory, even under /tmp.
    chmod 700 "$STATE_DIR"
    mkdir -p "$SOCKET_DIR"
    if [[ -n "$RUN_AS" ]]; then
        chown -R "$RUN_AS": "$STATE_DIR"
    fi
    log "initdb in $DATA_DIR ($("$BINDIR/postgres" --version))"
    as_owner "$BINDIR/initdb" -D "$DATA_DIR" -U "$SUPERUSER" --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$STATE_DIR/initdb.log" 2>&1 \
        || as_owner "$BINDIR/initdb" -D "$DATA_DIR" -U "$SUPERUSER" --auth=trust -E UTF8 --no-locale \
            >"$STATE_DIR/initdb.log" 2>&1 \
        || { cat "$STATE_DIR/initdb.log" >&2; die "initdb failed"; }
}

start_server() {
    local port="$FIRST_PORT" tries=0
    while ((tries < 50)); do
        if port_in_use "$port"; then
            port=$((port + 1)); tries=$((tries + 1))
            continue
        fi
        if as_owner "$BINDIR/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 start -o \
            "-p $port -k $SOCKET_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            >/dev/null 2>&1; then
            if [[ -n "$RUN_AS" ]]; then
                printf '%s\n' "$port" | as_owner tee "$PORT_FILE" >/dev/null
            else
                printf '%s\n' "$port" >"$PORT_FILE"
            fi
            log "server up on 127.0.0.1:$port (log: $LOG_FILE)"
            return 0
        fi
        log "could not start on port $port; trying the next one"
        port=$((port + 1)); tries=$((tries + 1))
    done
    tail -n 30 "$LOG_FILE" >&2 || true
    die "could not start PostgreSQL"
}

create_database() {
    local port exists
    port="$(cat "$PORT_FILE")"
    exists="$(as_owner "$BINDIR/psql" -h "$SOCKET_DIR" -p "$port" -U "$SUPERUSER" -d postgres -Atq \
        -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")"
    if [[ "$exists" != 1 ]]; then
        as_owner "$BINDIR/createdb" -h "$SOCKET_DIR" -p "$port" -U "$SUPERUSER" "$DB_NAME"
    fi
}

cmd_start() {
    need_bindir
    ensure_os_user
    if is_running && [[ -f "$PORT_FILE" ]]; then
        log "already running"
    else
        init_cluster
        start_server
    fi
    create_database
    print_url
}

cmd_stop() {
    if is_running; then
        as_owner "$BINDIR/pg_ctl" -D "$DATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
        log "stopped"
    fi
    rm -rf "$STATE_DIR"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
url)
    is_running || die "not running; run: $0 start"
    print_url
    ;;
status)
    if is_running; then
        log "running: $(print_url)"
    else
        log "not running"
        exit 1
    fi
    ;;
*)
    echo "usage: $0 start|stop|url|status" >&2
    exit 2
    ;;
esac
