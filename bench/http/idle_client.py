#!/usr/bin/python3
"""Client for bench/http/idle: opens N keep-alive connections to 127.0.0.1:PORT,
sends one GET / on each and reads its whole answer, then holds them all
idle and prints "ready N in T s" on stdout. Each line read from stdin is
answered "closed K": how many held connections the server has closed so
far. It exits when stdin closes, or with status 1 when a connection fails
before its answer (printing why on stderr).

Usage: idle_client.py PORT N
"""
import os
import selectors
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def answered(buf):
    """True once buf holds a whole answer (headers plus Content-Length bytes)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return len(buf) >= end + 4 + length


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    sel = selectors.DefaultSelector()
    bufs = {}
    pending = 0
    batch = 100  # connections in flight at once: below Tornado's listen backlog (128)
    opened = 0
    start = time.monotonic()
    deadline = start + 120
    while opened < n or pending:
        while opened < n and pending < batch:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(REQUEST)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            bufs[s] = b""
            opened += 1
            pending += 1
        if time.monotonic() > deadline:
            sys.exit("idle_client: answers took more than 120 s")
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            data = s.recv(65536)
            if not data:
                sys.exit("idle_client: the server closed a connection before answering")
            bufs[s] += data
            if answered(bufs[s]):
                sel.unregister(s)
                pending -= 1
    print(f"ready {len(bufs)} in {time.monotonic() - start:.2f} s", flush=True)
    # Hold the connections until told to stop; check none was closed.
    for s in bufs:
        sel.register(s, selectors.EVENT_READ)
    os.set_blocking(0, False)
    sel.register(sys.stdin, selectors.EVENT_READ)
    # A line on stdin asks how many connections the server has closed so far.
    closed = 0
    while True:
        for key, _ in sel.select():
            if key.fileobj is sys.stdin:
                line = sys.stdin.readline()
                if not line:
                    return
                print(f"closed {closed}", flush=True)
                continue
            if not key.fileobj.recv(1):
                sel.unregister(key.fileobj)
                closed += 1


if __name__ == "__main__":
    main()
