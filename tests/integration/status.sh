#!/bin/sh
# The status CLI and the endpoint's other paths: exit codes, JSON,
# /status, /metrics, 404 and 405.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
HEALTH_EXTRA="verbose = true;"
write_conf <<EOF2
checks = ( { name = "mem"; type = "threshold"; metric = "mem_used_percent";
             max = 100.0; interval = 0.5; },
           { name = "never"; type = "threshold"; metric = "mem_used_percent";
             max = 0.001; interval = 0.5; fall = 1; } );
EOF2
status >/dev/null 2>&1
is "$?" 3 "status exits 3 when the agent is unreachable"
start_agent
wait_for 10 sh -c "curl -s '$(health_url)' | grep -q '\"name\":\"never\"'"
ok $? "a breached threshold is unhealthy, and /health names it"
status >"$T/out"
is "$?" 1 "status exits 1 when not healthy"
grep -q "never" "$T/out" && grep -q "threshold" "$T/out"
ok $? "status table lists the check and its type"
grep -q "Samples:.*mem" "$T/out"
ok $? "status shows the samples"
status --json >"$T/json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["state"]=="unhealthy"; assert len(d["checks"])==2' "$T/json"
ok $? "status --json is valid JSON with the state and checks"
"$HEALTHAGENT" stat -s "$T/agent.sock" >/dev/null
is "$?" 1 "a unique prefix works (stat)"
is "$(http_code "http://127.0.0.1:$PORT/status")" 200 "/status from loopback"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^healthagent_check_up{check="never",scope="local"} 0'
ok $? "/metrics exposes per-check gauges"
is "$(http_code "http://127.0.0.1:$PORT/nope")" 404 "unknown path: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$(health_url)")" 405 "POST: 405"
is "$(curl -s -o /dev/null -w '%{http_code}' -I "$(health_url)")" 503 "HEAD works"
"$HEALTHAGENT" version | grep -q "healthagent "
ok $? "version"
"$HEALTHAGENT" --help | grep -q checkconf
ok $? "--help lists the commands"
"$HEALTHAGENT" bogus >/dev/null 2>&1
is "$?" 2 "an unknown command is a usage error"
done_testing
