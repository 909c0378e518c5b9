#!/bin/sh
# The control socket's peer-credential check. The agent runs as root with
# its socket opened up to 0666 (group "daemon"), so that `nobody` can
# connect and what refuses it is SO_PEERCRED, not the file mode: status is
# answered, drain, undrain and reload are refused with a JSON error and a
# log line, and the agent keeps running. nobody with "daemon" as a
# supplementary or primary group may drain; so may root, through the CLI.
. "$top_srcdir/tests/integration/lib.sh"
require setpriv stat
if [ "$(id -u)" != 0 ]; then
	echo "Bail out! must run as root: it starts the agent as root and connects as nobody"
	exit 1
fi
getent group daemon >/dev/null || { echo "Bail out! no group 'daemon'"; exit 1; }
getent passwd nobody >/dev/null || { echo "Bail out! no user 'nobody'"; exit 1; }
NOGROUP=$(id -gn nobody)

chmod 0711 "$T" # nobody may reach the socket, nothing else
PORT=$(free_port)
SOCK="$T/agent.sock"
cat >"$T/agent.conf" <<EOF
health: { listen = "127.0.0.1:$PORT"; path = "/health"; start_grace = 0;
          drain_seconds = 1; };
agent: { socket = "$SOCK"; socket_mode = 0666; socket_group = "daemon";
         log_level = "debug"; };
checks = ( { name = "mem"; type = "threshold"; metric = "mem_used_percent";
             max = 100.0; interval = 0.5; } );
EOF
# The CLI, where nobody can run it (the build tree may not be reachable),
# and a client of the raw protocol.
cp "$HEALTHAGENT" "$T/healthagent"
chmod 0755 "$T/healthagent"
cat >"$T/client.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
EOF
chmod 0644 "$T/client.py"

as_nobody() { # as_nobody [setpriv args] -- command
	local extra=""
	while [ "$1" != "--" ]; do
		extra="$extra $1"
		shift
	done
	shift
	# shellcheck disable=SC2086
	setpriv --reuid=nobody --regid="$NOGROUP" $extra "$@"
}
ctl() { # ctl WHO COMMAND: the CLI's output and errors; exit status as its
	local cli="$T/healthagent $2 -s $SOCK"
	[ "$2" = status ] && cli="$cli --json"
	case $1 in
	nobody) as_nobody --clear-groups -- $cli ;;
	nobody+group) as_nobody --groups=daemon -- $cli ;;
	nobody-primary) setpriv --reuid=nobody --regid=daemon --clear-groups \
		$cli ;;
	root) $cli ;;
	esac 2>&1
}

start_agent
wait_for 10 http_is 200 "$(health_url)"
ok $? "healthy"
is "$(stat -c '%a %U %G' "$SOCK")" "666 root daemon" \
	"socket: mode and group from the config, owned by root"

r=$(ctl nobody status)
echo "$r" | grep -q '"checks"'
ok $? "nobody: status answered"
for cmd in drain undrain reload; do
	r=$(ctl nobody $cmd)
	is "$?" 1 "nobody: $cmd exits 1"
	echo "$r" | grep -q "healthagent: permission denied: \"$cmd\" changes"
	ok $? "nobody: $cmd refused, the CLI says why"
done
is "$(http_code "$(health_url)")" 200 "after the refusals: still 200, not drained"
grep -q 'refused "drain" from uid 65534' "$T/agent.log"
ok $? "the refusal is logged with the peer's uid"
kill -0 "$AGENT_PID"
ok $? "the agent keeps running"
! grep -q "reloading" "$T/agent.log"
ok $? "no reload happened"

ctl nobody+group drain >/dev/null
ok $? "nobody with the socket's group as a supplementary group: drain"
is "$(http_code "$(health_url)")" 503 "drained: 503"
ctl nobody-primary undrain >/dev/null
ok $? "nobody with the socket's group as its primary group: undrain"
is "$(http_code "$(health_url)")" 200 "undrained: 200"

# root, through the CLI.
"$HEALTHAGENT" drain -s "$SOCK" >/dev/null
ok $? "root: drain"
is "$(http_code "$(health_url)")" 503 "root drained: 503"
"$HEALTHAGENT" undrain -s "$SOCK" >/dev/null
ok $? "root: undrain"
is "$(http_code "$(health_url)")" 200 "root undrained: 200"
"$HEALTHAGENT" reload -s "$SOCK" | grep -q "reload requested"
ok $? "root: reload requested"
wait_for 10 grep -q "reloading" "$T/agent.log"
ok $? "the reload happens"
wait_for 10 test -S "$SOCK"
status >/dev/null
ok $? "status after the reload"

# The raw protocol: a bad request gets a JSON error too.
r=$(python3 "$T/client.py" "$SOCK" "drain now")
echo "$r" | grep -q '^{"ok":false,"error":"unknown command'
ok $? "a malformed command gets a JSON error"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
is "$?" 0 "exits 0"
done_testing
