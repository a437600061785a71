#!/usr/bin/env python3
"""Two tornado-walk serve processes behind nginx, as docs/deploy.md sets them up.

    python3 nginx_test.py --walk path/to/tornado-walk [--nginx /usr/sbin/nginx] [--keep DIR]

Starts two `serve --app demo --port 0 --trace FILE` and reads each one's port
from its stderr; writes an nginx config (upstream with both and keepalive,
HTTP/1.1 to the upstreams, X-Real-IP / X-Forwarded-For / X-Scheme) into a
scratch directory, with every path nginx writes (pid, logs, temp dirs) in it,
and runs nginx in the foreground on a free port of 127.0.0.1. Then sends
requests through nginx from a socket bound to 127.0.0.2, so that the client's
address is not nginx's, and checks:
  - the answers are the demo's;
  - both upstreams served requests, and their access log lines show the
    client's address 127.0.0.2 (the demo server has xheaders on);
  - each upstream accepted fewer connections than it served requests
    (TCPServer._handle_connection in its JSON Lines trace): nginx kept its
    connections to the upstreams open.
Every process it started is ended by PID, also on failure. Python 3 standard
library only; nginx missing is a failure (scripts/install-deps installs it).
"""
import argparse
import http.client
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

START_TIMEOUT = 20.0
REQUESTS = 24
CLIENT_ADDRESS = "127.0.0.2"

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{
    worker_connections 64;
}}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream tornado {{
{servers}
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://tornado;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Scheme $scheme;
        }}
    }}
}}
"""


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream:
    """One `tornado-walk serve`, its stderr in a file and its trace in another."""

    def __init__(self, walk, tmp, name):
        self.name = name
        self.trace = os.path.join(tmp, f"{name}.jsonl")
        self.log_path = os.path.join(tmp, f"{name}.log")
        env = dict(os.environ)
        env.pop("TORNADO_LOG_QUIET", None)  # the access log lines are checked
        self.proc = subprocess.Popen(
            [walk, "serve", "--app", "demo", "--address", "127.0.0.1", "--port", "0",
             "--trace", self.trace],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=env)
        self.lines = []
        self.port = self._read_port()

    def _read_port(self):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not sel.select(deadline - time.monotonic()):
                break
            line = self.proc.stderr.readline().decode(errors="replace")
            if not line:
                raise Failure(f"{self.name} exited before serving: {self.lines}")
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"serving the demo app on http://[^ ]*:(\d+)/", line)
            if m:
                return int(m.group(1))
        raise Failure(f"{self.name} printed no port within {START_TIMEOUT} s: {self.lines}")

    def stop(self):
        """Ends the server by PID and collects the rest of its stderr."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            _, rest = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            _, rest = self.proc.communicate()
        self.lines += rest.decode(errors="replace").splitlines()
        with open(self.log_path, "w") as f:
            f.write("\n".join(self.lines) + "\n")

    def accepted_connections(self):
        count = 0
        with open(self.trace) as f:
            for line in f:
                if not line.strip():
                    continue
                e = json.loads(line)
                if e.get("step") == "TCPServer._handle_connection" and e.get("ph") != "E":
                    count += 1
        return count


def wait_accepts(port, proc):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure(f"nginx exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port nginx has not opened yet
    raise Failure(f"nginx did not accept on {port} within {START_TIMEOUT} s")


class BoundConnection(http.client.HTTPConnection):
    """http.client from a chosen source address (the client is not nginx's 127.0.0.1)."""

    def __init__(self, host, port, source):
        super().__init__(host, port, timeout=10, source_address=(source, 0))


def request(port, path):
    conn = BoundConnection("127.0.0.1", port, CLIENT_ADDRESS)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(args, tmp):
    procs = []
    nginx = None
    try:
        a = Upstream(args.walk, tmp, "upstream-a")
        procs.append(a)
        b = Upstream(args.walk, tmp, "upstream-b")
        procs.append(b)
        port = free_port()
        servers = "\n".join(f"        server 127.0.0.1:{u.port};" for u in (a, b))
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=tmp, servers=servers, port=port))
        nginx = subprocess.Popen([args.nginx, "-p", tmp, "-c", conf],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(tmp, "nginx.stderr"), "w"))
        wait_accepts(port, nginx)

        # One connection to nginx per request; nginx takes the upstreams in
        # turn, so every third request (not every second) is /ip, and both
        # upstreams get both paths.
        for i in range(REQUESTS):
            path = "/ip" if i % 3 == 2 else "/"
            status, body = request(port, path)
            check(status == 200, f"GET {path} through nginx answered {status} {body!r}")
            if path == "/":
                check(body == b"Hello, world", f"GET / answered {body!r}")
            else:
                # The demo's /ip writes request.remote_ip: the client's, from X-Real-IP.
                check(CLIENT_ADDRESS.encode() in body, f"GET /ip answered {body!r}")
    finally:
        if nginx is not None:
            if nginx.poll() is None:
                os.kill(nginx.pid, signal.SIGQUIT)  # graceful: closes the upstream connections
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(nginx.pid, signal.SIGKILL)
                nginx.wait()
        for u in procs:
            u.stop()

    for u in (a, b):
        served = [l for l in u.lines if re.search(r"\b200 GET / \(127\.0\.0\.2\) ", l)]
        served_all = [l for l in u.lines if re.search(r"\b200 GET /\S* \(", l)]
        check(served, f"{u.name} logged no '200 GET / (127.0.0.2)': {u.lines}")
        check(all("(127.0.0.2)" in l for l in served_all),
              f"{u.name} logged another remote_ip than the client's: {served_all}")
        conns = u.accepted_connections()
        print(f"{u.name} (port {u.port}): {len(served_all)} requests on {conns} connections")
        check(conns >= 1, f"{u.name}'s trace has no TCPServer._handle_connection")
        check(conns < len(served_all),
              f"{u.name} accepted {conns} connections for {len(served_all)} requests: "
              "nginx did not keep its upstream connections alive")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--walk", required=True, help="the tornado-walk binary")
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--keep", help="leave the scratch files (configs, logs, traces) here")
    args = ap.parse_args()
    if not os.access(args.nginx, os.X_OK):
        print(f"FAIL: no nginx at {args.nginx} (scripts/install-deps installs nginx-light)")
        return 1
    tmp = tempfile.mkdtemp(prefix="tornado-nginx-")
    try:
        run(args, tmp)
        print("PASS")
        return 0
    except Failure as e:
        print(f"FAIL: {e}")
        for name in ("nginx.stderr", "error.log"):
            path = os.path.join(tmp, name)
            if os.path.exists(path):
                print(f"--- {name}\n" + open(path).read()[-3000:])
        return 1
    finally:
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(tmp, args.keep)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
