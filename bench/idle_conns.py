#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, makes one request on
each (so each is a real, served, idle keep-alive connection), holds them,
and prints the server's RSS growth. usage: idle_conns.py PORT PID N"""
import socket
import sys
import time


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
before = rss_kb(pid)
socks = []
req = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    socks.append(s)
for s in socks:
    data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 200"), data[:40]
time.sleep(1.0)
after = rss_kb(pid)
print("idle connections: %d; RSS before %.1f MB, after %.1f MB, growth %.1f MB (%.0f bytes each)"
      % (n, before / 1024, after / 1024, (after - before) / 1024,
         (after - before) * 1024.0 / n))
for s in socks:
    s.close()
