#!/bin/sh
# Process checks that match by name, cmdline regex and user, with min/max
# counts, and a pidfile that holds garbage. Each check is read back from
# `status --json`.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
MARK="$T/marker-$$"
me=$(id -un)

# check NAME: print "state reason: detail" of one check.
check() {
	status --json | python3 -c '
import json, sys
for c in json.load(sys.stdin)["checks"]:
    if c["name"] == sys.argv[1]:
        print("%s %s: %s" % (c["state"], c["reason"], c["detail"]))' "$1"
}

# check_is NAME STATE: true when the check is in STATE.
check_is() {
	check "$1" | grep -q "^$2 "
}

echo garbage >"$T/bad.pid"
write_conf <<EOF2
checks = (
  { name = "one"; type = "process"; proc_name = "fakeapp"; cmdline = "$MARK";
    max = 1; interval = 0.3; timeout = 0.2; rise = 1; fall = 1; },
  { name = "mine"; type = "process"; cmdline = "$MARK"; user = "$me";
    interval = 0.3; timeout = 0.2; rise = 1; fall = 1; scope = "dependency"; },
  { name = "theirs"; type = "process"; cmdline = "$MARK"; user = "nobody";
    interval = 0.3; timeout = 0.2; fall = 1; scope = "dependency"; },
  { name = "badpid"; type = "process"; pidfile = "$T/bad.pid";
    interval = 0.3; timeout = 0.2; fall = 1; scope = "dependency"; }
);
EOF2
APORT=$(free_port)
"$FAKEAPP" --port "$APORT" --control-dir "$MARK" >/dev/null 2>&1 &
A1=$!
PIDS="$PIDS $A1"
start_agent
ok $? "agent started"

wait_for 10 check_is one up
ok $? "name + cmdline regex: one matching process is up"
wait_for 10 check_is mine up
ok $? "cmdline + user (the current user) matches"
wait_for 10 check_is theirs down
ok $? "cmdline + another user does not match"
check theirs | grep -q "no process matches"
ok $? "the reason says no process matches"
wait_for 10 check_is badpid down
check badpid | grep -q "^down error: .*bad pid\|^down error: .*pid"
ok $? "a pidfile with garbage is an error, not a crash ($(check badpid))"

APORT2=$(free_port)
"$FAKEAPP" --port "$APORT2" --control-dir "$MARK" >/dev/null 2>&1 &
A2=$!
PIDS="$PIDS $A2"
wait_for 10 check_is one down
ok $? "a second matching process breaks max = 1"
check one | grep -q "process_count: 2 processes"
ok $? "the reason counts the processes ($(check one))"
kill -KILL "$A2"
wait "$A2" 2>/dev/null
wait_for 10 check_is one up
ok $? "back to one process: up again"

kill -KILL "$A1"
wait "$A1" 2>/dev/null
wait_for 10 check_is one down
ok $? "no matching process: down"
check one | grep -q "process_gone"
ok $? "the reason is process_gone ($(check one))"
kill -0 "$AGENT_PID"
ok $? "the agent is still running"
done_testing
