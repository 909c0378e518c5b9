#!/bin/sh
# A process check on the fake app's pidfile: killing the app turns /health
# to 503 (the pidfd notices at once), status names the reason, and a
# restarted app (new pid in the rewritten pidfile) brings it back.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
APORT=$(free_port)
start_fakeapp "$APORT"
ok $? "fake app is up"
write_conf <<EOF2
checks = ( { name = "app"; type = "process"; pidfile = "$T/app.pid";
             interval = 5.0; timeout = 1.0; rise = 1; fall = 3; } );
EOF2
start_agent
ok $? "agent started"
wait_for 10 http_is 200 "$(health_url)"
ok $? "healthy while the app runs"

kill -KILL "$FAKEAPP_PID"
# interval is 5 s and fall is 3: only the pidfd can make this quick, but the
# assertion stays generous; bench/ measures the real latency.
wait_for 10 http_is 503 "$(health_url)"
ok $? "/health is 503 after the app is killed"
status >"$T/status.out"
is "$?" 1 "status exits 1 when unhealthy"
grep -q "process_gone" "$T/status.out"
ok $? "status names the reason (process_gone)"
grep -q "exited\|not running" "$T/status.out"
ok $? "status says the process exited"
# health.verbose defaults to false: the body is the verdict and nothing else.
is "$(curl -s "$(health_url)")" '{"status":"unhealthy"}' \
    "by default the /health body is only the verdict"
curl -s "$(health_url)" | grep -q 'app\|process_gone\|reason\|failing'
is "$?" 1 "by default the /health body names no check and no reason"
HEALTH_EXTRA="verbose = true;" write_conf <<EOF2
checks = ( { name = "app"; type = "process"; pidfile = "$T/app.pid";
             interval = 5.0; timeout = 1.0; rise = 1; fall = 3; } );
EOF2
kill -HUP "$AGENT_PID"
wait_for 10 sh -c "curl -s '$(health_url)' | grep -q '\"name\":\"app\"'"
ok $? "with health.verbose = true (reloaded) the /health body names the failing check"
curl -s "$(health_url)" | grep -q 'process_gone'
ok $? "...and its reason"

rm -f "$T/app.pid"
start_fakeapp "$APORT"
wait_for 15 http_is 200 "$(health_url)"
ok $? "a restarted app with a rewritten pidfile is followed: 200 again"
grep -q "check app: down -> up" "$T/agent.log"
ok $? "the transition is logged"
done_testing
