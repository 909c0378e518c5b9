#!/bin/sh
# SPDX-License-Identifier: ISC
# StrictModes: a config file, an included file or their directory that is
# group- or world-writable, or owned by someone other than root or the
# agent's user, is refused with a message that names the file and the fix;
# at start, at checkconf, and at reload (which keeps the running config).
. "$top_srcdir/tests/integration/lib.sh"
require chown chmod

PORT=$(free_port)
write_conf <<EOF2
checks = ( { name = "t"; type = "exec"; command = ["/bin/true"]; interval = 0.5; } );
EOF2
cf="$T/agent.conf"

cc() { # cc FILE: checkconf output in $T/out, status in $rc
	"$HEALTHAGENT" checkconf -f "$1" >"$T/out" 2>&1
	rc=$?
}
refused() { # refused PATTERN description
	test "$rc" -ne 0 && grep -q -- "$1" "$T/out" && ! grep -q "configuration OK" "$T/out"
	r=$?
	ok $r "$2"
	[ $r -eq 0 ] || sed 's/^/#   /' "$T/out"
}

chmod 644 "$cf"
cc "$cf"
is "$rc" 0 "mode 0644, owned by root: accepted"
chmod 640 "$cf"
cc "$cf"
is "$rc" 0 "mode 0640: accepted"
chmod 664 "$cf"
cc "$cf"
refused "agent.conf: config file is group-writable (mode 0664); refusing it (chmod g-w $cf)" \
    "group-writable: refused, with the mode and the fix"
chmod 646 "$cf"
cc "$cf"
refused "is world-writable (mode 0646); refusing it (chmod o-w" "world-writable: refused"
chmod 666 "$cf"
cc "$cf"
refused "is group- and world-writable (mode 0666); refusing it (chmod go-w" "both: refused"
chmod 644 "$cf"
chown daemon "$cf"
cc "$cf"
refused "config file is owned by uid $(id -u daemon) (daemon), not by root or this process's user" \
    "owned by another user: refused"
chown "$(id -u)" "$cf"

# included files and directories
mkdir -p "$T/etc/conf.d"
chmod 755 "$T/etc" "$T/etc/conf.d"
cat >"$T/etc/main.conf" <<'CONF'
checks = (
@include "conf.d/one.conf"
);
CONF
echo '{ name = "one"; type = "exec"; command = ["/bin/true"]; }' >"$T/etc/conf.d/one.conf"
chmod 644 "$T/etc/main.conf" "$T/etc/conf.d/one.conf"
cc "$T/etc/main.conf"
is "$rc" 0 "with a 0644 include: accepted"
chmod 666 "$T/etc/conf.d/one.conf"
cc "$T/etc/main.conf"
refused "conf.d/one.conf: included config file is group- and world-writable" \
    "a writable included file: refused"
chmod 644 "$T/etc/conf.d/one.conf"
chmod 777 "$T/etc/conf.d"
cc "$T/etc/main.conf"
refused "conf.d: the directory of a config file is group- and world-writable (mode 0777)" \
    "a writable directory of an included file: refused"
chmod 1777 "$T/etc/conf.d"
cc "$T/etc/main.conf"
is "$rc" 0 "a sticky directory (like /tmp): accepted"
chmod 755 "$T/etc/conf.d"
chmod 775 "$T/etc"
cc "$T/etc/main.conf"
refused "etc: the directory of a config file is group-writable (mode 0775)" \
    "a group-writable directory of the main file: refused"
chmod 755 "$T/etc"

# at start
chmod 664 "$cf"
"$HEALTHAGENT" run -f "$cf" >"$T/start.out" 2>&1
rc=$?
test "$rc" -ne 0 && grep -q "group-writable (mode 0664)" "$T/start.out"
ok $? "run refuses to start on a group-writable file (exit $rc)"

# at reload: refused, the running config stays
chmod 644 "$cf"
start_agent
ok $? "agent started"
wait_for 10 http_is 200 "$(health_url)"
ok $? "healthy"
chmod 664 "$cf"
kill -HUP "$AGENT_PID"
wait_for 10 grep -q "keeping the running" "$T/agent.log"
ok $? "reload of a group-writable file is refused"
grep -q "group-writable (mode 0664); refusing it" "$T/agent.log"
ok $? "the log says why"
kill -0 "$AGENT_PID" && http_is 200 "$(health_url)"
ok $? "the agent keeps running on the old config"
chmod 644 "$cf"
done_testing
