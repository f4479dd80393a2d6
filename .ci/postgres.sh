#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the store/sqlstore tests: installed from
# Debian when missing, initialized in a temporary directory with trust
# authentication, listening on 127.0.0.1 on a free port, removed when done.
#
# CI (.ci/run) uses "start" and "stop". A developer can do the same by hand:
#
#   .ci/postgres.sh run go test ./store/sqlstore/     # start, run, stop
#
#   eval "$(.ci/postgres.sh start)"                   # exports MAILCORRELATE_TEST_POSTGRES
#   go test ./store/sqlstore/                         # and MAILCORRELATE_PGDATA
#   .ci/postgres.sh stop                              # stops and removes the cluster
#
#   .ci/postgres.sh halt DIR      # outage tests: stop the server at once (as a crash),
#   .ci/postgres.sh restart DIR   # keeping its data; start it again on the same port
#
# "start" prints only the export lines on stdout (everything else goes to
# stderr), so its output can be eval'ed. Environment knobs:
#   MAILCORRELATE_PG_FSYNC=on   keep fsync on (default off: the cluster is
#                               thrown away; turn it on to measure benchmarks)
#   MAILCORRELATE_PG_PORT=N     use port N instead of a random free one
#
# Running as root (CI does), initdb and the server run as the "postgres" user,
# which the Debian package creates.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

# find_bindir prints the directory holding initdb and pg_ctl, or nothing.
find_bindir() {
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v pg_ctl)")"
		return
	fi
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return
		fi
	done
}

install_postgres() {
	log "initdb/pg_ctl not found: installing PostgreSQL from Debian"
	if [ "$(id -u)" -ne 0 ]; then
		log "not root: install the postgresql package (apt-get install -y postgresql) and retry"
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends postgresql >&2
}

# as_owner runs a command as the cluster's owner: "postgres" when we are root.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
		fi
	else
		"$@"
	fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
	local bindir dir port tries opts
	bindir=$(find_bindir)
	if [ -z "$bindir" ]; then
		install_postgres
		bindir=$(find_bindir)
	fi
	if [ -z "$bindir" ]; then
		log "PostgreSQL binaries still not found after installing"
		return 1
	fi
	"$bindir/postgres" --version >&2

	dir=$(mktemp -d "${TMPDIR:-/tmp}/mailcorrelate-pg.XXXXXX")
	chmod 755 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			log "running as root but there is no postgres user to run the server"
			return 1
		fi
		chown postgres: "$dir"
	fi
	as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		return 1
	}

	local fsync=${MAILCORRELATE_PG_FSYNC:-off}
	for tries in 1 2 3 4 5 6 7 8; do
		port=${MAILCORRELATE_PG_PORT:-$((20000 + RANDOM % 30000))}
		if port_in_use "$port"; then
			continue
		fi
		opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=$fsync -c max_connections=200"
		if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$opts" start >&2; then
			echo "$opts" >"$dir/server.opts"
			echo "export MAILCORRELATE_TEST_POSTGRES='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
			echo "export MAILCORRELATE_PGDATA='$dir'"
			log "PostgreSQL listening on 127.0.0.1:$port (data in $dir, fsync=$fsync)"
			return 0
		fi
		cat "$dir/server.log" >&2 || true
		[ -n "${MAILCORRELATE_PG_PORT:-}" ] && break
	done
	log "could not start PostgreSQL"
	rm -rf "$dir"
	return 1
}

stop() {
	local dir=${1:-${MAILCORRELATE_PGDATA:-}} bindir
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then
		log "stop: no cluster directory (pass it or set MAILCORRELATE_PGDATA)"
		return 0
	fi
	case "$dir" in
	*/mailcorrelate-pg.*) ;;
	*) log "stop: $dir is not a directory this script made"; return 1 ;;
	esac
	bindir=$(find_bindir)
	if [ -n "$bindir" ] && [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
	fi
	rm -rf "$dir"
	log "stopped and removed $dir"
}

# cluster_dir checks that DIR is a cluster this script made.
cluster_dir() {
	local dir=${1:-${MAILCORRELATE_PGDATA:-}}
	case "$dir" in
	*/mailcorrelate-pg.*) [ -d "$dir/data" ] && echo "$dir" && return 0 ;;
	esac
	log "$dir is not a cluster this script made"
	return 1
}

# halt stops the server of DIR at once (immediate mode: no checkpoint, as a
# crash or a pulled cable would), keeping its data for restart.
halt() {
	local dir
	dir=$(cluster_dir "${1:-}")
	as_owner "$(find_bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >&2
}

# restart starts the server of DIR again, with the options (and port) it
# was started with.
restart() {
	local dir
	dir=$(cluster_dir "${1:-}")
	as_owner "$(find_bindir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/server.opts")" start >&2
}

run() {
	local env
	env=$(start)
	eval "$env"
	trap 'stop "$MAILCORRELATE_PGDATA"' EXIT
	"$@"
}

case "${1:-}" in
start) start ;;
stop) shift; stop "$@" ;;
run) shift; run "$@" ;;
halt) shift; halt "$@" ;;
restart) shift; restart "$@" ;;
*)
	echo "usage: $0 start | stop [DIR] | run COMMAND [ARG...] | halt DIR | restart DIR" >&2
	exit 2
	;;
esac
