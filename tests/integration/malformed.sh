#!/bin/sh
# 1000 malformed requests: the agent answers each with an error or closes,
# stays up, and /health still answers.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf <<EOF2
checks = ( { name = "mem"; type = "threshold"; metric = "mem_used_percent";
             max = 100.0; interval = 0.5; } );
EOF2
start_agent
wait_for 10 http_is 200 "$(health_url)"
ok $? "healthy before"

python3 - "$PORT" >"$T/fuzz.out" <<'PY'
import os, random, socket, sys
port = int(sys.argv[1])
random.seed(1)
bad = [
    b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\x01\x02\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n",
    b"GET /health HTTP/1.1\r\n folded\r\n\r\n",
    b"POST /health HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /health HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"G\xffT /health HTTP/1.1\r\n\r\n", b"GET health HTTP/1.1\r\n\r\n",
    b"GET /health HTTP/1.1\rX\n\r\n", b"\r\n\r\n\r\n",
    b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\n\r\n",
]
answered = closed = 0
for i in range(1000):
    if i % 3 == 0:
        req = bad[i % len(bad)]
    else:
        req = os.urandom(random.randint(1, 600))
        if i % 2:
            req += b"\r\n\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(req)
        s.shutdown(socket.SHUT_WR)
        data = s.recv(4096)
        if data.startswith(b"HTTP/1.1 4") or data.startswith(b"HTTP/1.1 5"):
            answered += 1
        else:
            closed += 1
    except OSError:
        closed += 1
    finally:
        s.close()
print(answered, closed)
PY
ok $? "1000 malformed requests sent"
read answered closed <"$T/fuzz.out"
echo "# $answered answered with an error status, $closed closed"
ok "$([ "${answered:-0}" -gt 300 ] && echo 0 || echo 1)" "most get an error status"
kill -0 "$AGENT_PID"
ok $? "the agent is still running"
is "$(http_code "$(health_url)")" 200 "/health still answers 200"
done_testing
