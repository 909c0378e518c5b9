#!/bin/sh
# Exec checks: the exit code is the reason; a hung command is killed at its
# timeout with its whole process group, and no zombie is left behind.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
cat >"$T/exit3.sh" <<'SH'
#!/bin/sh
echo "disk nearly full"
exit 3
SH
cat >"$T/hang.sh" <<SH
#!/bin/sh
sleep 300 &
echo \$! > "$T/grandchild.pid"
sleep 300
SH
chmod +x "$T/exit3.sh" "$T/hang.sh"
write_conf <<EOF2
checks = ( { name = "ex3"; type = "exec"; command = ["$T/exit3.sh", "arg"];
             interval = 0.5; timeout = 0.4; fall = 1; },
           { name = "hang"; type = "exec"; command = ["$T/hang.sh"];
             interval = 1.0; timeout = 0.3; fall = 1; scope = "dependency"; } );
EOF2
start_agent
ok $? "agent started"
wait_for 10 sh -c "'$HEALTHAGENT' status -s '$T/agent.sock' | grep -q 'exit 3'"
ok $? "status names exit 3"
status >"$T/out"
grep -q "disk nearly full" "$T/out"
ok $? "the command's output is in the reason"
wait_for 10 sh -c "'$HEALTHAGENT' status -s '$T/agent.sock' | grep '^hang' | grep -q timeout"
ok $? "the hung command times out"
sleep 1
gc=$(cat "$T/grandchild.pid" 2>/dev/null)
# A killed orphan may linger as a zombie of whatever reaps orphans here;
# only a process that still runs counts.
running() { [ -r "/proc/$1/stat" ] && ! awk '{ exit ($3 == "Z") ? 0 : 1 }' "/proc/$1/stat"; }
test -n "$gc" && ! running "$gc"
ok $? "the hung command's whole process group is killed"
zombies=$(ps -o stat= --ppid "$AGENT_PID" | grep -c Z)
is "$zombies" 0 "no zombies are left"
done_testing
