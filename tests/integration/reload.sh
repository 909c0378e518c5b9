#!/bin/sh
# SIGHUP reload is parse -> validate -> swap: a bad config keeps the old
# one running; a good one is applied and keeps check state.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
APORT=$(free_port)
start_fakeapp "$APORT"
write_conf <<EOF2
checks = ( { name = "web"; type = "http"; url = "http://127.0.0.1:$APORT/healthz";
             interval = 0.5; timeout = 0.3; } );
EOF2
start_agent
wait_for 10 http_is 200 "$(health_url)"
ok $? "healthy on the first config"

printf 'checks = ( { name = "web"; type = "nope"; } );\nbogus = 1;\n' >>"$T/agent.conf"
kill -HUP "$AGENT_PID"
wait_for 10 grep -q "keeping the running configuration" "$T/agent.log"
ok $? "a bad config on SIGHUP is rejected and logged"
kill -0 "$AGENT_PID"
ok $? "the agent is still running"
is "$(http_code "$(health_url)")" 200 "the old config still serves 200"
status >"$T/status.out"
grep -q "Reload: 1 failed" "$T/status.out"
ok $? "status reports the failed reload"
grep -q "web" "$T/status.out"
ok $? "the old checks are still there"

write_conf <<EOF2
checks = ( { name = "web"; type = "http"; url = "http://127.0.0.1:$APORT/healthz";
             interval = 0.5; timeout = 0.3; },
           { name = "app"; type = "process"; pidfile = "$T/app.pid"; } );
EOF2
kill -HUP "$AGENT_PID"
wait_for 10 sh -c "'$HEALTHAGENT' status -s '$T/agent.sock' | grep -q '^app '"
ok $? "a good config on SIGHUP adds the new check"
wait_for 10 http_is 200 "$(health_url)"
ok $? "still healthy after the reload"
done_testing
