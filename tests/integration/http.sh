#!/bin/sh
# An HTTP check against the fake app: a hung app gives 503 after
# timeout x fall, a 500 is named in status, recovery needs rise successes.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
APORT=$(free_port)
start_fakeapp "$APORT"
ok $? "fake app is up"
write_conf <<EOF2
checks = ( { name = "web"; type = "http"; url = "http://127.0.0.1:$APORT/healthz";
             expect_status = [200, 204]; expect_body = "ok";
             interval = 0.5; timeout = 0.3; rise = 2; fall = 3; } );
EOF2
start_agent
ok $? "agent started"
wait_for 10 http_is 200 "$(health_url)"
ok $? "healthy while the app answers"

curl -s "http://127.0.0.1:$APORT/control/hang" >/dev/null
wait_for 10 http_is 503 "$(health_url)"
ok $? "503 after the app hangs"
status >"$T/status.out"
grep -q "timeout" "$T/status.out"
ok $? "status says timeout"
curl -s -m 2 "$(health_url)" -o /dev/null -w '%{time_total}' >"$T/t"
ok $? "/health answers at once while the check is hung"

curl -s "http://127.0.0.1:$APORT/control/fail" >/dev/null
wait_for 10 sh -c "'$HEALTHAGENT' status -s '$T/agent.sock' | grep -q 'status 500'"
ok $? "status names 'status 500' when the app fails"

curl -s "http://127.0.0.1:$APORT/control/ok" >/dev/null
wait_for 10 http_is 200 "$(health_url)"
ok $? "200 again after rise successes"
status >/dev/null
is "$?" 0 "status exits 0 when healthy"
done_testing
