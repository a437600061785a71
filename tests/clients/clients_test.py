#!/usr/bin/env python3
"""Real clients against the demo app (../shared/demo-app.md): curl and http.client.

A cookie round trip (plain and secure), the XSRF check, a multipart upload
with `curl -F`, gzip responses, byte ranges, a conditional GET, and several
requests on one keep-alive connection.

    python3 clients_test.py --server-cmd "CMD with {port}" [unittest options]
    python3 clients_test.py --base-url http://127.0.0.1:8888

With --server-cmd the command runs through /bin/sh in its own process group on
a free port; the tests start once the port accepts and the group is sent
SIGTERM at the end. curl missing is a failure, not a skip. Python 3 standard
library only. The last line is `N passed, N failed`.
"""
import argparse
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

LINE = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"
BIG = LINE * 16384
HELLO = b"Hello from a static file\n"
START_TIMEOUT = 20.0
CURL_TIMEOUT = 20

BASE_URL = None  # http://127.0.0.1:PORT, set by main()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class Server:
    """The server under test, started from a command line with {port} in it."""

    def __init__(self, cmd, log_path):
        self.port = free_port()
        self.command = cmd.replace("{port}", str(self.port))
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(["/bin/sh", "-c", self.command], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not accepts(self.port):
            if self.proc.poll() is not None:
                self.log.flush()
                with open(log_path, "rb") as f:
                    tail = f.read().decode("utf-8", "replace").strip().splitlines()[-5:]
                raise RuntimeError("server exited (%s) before accepting: %s\n  %s"
                                   % (self.proc.returncode, self.command, "\n  ".join(tail)))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not accept within %.0f s: %s" % (START_TIMEOUT, self.command))
            time.sleep(0.05)

    def stop(self):
        """SIGTERM to the server's process group; waits until the whole group is gone (SIGKILL after 10 s)."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while self._group_alive():
            if time.monotonic() > deadline:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.poll()  # reaps the shell, so the group can empty
            time.sleep(0.02)
        self.proc.wait()
        self.log.close()

    def _group_alive(self):
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except ProcessLookupError:
            return False


def curl(path, *options):
    """Runs curl with OPTIONS on BASE_URL + PATH; returns (status, headers as a lower-cased dict of lists, body)."""
    with tempfile.TemporaryDirectory() as tmp:
        head = os.path.join(tmp, "head")
        out = os.path.join(tmp, "body")
        argv = ["curl", "--silent", "--show-error", "--max-time", str(CURL_TIMEOUT),
                "--dump-header", head, "--output", out]
        argv += list(options) + [BASE_URL + path]
        done = subprocess.run(argv, capture_output=True, timeout=CURL_TIMEOUT + 10)
        if done.returncode != 0:
            raise AssertionError("curl failed (%d): %s: %s" % (done.returncode, " ".join(argv),
                                                              done.stderr.decode(errors="replace")))
        with open(head, "rb") as f:
            lines = f.read().decode("latin-1").split("\r\n")
        with open(out, "rb") as f:
            body = f.read()
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


def connection():
    parts = urllib.parse.urlsplit(BASE_URL)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def fetch(path, method="GET", headers=None, body=None):
    """One request on a fresh http.client connection; returns (response, body)."""
    conn = connection()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()
    finally:
        conn.close()


def cookie_pair(set_cookie, name):
    """NAME=VALUE from one Set-Cookie header value, or None."""
    pair = set_cookie.split(";", 1)[0].strip()
    return pair if pair.split("=", 1)[0] == name else None


class CookieTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.jar = os.path.join(self.tmp.name, "jar")

    def tearDown(self):
        self.tmp.cleanup()

    def test_visits_counts_up_through_curls_cookie_jar(self):
        for n in range(3):
            status, headers, body = curl("/cookie", "-c", self.jar, "-b", self.jar)
            self.assertEqual(status, 200)
            self.assertEqual(body, b"visits=%d" % n)
            self.assertIn("visits=%d; Path=/" % (n + 1), headers.get("set-cookie", []))

    def test_visits_round_trip_with_http_client(self):
        resp, body = fetch("/cookie")
        self.assertEqual(body, b"visits=0")
        pairs = [cookie_pair(v, "visits") for v in resp.headers.get_all("Set-Cookie", [])]
        pair = next(p for p in pairs if p)
        self.assertEqual(pair, "visits=1")
        _, body = fetch("/cookie", headers={"Cookie": pair})
        self.assertEqual(body, b"visits=1")
        _, body = fetch("/cookie", headers={"Cookie": "visits=notanumber"})
        self.assertEqual(body, b"visits=0")

    def test_secure_cookie_reads_back_what_was_set(self):
        status, headers, body = curl("/secure-cookie?set=hello%20world", "-c", self.jar)
        self.assertEqual((status, body), (200, b"set"))
        self.assertTrue(any(v.startswith("user=") for v in headers.get("set-cookie", [])), headers)
        status, _, body = curl("/secure-cookie", "-b", self.jar)
        self.assertEqual((status, body), (200, b"hello world"))

    def test_secure_cookie_without_cookie_or_tampered_is_none(self):
        _, _, body = curl("/secure-cookie")
        self.assertEqual(body, b"none")
        curl("/secure-cookie?set=alice", "-c", self.jar)
        with open(self.jar) as f:
            lines = f.read().splitlines()
        tampered = []
        for line in lines:
            fields = line.split("\t")
            if len(fields) == 7 and fields[5] == "user":
                value = fields[6]
                # Flip one character of the signature (the value's last field).
                end = len(value.rstrip('"')) - 1
                fields[6] = value[:end] + ("0" if value[end] != "0" else "1") + value[end + 1:]
            tampered.append("\t".join(fields))
        self.assertNotEqual(lines, tampered, "no user cookie in the jar")
        with open(self.jar, "w") as f:
            f.write("\n".join(tampered) + "\n")
        _, _, body = curl("/secure-cookie", "-b", self.jar)
        self.assertEqual(body, b"none")

    def test_xsrf_post_needs_the_cookie_and_the_field(self):
        status, _, token = curl("/xsrf", "-c", self.jar)
        self.assertEqual(status, 200)
        self.assertTrue(token)
        status, _, body = curl("/xsrf", "-b", self.jar, "--data", "_xsrf=" + token.decode())
        self.assertEqual((status, body), (200, b"ok"))
        status, _, _ = curl("/xsrf", "-b", self.jar, "--data", "other=1")
        self.assertEqual(status, 403)
        status, _, _ = curl("/xsrf", "--data", "_xsrf=" + token.decode())
        self.assertEqual(status, 403)


class UploadTest(unittest.TestCase):
    def test_curl_form_upload_lists_files_and_fields(self):
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, "notes.txt")
            with open(text, "wb") as f:
                f.write(b"hello upload\n")
            blob = os.path.join(tmp, "data.bin")
            # Bytes that look like framing: CRLF, dashes, a fake boundary line.
            payload = (b"\r\n--\r\n------x\r\n" + bytes(range(256))) * 4
            with open(blob, "wb") as f:
                f.write(payload)
            status, headers, body = curl("/args?x=1", "-F", "doc=@%s;type=text/plain" % text,
                                         "-F", "doc=@%s" % blob, "-F", "note=hi & <bye>")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], ["application/json; charset=UTF-8"])
        self.assertEqual(json.loads(body), {
            "query": {"x": ["1"]},
            "body": {"note": ["hi & <bye>"]},
            "files": {"doc": [
                {"filename": "notes.txt", "content_type": "text/plain", "size": 13},
                {"filename": "data.bin", "content_type": "application/octet-stream", "size": len(payload)},
            ]},
        })

    def test_urlencoded_post_with_http_client(self):
        resp, body = fetch("/args?a=1&a=2", method="POST", body="b=x%20y&b=%3C",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(resp.status, 200)
        self.assertEqual(json.loads(body), {"query": {"a": ["1", "2"]}, "body": {"b": ["x y", "<"]}, "files": {}})


class GzipTest(unittest.TestCase):
    def test_curl_compressed_big_inflates_to_the_mebibyte(self):
        status, headers, body = curl("/big", "--compressed")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-encoding"), ["gzip"])
        self.assertEqual(headers.get("vary"), ["Accept-Encoding"])
        self.assertEqual(len(body), len(BIG))
        self.assertEqual(body, BIG)

    def test_http_client_accept_encoding_gzip(self):
        resp, raw = fetch("/big", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Encoding"), "gzip")
        self.assertEqual(resp.getheader("Content-Type"), "text/plain")
        self.assertLess(len(raw), len(BIG) // 10)
        self.assertEqual(gzip.decompress(raw), BIG)

    def test_http_client_without_accept_encoding_gets_identity(self):
        resp, raw = fetch("/big")
        self.assertEqual(resp.status, 200)
        self.assertIsNone(resp.getheader("Content-Encoding"))
        self.assertEqual(raw, BIG)

    def test_static_file_gzipped_when_asked(self):
        with open(os.path.join(STATIC_DIR, "style.css"), "rb") as f:
            css = f.read()
        resp, raw = fetch("/static/style.css", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(raw), css)


class RangeTest(unittest.TestCase):
    def test_curl_range_first_ten_bytes(self):
        status, headers, body = curl("/static/hello.txt", "-r", "0-9")
        self.assertEqual(status, 206)
        self.assertEqual(body, HELLO[0:10])
        self.assertEqual(headers.get("content-range"), ["bytes 0-9/%d" % len(HELLO)])
        self.assertEqual(headers.get("content-length"), ["10"])

    def test_curl_range_suffix(self):
        status, headers, body = curl("/static/hello.txt", "-r", "-5")
        self.assertEqual(status, 206)
        self.assertEqual(body, HELLO[-5:])
        self.assertEqual(headers.get("content-range"), ["bytes 20-24/%d" % len(HELLO)])

    def test_http_client_range_middle_and_unsatisfiable(self):
        resp, body = fetch("/static/hello.txt", headers={"Range": "bytes=6-9"})
        self.assertEqual((resp.status, body), (206, b"from"))
        self.assertEqual(resp.getheader("Content-Range"), "bytes 6-9/%d" % len(HELLO))
        self.assertEqual(resp.getheader("Content-Type"), "text/plain")
        resp, _ = fetch("/static/hello.txt", headers={"Range": "bytes=100-200"})
        self.assertEqual(resp.status, 416)
        self.assertEqual(resp.getheader("Content-Range"), "bytes */%d" % len(HELLO))

    def test_http_client_whole_file_and_conditional_get(self):
        resp, body = fetch("/static/hello.txt")
        self.assertEqual((resp.status, body), (200, HELLO))
        self.assertEqual(resp.getheader("Accept-Ranges"), "bytes")
        etag = resp.getheader("Etag")
        last_modified = resp.getheader("Last-Modified")
        self.assertTrue(etag)
        self.assertTrue(last_modified)
        resp, body = fetch("/static/hello.txt", headers={"If-None-Match": etag})
        self.assertEqual((resp.status, body), (304, b""))
        resp, body = fetch("/static/hello.txt", headers={"If-Modified-Since": last_modified})
        self.assertEqual((resp.status, body), (304, b""))


class KeepAliveTest(unittest.TestCase):
    def test_several_requests_on_one_http_client_connection(self):
        conn = connection()
        try:
            requests = [
                ("GET", "/", None, {}, 200, b"Hello, world"),
                ("GET", "/static/hello.txt", None, {"Range": "bytes=0-4"}, 206, b"Hello"),
                ("POST", "/echo", b"\x00echo\r\n", {}, 200, b"\x00echo\r\n"),
                ("GET", "/big", None, {"Accept-Encoding": "gzip"}, 200, None),
                ("GET", "/chunked", None, {}, 200, b"part1part2part3"),
                ("GET", "/cookie", None, {"Cookie": "visits=41"}, 200, b"visits=41"),
                ("GET", "/index", None, {}, 200, b"index"),
            ]
            local = None
            for method, path, body, headers, want_status, want_body in requests:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                got = resp.read()
                self.assertEqual(resp.status, want_status, path)
                if want_body is None:
                    self.assertEqual(gzip.decompress(got), BIG)
                else:
                    self.assertEqual(got, want_body, path)
                self.assertFalse(resp.will_close, "%s %s: the server closed the connection" % (method, path))
                name = conn.sock.getsockname()
                self.assertEqual(local or name, name, "http.client reconnected before %s %s" % (method, path))
                local = name
        finally:
            conn.close()


def main():
    global BASE_URL, STATIC_DIR
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--server-cmd", help="command starting the server; {port} is replaced by a free port")
    group.add_argument("--base-url", help="a server already listening, e.g. http://127.0.0.1:8888")
    parser.add_argument("--static-path", default=os.path.join(here, "..", "..", "..", "shared", "demo-static"),
                        help="the server's static folder, to compare files with (default ../shared/demo-static)")
    parser.add_argument("--log", default=None, help="where the server's output goes (default: a temporary file)")
    opts = parser.parse_args()
    STATIC_DIR = opts.static_path
    if shutil.which("curl") is None:
        print("clients_test: curl is missing (apt-get install curl)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    server = None
    log_dir = None
    started = time.monotonic()
    try:
        if opts.server_cmd:
            if opts.log is None:
                log_dir = tempfile.TemporaryDirectory()
                opts.log = os.path.join(log_dir.name, "server.log")
            os.makedirs(os.path.dirname(os.path.abspath(opts.log)), exist_ok=True)
            try:
                server = Server(opts.server_cmd, opts.log)
            except RuntimeError as err:
                print("clients_test: %s" % err, file=sys.stderr)
                print("0 passed, 1 failed")
                return 1
            BASE_URL = "http://127.0.0.1:%d" % server.port
            print("server: %s" % server.command)
        else:
            BASE_URL = opts.base_url.rstrip("/")
        suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
        runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout)
        result = runner.run(suite)
    finally:
        if server:
            server.stop()
        if log_dir:
            log_dir.cleanup()
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed (%.1f s)" % (result.testsRun - failed, failed, time.monotonic() - started))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
