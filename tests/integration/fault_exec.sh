#!/bin/sh
# Fault injection: exec checks that hang, ignore SIGTERM, fork children
# that hold the output pipe, or print megabytes. Each run is killed at its
# timeout with its whole process group, the reason says what happened, the
# output kept is bounded (the agent's RSS does not grow with it), nothing
# is left behind as a zombie or a stray process, and the agent's fd count
# is back to its baseline after hundreds of runs. /health keeps answering
# at once throughout.
. "$top_srcdir/tests/integration/lib.sh"
require ps

PORT=$(free_port)
base_conf() {
	write_conf <<EOF2
checks = ( { name = "mem"; type = "threshold"; metric = "mem_used_percent";
             max = 100.0; interval = 0.5; } );
EOF2
}
# Unique sleep lengths mark the processes the checks start.
exec_conf() {
	write_conf <<EOF2
checks = (
  { name = "mem"; type = "threshold"; metric = "mem_used_percent";
    max = 100.0; interval = 0.5; },
  { name = "hang"; type = "exec"; command = ["/bin/sleep", "37.1"];
    interval = 0.4; timeout = 0.2; scope = "dependency"; },
  { name = "noterm"; type = "exec";
    command = ["/bin/sh", "-c", "trap '' TERM; exec /bin/sleep 37.2"];
    interval = 0.4; timeout = 0.2; scope = "dependency"; },
  { name = "kids"; type = "exec";
    command = ["/bin/sh", "-c",
               "/bin/sleep 37.3 & /bin/sleep 37.3 & echo spawned two; exit 1"];
    interval = 0.4; timeout = 0.3; scope = "dependency"; },
  { name = "kidshang"; type = "exec";
    command = ["/bin/sh", "-c", "/bin/sleep 37.4 & /bin/sleep 37.4; exit 0"];
    interval = 0.4; timeout = 0.2; scope = "dependency"; },
  { name = "flood"; type = "exec";
    command = ["/bin/sh", "-c",
               "yes 0123456789abcdef | head -c 4000000; exit 2"];
    interval = 3.0; timeout = 2.5; scope = "dependency"; },
  { name = "floodhang"; type = "exec"; command = ["/usr/bin/yes", "spam"];
    interval = 0.5; timeout = 0.3; scope = "dependency"; } );
EOF2
}
base_conf
start_agent
ok $? "agent started"
wait_for 10 http_is 200 "$(health_url)"
ok $? "healthy"

nfd() { ls "/proc/$AGENT_PID/fd" | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status"; }
strays() { pgrep -f '^/bin/sleep 37\.[0-9]$' | wc -l; }
cf() {
	status --json 2>/dev/null | python3 -c '
import json, sys
for c in json.load(sys.stdin)["checks"]:
    if c["name"] == sys.argv[1]:
        print(c[sys.argv[2]])' "$1" "$2"
}
sleep 1
fd0=$(nfd)
ok 0 "baseline: $fd0 fds"

exec_conf
kill -HUP "$AGENT_PID"
wait_for 10 sh -c "'$HEALTHAGENT' status -s '$T/agent.sock' | grep -q '^floodhang '"
ok $? "the exec checks are loaded"
sleep 3
rss0=$(rss)

# Zombies: a child that just exited may be seen for a moment before the
# agent reaps it; a pid seen as a zombie twice, 0.5 s apart, is a leak.
: >"$T/zl"
maxkids=0
i=0
while [ $i -lt 24 ]; do
	ps -o pid=,stat= --ppid "$AGENT_PID" | awk '$2 ~ /^Z/ {print $1}' | sort >"$T/z.$i"
	if [ $i -ge 2 ]; then
		comm -12 "$T/z.$((i - 2))" "$T/z.$i" >>"$T/zl"
	fi
	n=$(strays)
	[ "$n" -gt "$maxkids" ] && maxkids=$n
	sleep 0.5
	i=$((i + 1))
done
is "$(wc -l <"$T/zl")" 0 "no child of the agent stays a zombie (sampled 24 times over 12 s)"
[ "$maxkids" -le 8 ]
ok $? "at most the runs in flight exist at any moment ($maxkids sleeps seen, 6 at most in flight)"

is "$(cf hang reason)" "timeout" "hang: reason timeout"
is "$(cf noterm reason)" "timeout" "ignores SIGTERM: reason timeout (killed anyway)"
is "$(cf kids reason)" "exit" "forks children and exits: reason exit"
cf kids detail | grep -q "exit 1: spawned two"
ok $? "forks children: the detail carries the first line ($(cf kids detail))"
is "$(cf kidshang reason)" "timeout" "children hold the pipe and hang: reason timeout"
wait_for 10 sh -c "[ \"\$('$HEALTHAGENT' status --json -s '$T/agent.sock' | python3 -c 'import json,sys; print([c for c in json.load(sys.stdin)[\"checks\"] if c[\"name\"]==\"flood\"][0][\"reason\"])')\" = exit ]"
ok $? "4 MB of output then exit 2: reason exit"
d=$(cf flood detail)
[ "${#d}" -le 200 ] && echo "$d" | grep -q "^exit 2: 0123456789abcdef"
ok $? "4 MB of output: the detail is the first line, bounded (${#d} chars)"
is "$(cf floodhang reason)" "timeout" "endless output: reason timeout"
runs=$(cf floodhang runs)
[ "$runs" -ge 10 ]
ok $? "endless output: $runs runs so far, each killed"
t=$(curl -s -o /dev/null -m 5 -w '%{time_total}' "$(health_url)")
python3 -c "import sys; sys.exit(0 if float('$t') < 1.0 else 1)"
ok $? "/health answers while megabytes are read ($t s)"
is "$(http_code "$(health_url)")" 200 "dependency checks failing: /health still 200 (degraded)"
rss1=$(rss)
[ "$rss1" -lt $((rss0 + 4096)) ]
ok $? "RSS does not grow with the output ($rss0 kB -> $rss1 kB)"

total=$(status --json | python3 -c 'import json,sys; print(sum(c["runs"] for c in json.load(sys.stdin)["checks"] if c["type"] == "exec"))')
# Back to the base config: every run is cancelled and reaped.
base_conf
kill -HUP "$AGENT_PID"
wait_for 10 sh -c "! '$HEALTHAGENT' status -s '$T/agent.sock' | grep -q '^floodhang '"
ok $? "the exec checks are removed"
wait_for 10 sh -c "[ \$(pgrep -f '^/bin/sleep 37\.[0-9]\$' | wc -l) -eq 0 ]"
ok $? "no process of any run is left (grandchildren included)"
wait_for 10 sh -c "[ \$(pgrep -f '^(/usr/bin/)?yes (spam|0123456789abcdef)\$' | wc -l) -eq 0 ]"
ok $? "no output flooder is left"
z=$(ps -o stat= --ppid "$AGENT_PID" | grep -c '^Z')
is "$z" 0 "no zombie children"
wait_for 10 sh -c "[ \$(ls /proc/$AGENT_PID/fd | wc -l) -eq $fd0 ]"
ok $? "fd count back to the baseline after $total exec runs ($fd0 -> $(nfd))"
kill -0 "$AGENT_PID"
ok $? "the agent is still running"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
is "$?" 0 "exits 0"
done_testing
