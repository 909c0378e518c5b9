#!/bin/sh
# A dependency that is down must not make the instance unhealthy: the
# verdict is DEGRADED and the endpoint still answers 200.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
APORT=$(free_port)
DEAD=$(free_port)
start_fakeapp "$APORT"
write_conf <<EOF2
checks = (
  { name = "web"; type = "http"; url = "http://127.0.0.1:$APORT/healthz";
    interval = 0.5; timeout = 0.3; rise = 1; fall = 1; },
  { name = "redis"; type = "tcp"; address = "127.0.0.1:$DEAD";
    scope = "dependency"; interval = 0.5; timeout = 0.3; fall = 1; }
);
EOF2
start_agent
ok $? "agent started"
wait_for 10 sh -c "curl -s '$(health_url)' | grep -q degraded"
ok $? "verdict is degraded"
is "$(http_code "$(health_url)")" 200 "degraded answers 200"
status >"$T/status.out"
is "$?" 0 "status exits 0 when degraded"
grep -q "refused" "$T/status.out"
ok $? "status names the refused dependency"

kill -KILL "$FAKEAPP_PID"
wait_for 10 http_is 503 "$(health_url)"
ok $? "a local failure on top of it is unhealthy (503)"
done_testing
