#!/bin/sh
# Load on the endpoint, scaled down: 500 slowloris connections (partial
# heads trickled) against max_connections = 100, plus a flood of garbage,
# while a fresh client makes 200 sequential GET /health on new connections.
# Every one of them must get 200 (held connections are evicted to admit new
# ones, never the newcomer refused), the agent's RSS and fd count stay
# bounded, and everything is released afterwards. Latency is bench/'s job
# (bench/endpoint-load.py); no timing is asserted here.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
HEALTH_EXTRA="max_connections = 100; max_request_size = 4096;" write_conf <<EOF2
checks = ( { name = "mem"; type = "threshold"; metric = "mem_used_percent";
             max = 100.0; interval = 0.5; } );
EOF2
start_agent
wait_for 10 http_is 200 "$(health_url)"
ok $? "healthy before"
fds_before=$(ls "/proc/$AGENT_PID/fd" | wc -l)

python3 - "$PORT" "$AGENT_PID" >"$T/load.out" 2>"$T/load.err" <<'PY'
import os, random, selectors, socket, sys, threading, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
stop = threading.Event()
stats = {"slow_opened": 0, "flood": 0, "max_fds": 0, "max_rss": 0}

def slowloris(n=500):
    sel = selectors.DefaultSelector()
    conns = {}
    while not stop.is_set():
        while len(conns) < n:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            conns[s.fileno()] = s
            sel.register(s, selectors.EVENT_WRITE, 0)
            stats["slow_opened"] += 1
        for k, ev in sel.select(0.05):
            s = conns.get(k.fd)
            if s is None:
                continue
            try:
                if k.data == 0:
                    s.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                    sel.modify(s, selectors.EVENT_READ, 1)
                    continue
                if s.recv(4096):
                    continue
            except OSError:
                pass
            sel.unregister(s)
            del conns[k.fd]
            s.close()
        for fd, s in list(conns.items()):
            if random.random() < 0.05:
                try:
                    s.send(b"X-a: b\r\n")
                except OSError:
                    pass
    for s in conns.values():
        s.close()

def flood():
    rnd = random.Random(2)
    bad = [b"GET\r\n\r\n", b"\x00\x01\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
           b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n"]
    while not stop.is_set():
        s = socket.socket()
        try:
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            data = rnd.choice(bad) if rnd.random() < 0.3 else \
                os.urandom(rnd.randint(1, 1500))
            s.sendall(data)
            while s.recv(4096):
                pass
        except OSError:
            pass
        finally:
            s.close()
        stats["flood"] += 1

def monitor():
    while not stop.is_set():
        try:
            rss = int([l for l in open("/proc/%d/status" % pid)
                       if l.startswith("VmRSS:")][0].split()[1])
            fds = len(os.listdir("/proc/%d/fd" % pid))
            stats["max_rss"] = max(stats["max_rss"], rss)
            stats["max_fds"] = max(stats["max_fds"], fds)
        except OSError:
            pass
        time.sleep(0.1)

threads = [threading.Thread(target=f) for f in (slowloris, flood, flood,
                                                  monitor)]
for t in threads:
    t.start()
time.sleep(2)  # let the attack build up
codes = {}
for i in range(200):
    code = "error"
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: lb\r\n"
                  b"Connection: close\r\n\r\n")
        buf = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        s.close()
        code = buf[9:12].decode(errors="replace") or "closed"
    except OSError as e:
        code = type(e).__name__
    codes[code] = codes.get(code, 0) + 1
    time.sleep(0.01)
stop.set()
for t in threads:
    t.join()
print(codes.get("200", 0), stats["slow_opened"], stats["flood"],
      stats["max_rss"], stats["max_fds"])
print(codes, file=sys.stderr)
PY
ok $? "the load ran"
read got200 opened flooded max_rss max_fds <"$T/load.out"
echo "# 200s: $got200/200; slowloris connections opened: $opened;" \
    "flood connections: $flooded; agent max RSS ${max_rss} KiB, max fds $max_fds"
sed 's/^/# /' "$T/load.err"
is "$got200" 200 "every fresh GET /health got 200 under the attack"
ok "$([ "${opened:-0}" -gt 500 ] && echo 0 || echo 1)" \
    "the attacker held 500 connections and had to reopen evicted ones"
ok "$([ "${max_fds:-99999}" -le $((fds_before + 100 + 5)) ] && echo 0 || echo 1)" \
    "open fds stay within max_connections ($max_fds)"
ok "$([ "${max_rss:-999999}" -lt 65536 ] && echo 0 || echo 1)" \
    "RSS stays bounded (${max_rss} KiB < 64 MiB)"
curl -s "http://127.0.0.1:$PORT/status" >"$T/status.json"
python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["http"]; assert h["evicted"] > 0 and h["rejected"] == 0, h' "$T/status.json"
ok $? "/status counts evictions, no rejections"
kill -0 "$AGENT_PID"
ok $? "the agent is still running"
# Header timeout (5 s) and lingering (2 s) release the rest.
wait_for 15 sh -c "[ \$(ls /proc/$AGENT_PID/fd | wc -l) -le $((fds_before + 1)) ]"
ok $? "connections are all released afterwards"
is "$(http_code "$(health_url)")" 200 "/health still answers 200"
done_testing
