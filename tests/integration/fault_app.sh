#!/bin/sh
# Fault injection: the application misbehaves, and the agent must say what
# happened (reason and detail in status) and give the right verdict on
# /health, not merely survive.
#   - hangs mid-response (headers sent, body never comes): timeout, "body
#     stalled"; accepts connections but never answers: timeout, "no
#     response"; both 503 after fall runs, 200 again after rise;
#   - answers slowly: within the check timeout it is UP (slow is not sick)
#     and the latency shows in status; under a load that pushes the answer
#     past the timeout it is DOWN with reason timeout, never refused; when
#     the load stops it is UP again. (The rule is documented in
#     healthagent.conf(5), "Unhealthy or overloaded".)
#   - forks away from its pid: with the pidfile rewritten by the new
#     process, no false DOWN; with the pidfile left naming the dead parent,
#     DOWN "not running";
#   - pidfile deleted: DOWN "not found"; replaced by garbage: DOWN "bad
#     pid" (reason error); replaced by another live pid: followed when the
#     check has only the pidfile, "does not match" when it also names the
#     process (proc_name).
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
APORT=$(free_port)
mkdir "$T/ctl"
start_fakeapp "$APORT" --control-dir "$T/ctl" --slow-ms 150
ok $? "fake app is up"
APP="http://127.0.0.1:$APORT"
write_conf <<EOF2
checks = (
  { name = "web"; type = "http"; url = "$APP/healthz"; expect_body = "ok";
    interval = 1.0; timeout = 0.8; rise = 1; fall = 2; },
  { name = "app"; type = "process"; pidfile = "$T/app.pid";
    interval = 0.3; rise = 1; fall = 1; },
  { name = "appn"; type = "process"; pidfile = "$T/app.pid";
    proc_name = "fakeapp"; interval = 0.3; rise = 1; fall = 1; } );
EOF2
start_agent
ok $? "agent started"
wait_for 15 http_is 200 "$(health_url)"
ok $? "healthy while the app answers"

# cf CHECK FIELD: a field of one check from status --json.
cf() {
	status --json 2>/dev/null | python3 -c '
import json, sys
for c in json.load(sys.stdin)["checks"]:
    if c["name"] == sys.argv[1]:
        print(c[sys.argv[2]])' "$1" "$2"
}
# gone PID: no such process, or only a zombie waiting for its reaper.
gone() {
	! kill -0 "$1" 2>/dev/null || grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat"
}
cf_is() { [ "$(cf "$1" "$2")" = "$3" ]; }
cf_has() { cf "$1" "$2" | grep -q -- "$3"; }

# ---- hangs mid-response ----
curl -s -m 2 "$APP/control/stall" >/dev/null
wait_for 15 http_is 503 "$(health_url)"
ok $? "stall: 503 once the app hangs mid-response"
is "$(cf web state)/$(cf web reason)" "down/timeout" "stall: web is down, reason timeout"
cf_has web detail "body stalled"
ok $? "stall: the detail says the headers came and the body stalled ($(cf web detail))"
curl -s -m 2 "$APP/control/ok" >/dev/null
wait_for 15 http_is 200 "$(health_url)"
ok $? "stall over: 200 again"

# ---- accepts but never answers ----
touch "$T/ctl/noaccept"
wait_for 15 http_is 503 "$(health_url)"
ok $? "noaccept: 503 while connections are never answered"
is "$(cf web reason)" "timeout" "noaccept: reason timeout (not refused)"
cf_has web detail "no response"
ok $? "noaccept: the detail says no response ($(cf web detail))"
rm -f "$T/ctl/noaccept"
wait_for 15 http_is 200 "$(health_url)"
ok $? "noaccept over: 200 again"

# ---- slow, then overloaded ----
curl -s -m 2 "$APP/control/slow" >/dev/null
runs0=$(cf web runs)
wait_for 15 sh -c "[ \$(\"$HEALTHAGENT\" status --json -s '$T/agent.sock' | python3 -c 'import json,sys; print([c for c in json.load(sys.stdin)[\"checks\"] if c[\"name\"]==\"web\"][0][\"runs\"])') -ge $((runs0 + 3)) ]"
ok $? "slow: three more runs"
lat=$(cf web latency_ms)
is "$(cf web state)/$(cf web consecutive_fail)" "up/0" "slow (150 ms per answer, timeout 800 ms): still up, no failure"
python3 -c "import sys; sys.exit(0 if float('$lat') >= 100 else 1)"
ok $? "slow: the latency shows in status ($lat ms)"
is "$(http_code "$(health_url)")" 200 "slow: /health 200"

