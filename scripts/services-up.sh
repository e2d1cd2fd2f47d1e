#!/usr/bin/env bash
# Make sure PostgreSQL, MariaDB and Redis answer on loopback (127.0.0.1:5432, :3306, :6379).
# Idempotent: a service that already answers is left alone; a missing one is installed from Debian packages
# and started without systemd (as root). Creates a `whalefall` login (password `whalefall`) and database on
# PostgreSQL and MariaDB for development. This is the project's own copy, run by .ci/run and scripts/dev.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
STATE=${WF_SERVICES_DIR:-/tmp/wf-services}; mkdir -p "$STATE"

need=()
up 5432 || command -v pg_ctlcluster >/dev/null || need+=(postgresql)
up 3306 || command -v mariadbd >/dev/null || need+=(mariadb-server)
up 6379 || command -v redis-server >/dev/null || need+=(redis-server)
if ((${#need[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! up 5432; then
  PGVER=$(ls /usr/lib/postgresql | sort -V | tail -1)
  pg_lsclusters -h | grep -q "^$PGVER main" || pg_createcluster "$PGVER" main
  pg_ctlcluster --skip-systemctl-redirect "$PGVER" main start 2>/dev/null || pg_ctlcluster "$PGVER" main start
  for _ in $(seq 1 100); do up 5432 && break; sleep 0.2; done
fi
su postgres -c "psql -q -v ON_ERROR_STOP=1" <<'SQL' >/dev/null
SELECT 'CREATE ROLE whalefall LOGIN SUPERUSER PASSWORD ''whalefall'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'whalefall') \gexec
SELECT 'CREATE DATABASE whalefall OWNER whalefall'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'whalefall') \gexec
SQL

if ! up 3306; then
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  install -d -o mysql -g mysql /run/mysqld
  nohup mariadbd --user=mysql --bind-address=127.0.0.1 --port=3306 --skip-name-resolve >"$STATE/mariadb.log" 2>&1 &
  echo $! >"$STATE/mariadb.pid"
  for _ in $(seq 1 150); do up 3306 && break; sleep 0.2; done
fi
mariadb --protocol=socket -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS whalefall;
CREATE USER IF NOT EXISTS 'whalefall'@'%' IDENTIFIED BY 'whalefall';
CREATE USER IF NOT EXISTS 'whalefall'@'localhost' IDENTIFIED BY 'whalefall';
GRANT ALL PRIVILEGES ON *.* TO 'whalefall'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'whalefall'@'localhost' WITH GRANT OPTION;
SQL

if ! up 6379; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
               --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log"
  for _ in $(seq 1 100); do up 6379 && break; sleep 0.05; done
fi
up 5432 && up 3306 && up 6379
echo "services up: postgresql=127.0.0.1:5432 mariadb=127.0.0.1:3306 redis=127.0.0.1:6379"
