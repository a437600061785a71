#!/usr/bin/env python3
"""Installs a built tornado-cpp into a temporary prefix and builds examples/hello on it.

    python3 install_test.py --cmake CMAKE --generator GEN --build-dir DIR --libdir lib
        --example examples/hello --cxx CXX --work DIR [--launcher ccache] [--flags "-fsanitize=..."]

Steps: `cmake --install DIR --prefix WORK/prefix`; the package files are there
(tornado_cppConfig.cmake, its version file, the exported targets); hello is
configured with -DCMAKE_PREFIX_PATH=WORK/prefix and built; it runs on port 0, prints
its port, and GET / over a socket answers 200 "Hello, world". hello is ended
by its PID whatever happens. Python 3 standard library only.
"""
import argparse
import http.client
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import time

STEP_TIMEOUT = 100  # seconds for one cmake step
START_TIMEOUT = 20


def run(cmd, what):
    print("+", " ".join(cmd), flush=True)
    start = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=STEP_TIMEOUT)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        raise SystemExit(f"FAIL: {what} exited with {proc.returncode}")
    print(f"  ({time.monotonic() - start:.1f} s)", flush=True)
    return proc.stdout


def read_port(proc):
    """The port from hello's first line, "hello: listening on port N"."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(START_TIMEOUT):
        raise SystemExit(f"FAIL: hello printed no port within {START_TIMEOUT} s")
    line = proc.stdout.readline()
    m = re.match(r"hello: listening on port (\d+)$", line.strip())
    if not m:
        raise SystemExit(f"FAIL: unexpected first line from hello: {line!r}")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmake", required=True)
    ap.add_argument("--generator", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--example", required=True)
    ap.add_argument("--cxx", required=True)
    ap.add_argument("--libdir", default="lib", help="CMAKE_INSTALL_LIBDIR of the build")
    ap.add_argument("--launcher", default="")
    ap.add_argument("--flags", default="")
    ap.add_argument("--work", required=True, help="scratch directory (emptied)")
    args = ap.parse_args()

    # A scratch directory at a fixed place (the same paths each run, so that
    # ccache finds hello's object again), emptied before and after.
    tmp = args.work
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        prefix = os.path.join(tmp, "prefix")
        run([args.cmake, "--install", args.build_dir, "--prefix", prefix], "cmake --install")

        libdir = os.path.join(prefix, args.libdir)
        package = os.path.join(libdir, "cmake", "tornado_cpp")
        for name in ("tornado_cppConfig.cmake", "tornado_cppConfigVersion.cmake",
                     "tornado_cppTargets.cmake"):
            if not os.path.isfile(os.path.join(package, name)):
                raise SystemExit(f"FAIL: {name} not installed in {package}")
        for header in ("ioloop.h", "iostream.h", "httpserver.h", "web.h"):
            if not os.path.isfile(os.path.join(prefix, "include", "tornado", header)):
                raise SystemExit(f"FAIL: include/tornado/{header} not installed")
        # Only the libraries a consumer links: the classroom's stays behind.
        libs = sorted(os.listdir(libdir))
        expected = ["cmake", "libtornado_httpserver.a", "libtornado_ioloop.a",
                    "libtornado_iostream.a", "libtornado_web.a"]
        if libs != expected:
            raise SystemExit(f"FAIL: lib/ holds {libs}, expected {expected}")

        build = os.path.join(tmp, "hello-build")
        configure = [args.cmake, "-S", args.example, "-B", build, "-G", args.generator,
                     f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_CXX_COMPILER={args.cxx}"]
        if args.launcher:
            configure.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={args.launcher}")
        if args.flags:
            configure += [f"-DCMAKE_CXX_FLAGS={args.flags}",
                          f"-DCMAKE_EXE_LINKER_FLAGS={args.flags}"]
        run(configure, "configuring examples/hello")
        run([args.cmake, "--build", build, "-j2"], "building examples/hello")

        hello = os.path.join(build, "hello")
        proc = subprocess.Popen([hello, "0"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                text=True)
        try:
            port = read_port(proc)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            if resp.status != 200 or body != b"Hello, world":
                raise SystemExit(f"FAIL: GET / answered {resp.status} {body!r}")
            print(f"GET / on port {port}: 200 {body.decode()}")
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
