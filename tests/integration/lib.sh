# Shared helpers for the integration tests: TAP output, temp dirs, free
# ports, starting the real agent and the fake app, and polling.
# Every address used is on loopback.

set -u
: "${HEALTHAGENT:?HEALTHAGENT must point at the built binary}"
: "${FAKEAPP:?FAKEAPP must point at the built tests/fakeapp}"
: "${top_srcdir:=.}"
export AWS_EC2_METADATA_DISABLED=true

T=$(mktemp -d "${TMPDIR:-/tmp}/ha-test.XXXXXX")
tap_n=0
tap_failed=0
PIDS=""

cleanup() {
	for p in $PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$tap_failed" -ne 0 ] && [ -f "$T/agent.log" ]; then
		echo "# agent log:"
		sed 's/^/#   /' "$T/agent.log" | tail -n 40
	fi
	rm -rf "$T"
}
trap cleanup EXIT

ok() { # ok STATUS description
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

is() { # is GOT WANT description
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got '$1', want '$2'"
	fi
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}

require() { # fail (never skip) when a tool the test needs is missing
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "Bail out! required tool '$tool' is not installed"
			exit 1
		fi
	done
}
require curl python3

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS command...: poll every 50 ms until the command succeeds.
wait_for() {
	local limit=$1 i=0
	shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -ge $((limit * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

http_code() { # http_code URL
	curl -s -o /dev/null -m 5 -w '%{http_code}' "$1"
}

http_is() { # http_is CODE URL: true when URL answers CODE
	[ "$(http_code "$2")" = "$1" ]
}

# start_fakeapp PORT [args]: the sample app; its pid is in FAKEAPP_PID.
start_fakeapp() {
	local port=$1
	shift
	"$FAKEAPP" --port "$port" --pidfile "$T/app.pid" "$@" \
	    >"$T/fakeapp.log" 2>&1 &
	FAKEAPP_PID=$!
	PIDS="$PIDS $FAKEAPP_PID"
	wait_for 10 http_is 200 "http://127.0.0.1:$port/healthz"
}

# write_conf: write $T/agent.conf from a heredoc on stdin, with the
# health and agent groups filled in from PORT and the test dir (more
# health settings from HEALTH_EXTRA, e.g. "verbose = true;").
write_conf() {
	{
		echo "health: { listen = \"127.0.0.1:$PORT\"; path = \"/health\";"
		echo "  start_grace = ${GRACE:-0}; drain_seconds = ${DRAIN:-1};"
		echo "  header_timeout = ${HEADER_TIMEOUT:-5.0}; ${HEALTH_EXTRA:-}};"
		echo "agent: { socket = \"$T/agent.sock\"; log_level = \"debug\"; };"
		cat
	} >"$T/agent.conf"
}

# start_agent: run the agent on $T/agent.conf; pid in AGENT_PID.
start_agent() {
	"$HEALTHAGENT" run -f "$T/agent.conf" >"$T/agent.log" 2>&1 &
	AGENT_PID=$!
	PIDS="$PIDS $AGENT_PID"
	wait_for 10 test -S "$T/agent.sock"
}

status() { # status [args]: the CLI against this test's agent
	"$HEALTHAGENT" status -s "$T/agent.sock" "$@"
}

health_url() {
	echo "http://127.0.0.1:$PORT/health"
}