# Load: 12 clients in a loop; each answer waits for the ones before it,
# so the agent's request waits about 12 x 150 ms > 800 ms.
echo >"$T/load.run"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	(while [ -e "$T/load.run" ]; do
		curl -s -o /dev/null -m 10 "$APP/healthz"
	done) &
	PIDS="$PIDS $!"
done
wait_for 30 http_is 503 "$(health_url)"
ok $? "overloaded: 503 once answers take longer than the timeout, fall times"
is "$(cf web reason)" "timeout" "overloaded: reason timeout, not refused or connect"
rm -f "$T/load.run"
wait_for 30 http_is 200 "$(health_url)"
ok $? "load gone: 200 again"
curl -s -m 2 "$APP/control/ok" >/dev/null

# ---- forks away from its pid, pidfile rewritten ----
pid0=$(cat "$T/app.pid")
fails0=$(cf app failures)
curl -s -m 5 "$APP/control/fork/rewrite" >/dev/null
ok $? "fork/rewrite: the app forked"
pid1=$(cat "$T/app.pid")
[ "$pid1" != "$pid0" ] && gone "$pid0"
ok $? "fork/rewrite: the old pid $pid0 is gone, the pidfile names $pid1"
wait_for 10 cf_has app detail "pid $pid1"
ok $? "fork/rewrite: the check follows the new pid"
is "$(cf app failures)/$(cf app state)" "$fails0/up" "fork/rewrite: no false failure, still up"
is "$(http_code "$(health_url)")" 200 "fork/rewrite: /health 200"

# ---- forks away, pidfile left naming the dead parent ----
curl -s -m 5 "$APP/control/fork/keep" >/dev/null
ok $? "fork/keep: the app forked again"
gone "$pid1"
ok $? "fork/keep: pid $pid1 in the pidfile is gone"
wait_for 10 http_is 503 "$(health_url)"
ok $? "fork/keep: 503, the pidfile names a dead process"
wait_for 5 cf_is app reason process_gone
ok $? "fork/keep: reason process_gone"
wait_for 5 cf_has app detail "pid $pid1"
ok $? "fork/keep: the detail names the stale pid ($(cf app detail))"
# The app tells its pid nowhere else; fork once more with a rewrite.
curl -s -m 5 "$APP/control/fork/rewrite" >/dev/null
wait_for 10 http_is 200 "$(health_url)"
ok $? "pidfile rewritten: 200 again"
pid2=$(cat "$T/app.pid")
PIDS="$PIDS $pid2"

# ---- pidfile deleted ----
rm -f "$T/app.pid"
wait_for 10 http_is 503 "$(health_url)"
ok $? "pidfile deleted: 503"
wait_for 5 cf_is app reason process_gone
ok $? "pidfile deleted: reason process_gone"
wait_for 5 cf_has app detail "not found"
ok $? "pidfile deleted: detail 'not found'"
echo "$pid2" >"$T/app.pid"
wait_for 10 http_is 200 "$(health_url)"
ok $? "pidfile back: 200"

# ---- pidfile garbage ----
printf 'garbage\n' >"$T/app.pid"
wait_for 10 http_is 503 "$(health_url)"
ok $? "pidfile garbage: 503"
wait_for 5 cf_is app reason error
ok $? "pidfile garbage: reason error"
wait_for 5 cf_has app detail "bad pid"
ok $? "pidfile garbage: detail 'bad pid'"

# ---- pidfile replaced by another live pid ----
sleep 300 &
OTHER=$!
PIDS="$PIDS $OTHER"
echo "$OTHER" >"$T/app.pid"
wait_for 10 cf_is app state up
ok $? "another pid: a pidfile-only check follows whatever the pidfile names"
wait_for 10 cf_is appn reason process_gone
ok $? "another pid: a check that also names the process is down"
wait_for 5 cf_has appn detail "does not match"
ok $? "another pid: detail 'does not match' ($(cf appn detail))"
is "$(http_code "$(health_url)")" 503 "another pid: /health 503"
echo "$pid2" >"$T/app.pid"
wait_for 10 http_is 200 "$(health_url)"
ok $? "pidfile restored: 200"
kill -0 "$AGENT_PID"
ok $? "the agent ran through it all"
kill "$pid2" 2>/dev/null
done_testing
