#!/usr/bin/env bash
# Finds or starts Postgres and Redis for `make run` and `make test`, then prints the
# environment to use as `export` lines.
#
#   1. DATABASE_URL / REDIS_URL (or the local defaults) when they answer;
#   2. otherwise, where initdb/postgres and redis-server are installed, project-local
#      instances under .data/ on free ports (started once, reused after);
#   3. otherwise one line saying what to install, and exit status 1.
#
# Usage: eval "$(deploy/dev/services.sh)"
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
data="$root/.data"
default_db=${ALMANAC_DB_NAME:-almanac}

log() { echo "services: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

free_port() {
  local p
  for p in $(seq "$1" $(($1 + 200))); do
    if ! port_open 127.0.0.1 "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

find_bin() {
  local name=$1 dir
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/$name" ]; then echo "$dir/$name"; return 0; fi
  done
  return 1
}

# host and port of a postgres:// or redis:// URL (defaults for missing parts)
url_host() { local u=${1#*://}; u=${u#*@}; u=${u%%/*}; u=${u%%\?*}; echo "${u%%:*}"; }
url_port() { local u=${1#*://}; u=${u#*@}; u=${u%%/*}; u=${u%%\?*}; case $u in *:*) echo "${u##*:}";; *) echo "$2";; esac; }

pg_answers() {
  local url=$1 host port
  host=$(url_host "$url"); port=$(url_port "$url" 5432)
  [ -n "$host" ] || host=127.0.0.1
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$host" -p "$port" -t 2
  else
    port_open "$host" "$port"
  fi
}

redis_answers() {
  local url=$1 host port reply
  host=$(url_host "$url"); port=$(url_port "$url" 6379)
  { exec 4<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&4
  read -r -t 2 reply <&4 || { exec 4>&-; return 1; }
  exec 4>&-
  [[ $reply == +PONG* || $reply == -NOAUTH* ]]
}

# ---- Postgres ----
pg_url=""
for candidate in "${DATABASE_URL:-}" "postgres://${USER:-root}@127.0.0.1:5432/$default_db" "postgres://postgres@127.0.0.1:5432/$default_db"; do
  [ -n "$candidate" ] || continue
  if pg_answers "$candidate"; then pg_url=$candidate; break; fi
done

if [ -z "$pg_url" ]; then
  initdb=$(find_bin initdb || true); pg_ctl=$(find_bin pg_ctl || true)
  if [ -z "$initdb" ] || [ -z "$pg_ctl" ]; then
    echo "Postgres is not reachable and not installed: install PostgreSQL (e.g. 'apt-get install postgresql') or set DATABASE_URL." >&2
    exit 1
  fi
  mkdir -p "$data"
  if [ ! -f "$data/pg/PG_VERSION" ]; then
    log "initialising a project-local Postgres in .data/pg"
    # initdb refuses to run as root; use the postgres account when we are root.
    if [ "$(id -u)" = 0 ]; then
      chown -R postgres "$data" 2>/dev/null || true
      runas=(runuser -u postgres --)
    else
      runas=()
    fi
    "${runas[@]}" "$initdb" -D "$data/pg" -U almanac --auth=trust >/dev/null
  fi
  [ "$(id -u)" = 0 ] && runas=(runuser -u postgres --) || runas=()
  port=$(cat "$data/pg.port" 2>/dev/null || true)
  if [ -z "$port" ] || ! port_open 127.0.0.1 "$port"; then
    port=$(free_port 55432)
    log "starting project-local Postgres on 127.0.0.1:$port"
    "${runas[@]}" "$pg_ctl" -D "$data/pg" -l "$data/pg.log" -w \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $data/pg -c max_connections=400" start >/dev/null
    echo "$port" >"$data/pg.port"
  fi
  pg_url="postgres://almanac@127.0.0.1:$port/$default_db"
fi

# TLS to a server on loopback protects nothing and costs CPU on both ends.
case $(url_host "$pg_url") in
  127.0.0.1|localhost|::1|\[::1\])
    case $pg_url in *sslmode=*) ;; *\?*) pg_url="$pg_url&sslmode=disable" ;; *) pg_url="$pg_url?sslmode=disable" ;; esac ;;
esac
# The same server's maintenance database, where tests and the benchmark create theirs.
db_tail=${pg_url##*/}            # name?params
db_name=${db_tail%%\?*}
case $db_tail in *\?*) params="?${db_tail#*\?}" ;; *) params="" ;; esac
admin_url="${pg_url%/*}/postgres$params"

# The named database must exist (tests only need the server: they create their own).
if command -v psql >/dev/null 2>&1; then
  exists=$(psql "$admin_url" -tAc "select 1 from pg_database where datname = '$db_name'" 2>/dev/null || true)
  if [ "$exists" != 1 ]; then
    psql "$admin_url" -qc "create database \"$db_name\"" >/dev/null 2>&1 || true
  fi
fi

# ---- Redis ----
redis_url=""
for candidate in "${REDIS_URL:-}" "redis://127.0.0.1:6379"; do
  [ -n "$candidate" ] || continue
  if redis_answers "$candidate"; then redis_url=$candidate; break; fi
done

if [ -z "$redis_url" ]; then
  redis_server=$(command -v redis-server || true)
  if [ -z "$redis_server" ]; then
    echo "Redis is not reachable and not installed: install Redis (e.g. 'apt-get install redis-server') or set REDIS_URL." >&2
    exit 1
  fi
  mkdir -p "$data"
  port=$(cat "$data/redis.port" 2>/dev/null || true)
  if [ -z "$port" ] || ! redis_answers "redis://127.0.0.1:$port"; then
    port=$(free_port 56379)
    log "starting project-local Redis on 127.0.0.1:$port"
    "$redis_server" --port "$port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --dir "$data" --pidfile "$data/redis.pid" --logfile "$data/redis.log" >/dev/null
    for _ in $(seq 50); do redis_answers "redis://127.0.0.1:$port" && break; sleep 0.1; done
    echo "$port" >"$data/redis.port"
  fi
  redis_url="redis://127.0.0.1:$port"
fi

echo "export DATABASE_URL='$pg_url'"
echo "export ADMIN_DATABASE_URL='$admin_url'"
echo "export REDIS_URL='$redis_url'"
