#!/bin/bash
# Build healthagent and run it against the sample app (tests/fakeapp) on
# loopback, showing /health and `healthagent status` as the app fails and
# recovers. No AWS endpoint is contacted (AWS_EC2_METADATA_DISABLED=true).
# DEMO_KEEP=1 leaves the agent and the app running at the end.
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
B=${BUILD_DIR:-$SRC/build-demo}
export AWS_EC2_METADATA_DISABLED=true

scripts/deps-debian.sh
[ -x configure ] || ./autogen.sh
mkdir -p "$B"
if [ ! -f "$B/Makefile" ]; then
	(cd "$B" && "$SRC/configure" -q)
fi
make -s -C "$B" -j"$(nproc)" healthagent tests/fakeapp

D=$(mktemp -d /tmp/healthagent-demo.XXXXXX)
APP_PORT=${APP_PORT:-18080}
PORT=${PORT:-18099}
cleanup() {
	if [ "${DEMO_KEEP:-0}" != 1 ]; then
		kill "${AGENT:-}" "${APP:-}" 2>/dev/null || true
		wait 2>/dev/null || true
		rm -rf "$D"
	fi
}
trap cleanup EXIT

"$B/tests/fakeapp" --port "$APP_PORT" --pidfile "$D/app.pid" >"$D/app.log" 2>&1 &
APP=$!
cat >"$D/healthagent.conf" <<CONF
health: { listen = "127.0.0.1:$PORT"; path = "/health"; start_grace = 10;
          drain_seconds = 2; };
agent: { socket = "$D/healthagent.sock"; };
checks = (
  { name = "app"; type = "process"; pidfile = "$D/app.pid"; interval = 1.0; rise = 2; },
  { name = "web"; type = "http"; url = "http://127.0.0.1:$APP_PORT/healthz";
    expect_status = [200, 204]; interval = 1.0; timeout = 0.5; rise = 2; fall = 3; },
  { name = "cache"; type = "tcp"; address = "127.0.0.1:1"; scope = "dependency";
    interval = 2.0; timeout = 1.0; },
  { name = "mem"; type = "threshold"; metric = "mem_used_percent"; max = 95.0; for = 30;
    interval = 1.0; }
);
CONF
"$B/healthagent" checkconf -f "$D/healthagent.conf"
"$B/healthagent" run -f "$D/healthagent.conf" >"$D/agent.log" 2>&1 &
AGENT=$!

# until STATE: wait (up to 20 s) for the verdict to become STATE.
until_state() {
	for _ in $(seq 200); do
		curl -s "http://127.0.0.1:$PORT/health" | grep -q "\"status\":\"$1\"" && return 0
		sleep 0.1
	done
	echo "(still not $1 after 20 s)"
}

show() {
	echo
	echo "\$ curl -s http://127.0.0.1:$PORT/health"
	curl -s -w '(HTTP %{http_code})\n' "http://127.0.0.1:$PORT/health" || true
	echo "\$ healthagent status"
	"$B/healthagent" status -s "$D/healthagent.sock" || true
}

for _ in $(seq 100); do
	[ -S "$D/healthagent.sock" ] && break
	sleep 0.1
done
echo "== starting: 503 until every local check has passed once"
show
until_state degraded
echo
echo "== the app is up; the 'cache' dependency (port 1) is down: degraded, still 200"
show
echo
echo "== killing the app: the pidfd notices at once"
kill "$APP"
until_state unhealthy
show
echo
echo "== restarting the app: healthy again after rise=2 successes"
"$B/tests/fakeapp" --port "$APP_PORT" --pidfile "$D/app.pid" >"$D/app.log" 2>&1 &
APP=$!
until_state degraded
show
echo
echo "== agent log"
sed 's/^<[0-9]>//' "$D/agent.log"
if [ "${DEMO_KEEP:-0}" = 1 ]; then
	echo
	echo "left running: agent pid $AGENT on http://127.0.0.1:$PORT/health, app pid $APP"
	echo "status: $B/healthagent status -s $D/healthagent.sock"
fi
