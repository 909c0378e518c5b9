#!/bin/sh
# Exec checks: the exit code is the reason; a hung command is killed at its
# timeout with its whole process group, and no zombie is left behind. The
# command gets a minimal environment, fds 0-2 only and no capabilities, and
# runs as the configured user.
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
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null

# The command's environment is minimal and nothing of the agent's leaks
# into it (environment, fds, capabilities); "user" runs it as another user.
# The tests run as root: "nobody" is the other user.
require setpriv id pgrep
chmod 711 "$T"
mkdir -m 1777 "$T/pub"
cat >"$T/dump.sh" <<SH
#!/bin/sh
out="$T/pub/\$HEALTHAGENT_CHECK"
env > "\$out.env.tmp" && mv "\$out.env.tmp" "\$out.env"
echo "\$(id -u) \$(id -g) \$(id -G)" > "\$out.id"
grep '^Cap' /proc/\$\$/status > "\$out.cap"
SH
chmod 755 "$T/dump.sh"
write_conf <<EOF2
checks = ( { name = "plain"; type = "exec"; command = ["$T/dump.sh"];
             interval = 0.5; },
           { name = "extra"; type = "exec"; command = ["$T/dump.sh"];
             interval = 0.5; environment = ["FOO=bar baz", "PATH=/bin"]; },
           { name = "asnobody"; type = "exec"; command = ["$T/dump.sh"];
             interval = 0.5; user = "nobody"; },
           { name = "fds"; type = "exec"; command = ["/bin/sleep", "30"];
             interval = 60; timeout = 40; jitter = 0; } );
EOF2
AWS_SECRET_ACCESS_KEY=sekrit-canary HEALTHAGENT_CANARY=1 start_agent
ok $? "agent started with secrets in its environment"
wait_for 10 test -s "$T/pub/asnobody.env" -a -s "$T/pub/extra.env" -a -s "$T/pub/plain.cap"
ok $? "the commands ran"
is "$(cut -d= -f1 "$T/pub/plain.env" | grep -v '^PWD$' | sort | tr '\n' ' ')" \
    "HEALTHAGENT_CHECK LANG PATH " "the environment is PATH, LANG and HEALTHAGENT_CHECK only"
grep -qx 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$T/pub/plain.env" &&
    grep -qx 'LANG=C' "$T/pub/plain.env" && grep -qx 'HEALTHAGENT_CHECK=plain' "$T/pub/plain.env"
ok $? "with the documented values"
! grep -q 'sekrit\|CANARY\|AWS_' "$T/pub/"*.env
ok $? "nothing of the agent's environment is inherited"
grep -qx 'FOO=bar baz' "$T/pub/extra.env" && grep -qx 'PATH=/bin' "$T/pub/extra.env"
ok $? "environment adds variables and replaces PATH"
# Seen from outside: a shell would open fds of its own.
sleeper=$(pgrep -P "$AGENT_PID" -x sleep)
is "$(ls "/proc/$sleeper/fd" 2>&1 | sort | tr '\n' ' ')" "0 1 2 " "only fds 0-2 reach the command"
grep -q '^CapAmb:[[:space:]]*0*$' "$T/pub/plain.cap"
ok $? "no ambient capabilities"
nid="$(id -u nobody) $(id -g nobody) $(id -G nobody)"
is "$(cat "$T/pub/asnobody.id")" "$nid" "user = nobody: uid, gid and groups of nobody"
grep -qx 'USER=nobody' "$T/pub/asnobody.env" && grep -qx 'LOGNAME=nobody' "$T/pub/asnobody.env" &&
    grep -qx "HOME=$(getent passwd nobody | cut -d: -f6)" "$T/pub/asnobody.env"
ok $? "USER, LOGNAME and HOME of nobody"
grep -q '^CapEff:[[:space:]]*0*$' "$T/pub/asnobody.cap"
ok $? "the command as nobody has no capabilities"
is "$(cat "$T/pub/plain.id" | cut -d' ' -f1)" "$(id -u)" "without user, the agent's user"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null

# A non-root agent given CAP_SETUID and CAP_SETGID (the capability drop-in
# of healthagent(8)) runs the command as nobody, and the command keeps none
# of those capabilities.
rm -f "$T/pub/"*
cat >"$T/caps.conf" <<EOF2
health: { listen = "127.0.0.1:$PORT"; start_grace = 0; drain_seconds = 0; };
agent: { socket = "$T/pub/caps.sock"; log_level = "debug"; state_dir = "$T/pub/state"; };
checks = ( { name = "capped"; type = "exec"; command = ["$T/dump.sh"];
             interval = 0.5; user = "nobody"; } );
EOF2
chmod 644 "$T/caps.conf"
setpriv --reuid=daemon --regid=daemon --clear-groups --inh-caps=+setuid,+setgid \
    --ambient-caps=+setuid,+setgid "$HEALTHAGENT" run -f "$T/caps.conf" >"$T/caps.log" 2>&1 &
CAPS_PID=$!
PIDS="$PIDS $CAPS_PID"
wait_for 10 test -s "$T/pub/capped.cap"
ok $? "an agent running as daemon with CAP_SETUID+CAP_SETGID runs the check"
is "$(cat "$T/pub/capped.id" 2>/dev/null)" "$nid" "as nobody"
grep -q '^CapEff:[[:space:]]*0*$' "$T/pub/capped.cap" && grep -q '^CapPrm:[[:space:]]*0*$' "$T/pub/capped.cap" &&
    grep -q '^CapAmb:[[:space:]]*0*$' "$T/pub/capped.cap"
ok $? "with no capabilities left (effective, permitted, ambient)"
kill -TERM "$CAPS_PID"
wait "$CAPS_PID" 2>/dev/null

# A load error names the problem: an unknown user, a bad environment entry,
# and a user the agent cannot switch to (checkconf as "daemon": no
# privilege to become nobody).
cat >"$T/bad.conf" <<EOF2
checks = ( { name = "u"; type = "exec"; command = ["$T/dump.sh"];
             user = "no-such-user-xyz"; },
           { name = "e"; type = "exec"; command = ["$T/dump.sh"];
             environment = ["1BAD=x", "HEALTHAGENT_CHECK=y"]; },
           { name = "g"; type = "exec"; command = ["$T/dump.sh"];
             group = "nogroup"; } );
EOF2
"$HEALTHAGENT" checkconf -f "$T/bad.conf" >"$T/out" 2>&1
rc=$?
test $rc -ne 0 && grep -q 'user: unknown user "no-such-user-xyz"' "$T/out" &&
    grep -q '"1BAD=x" must look like' "$T/out" &&
    grep -q 'HEALTHAGENT_CHECK is set by healthagent' "$T/out" &&
    grep -q 'group: needs user' "$T/out"
ok $? "checkconf: unknown user, bad environment, group without user"
sed 's/^/#   /' "$T/out"
cat >"$T/other.conf" <<EOF2
checks = ( { name = "n"; type = "exec"; command = ["$T/dump.sh"];
             user = "nobody"; } );
EOF2
chmod 644 "$T/other.conf"
setpriv --reuid=daemon --regid=daemon --clear-groups \
    "$HEALTHAGENT" checkconf -f "$T/other.conf" >"$T/out" 2>&1
rc=$?
test $rc -ne 0 && grep -q 'cannot switch to uid' "$T/out" && grep -q 'CAP_SETUID' "$T/out"
ok $? "an unprivileged agent cannot run a command as another user: a clear error"
sed 's/^/#   /' "$T/out"
done_testing
