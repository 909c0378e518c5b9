#!/bin/bash
# Build healthagent and run it against the sample app (tests/fakeapp) on
# loopback, showing /health and `healthagent status` as the app fails and
# recovers. Off EC2 it stands up the embedded demo backends on loopback:
# the project's IMDSv2 emulator (tests/imds_emulator.py) and, when
# moto_server is installed, a local AWS API for CloudWatch and Auto
# Scaling; without moto, IMDS is disabled and CloudWatch is off. Nothing is
# ever sent to a real AWS endpoint or to 169.254.169.254.
# DEMO_KEEP=1 leaves everything running at the end.
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
B=${BUILD_DIR:-$SRC/build-demo}
# Never reach a real AWS endpoint or the real IMDS from the demo.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent/healthagent-demo AWS_CONFIG_FILE=/nonexistent/healthagent-demo

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
		kill "${AGENT:-}" "${APP:-}" "${MOTO:-}" "${IMDS:-}" 2>/dev/null || true
		wait 2>/dev/null || true
		rm -rf "$D"
	fi
}
trap cleanup EXIT

"$B/tests/fakeapp" --port "$APP_PORT" --pidfile "$D/app.pid" >"$D/app.log" 2>&1 &
APP=$!
AWS_CONF='cloudwatch: { enabled = false; };'
if command -v moto_server >/dev/null 2>&1; then
	MOTO_PORT=${MOTO_PORT:-15000}
	moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$D/moto.log" 2>&1 &
	MOTO=$!
	python3 tests/imds_emulator.py --port-file "$D/imds.port" \
	    --set '{"instance_id": "i-0123456789abcdef0", "region": "us-east-1"}' \
	    >"$D/imds.log" 2>&1 &
	IMDS=$!
	for _ in $(seq 100); do
		[ -s "$D/imds.port" ] && curl -s "http://127.0.0.1:$MOTO_PORT/" >/dev/null && break
		sleep 0.1
	done
	AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$(cat "$D/imds.port")"
	export AWS_EC2_METADATA_SERVICE_ENDPOINT
	export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
	AWS_CONF='cloudwatch: { interval = 5; storage_resolution = 1; };'
	echo "demo backends: IMDSv2 emulator on $AWS_EC2_METADATA_SERVICE_ENDPOINT, moto on $AWS_ENDPOINT_URL"
else
	export AWS_EC2_METADATA_DISABLED=true
	echo "moto_server not installed: IMDS disabled, CloudWatch off"
fi
cat >"$D/healthagent.conf" <<CONF
health: { listen = "127.0.0.1:$PORT"; path = "/health"; start_grace = 10;
          drain_seconds = 2; verbose = true; };
agent: { socket = "$D/healthagent.sock"; state_dir = "$D/state"; };
$AWS_CONF
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
# The agent refuses a group- or world-writable config (StrictModes), and a
# umask of 002 would make this one so.
chmod 600 "$D/healthagent.conf"
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
if [ -n "${MOTO:-}" ]; then
	echo
	echo "== metrics the agent published to the local CloudWatch (moto)"
	sleep 12
	python3 - "$AWS_ENDPOINT_URL" <<'PY' || true
import sys, boto3
cw = boto3.client("cloudwatch", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="demo", aws_secret_access_key="demo")
seen = set()
for m in cw.list_metrics(Namespace="HealthAgent")["Metrics"]:
    dims = ", ".join(sorted("%s=%s" % (d["Name"], d["Value"]) for d in m["Dimensions"]))
    seen.add((m["MetricName"], dims))
for name, dims in sorted(seen):
    print("  %-22s %s" % (name, dims))
PY
fi
echo
echo "== agent log"
sed 's/^<[0-9]>//' "$D/agent.log"
if [ "${DEMO_KEEP:-0}" = 1 ]; then
	echo
	echo "left running: agent pid $AGENT on http://127.0.0.1:$PORT/health, app pid $APP"
	echo "status: $B/healthagent status -s $D/healthagent.sock"
fi
