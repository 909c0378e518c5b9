#!/bin/sh
# Draining: `healthagent drain` and SIGTERM turn the endpoint to 503;
# SIGTERM then exits 0 after drain_seconds.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
DRAIN=2
write_conf <<EOF2
checks = ( { name = "mem"; type = "threshold"; metric = "mem_used_percent";
             max = 100.0; interval = 0.5; } );
EOF2
start_agent
wait_for 10 http_is 200 "$(health_url)"
ok $? "healthy"

"$HEALTHAGENT" drain -s "$T/agent.sock" >/dev/null
ok $? "drain command succeeds"
is "$(http_code "$(health_url)")" 503 "drained: 503"
curl -s "$(health_url)" | grep -q draining
ok $? "the body says draining"
"$HEALTHAGENT" undrain -s "$T/agent.sock" >/dev/null
is "$(http_code "$(health_url)")" 200 "undrained: 200"

kill -TERM "$AGENT_PID"
wait_for 5 http_is 503 "$(health_url)"
ok $? "SIGTERM: 503 while draining"
kill -0 "$AGENT_PID"
ok $? "still running during the drain"
wait "$AGENT_PID"
is "$?" 0 "exits 0 after the drain"
grep -q "drain finished" "$T/agent.log"
ok $? "the drain end is logged"
test ! -e "$T/agent.sock"
ok $? "the control socket is removed on exit"
done_testing
