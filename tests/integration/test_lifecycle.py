"""Process lifecycle: graceful drain on SIGTERM/SIGINT, the shutdown
deadline, restart on the same data directory, the admin key from the
environment, and start-up errors."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import BIN, Gateway, recv_all, split_responses, wait_for


def in_flight(gw):
    """Requests in flight (the /metrics request that asks counts itself)."""
    text = gw.request("GET", "/metrics")[2].decode()
    return int(re.search(r"imagegate_http_requests_in_flight (\d+)", text).group(1))


def no_other_request(gw):
    """Waits until the only request in flight is the one asking: an earlier
    request is counted out only after its answer is sent, so a count taken
    just after it could be its, not the one a test waits for."""
    wait_for(lambda: in_flight(gw) == 1, what="earlier requests to be counted out")


class Drain(unittest.TestCase):
    def test_sigterm_finishes_in_flight_then_exits_0(self):
        gw = Gateway(config="threadpool_size: 1\n")
        try:
            result = {}

            def slow():
                result["r"] = gw.generate(size="2048x2048", n=4)

            no_other_request(gw)
            idle = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
            t = threading.Thread(target=slow)
            t.start()
            wait_for(lambda: in_flight(gw) >= 2, what="the slow generation to be in flight")
            gw.proc.send_signal(signal.SIGTERM)
            wait_for(lambda: "draining" in gw.log(), what="the drain to start")
            # The idle keep-alive connection is closed at once…
            self.assertEqual(recv_all(idle), b"")
            idle.close()
            # …new connections are refused…
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", gw.port), timeout=2).recv(1)
            # …and the request in flight completes.
            t.join()
            status, hdrs, doc = result["r"]
            self.assertEqual(status, 200, doc)
            self.assertEqual(len(doc["data"]), 4)
            self.assertEqual(hdrs.get("connection"), "close")
            self.assertEqual(gw.proc.wait(10), 0)
            self.assertIn("stopped cleanly", gw.log())
        finally:
            gw.cleanup()

    def test_deadline_bounds_shutdown(self):
        gw = Gateway(config="threadpool_size: 1\nshutdown_timeout_ms: 100\n")
        try:
            def slow():
                try:
                    gw.generate(size="2048x2048", n=10)
                except Exception:  # noqa: BLE001 - the server goes away mid-request
                    pass

            no_other_request(gw)
            t = threading.Thread(target=slow, daemon=True)
            t.start()
            wait_for(lambda: in_flight(gw) >= 2, what="the slow generation to be in flight")
            t0 = time.monotonic()
            gw.proc.send_signal(signal.SIGTERM)
            self.assertEqual(gw.proc.wait(10), 0)
            self.assertLess(time.monotonic() - t0, 1.5)
            self.assertIn("deadline passed", gw.log())
        finally:
            gw.cleanup()

    def test_readyz_503_draining(self):
        """A request that arrives while the gateway drains (its headers
        already read, so the connection was not idle) gets /readyz 503
        draining; a load balancer stops sending new work."""
        gw = Gateway()
        try:
            self.assertEqual(gw.json("GET", "/readyz")[0:3:2], (200, {"status": "ready"}))
            no_other_request(gw)
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
            # A GET with a body: its headers are read and routed, then it
            # waits for the two body bytes, in flight.
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n")
            wait_for(lambda: in_flight(gw) >= 2, what="the readyz request to be in flight")
            gw.proc.send_signal(signal.SIGTERM)
            wait_for(lambda: "draining" in gw.log(), what="the drain to start")
            s.sendall(b"{}")
            [(status, hdrs, body)] = split_responses(recv_all(s))
            s.close()
            doc = json.loads(body)
            self.assertEqual(status, 503)
            self.assertEqual(doc["error"]["code"], "draining")
            self.assertEqual(hdrs["connection"], "close")
            self.assertEqual(gw.proc.wait(10), 0)
        finally:
            gw.cleanup()

    def test_readyz_503_when_the_store_is_locked(self):
        """Another process holding the database's write lock: the store does
        not answer, so the gateway is not ready; once it lets go, it is."""
        import sqlite3
        gw = Gateway()
        try:
            self.assertEqual(gw.json("GET", "/readyz")[0], 200)
            db = sqlite3.connect(os.path.join(gw.data_dir, "imagegate.db"), isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            # A job submitted meanwhile waits out the lock (5 s) on the
            # gateway's connection: the probe must not wait behind it.
            submit = threading.Thread(target=gw.json, args=(
                "POST", "/v1/images/jobs", {"prompt": "x", "size": "64x64"}),
                kwargs={"key": gw.admin_key})
            submit.start()
            try:
                time.sleep(0.3)
                t0 = time.monotonic()
                status, hdrs, doc = gw.json("GET", "/readyz")
                self.assertEqual(status, 503, doc)
                self.assertEqual(doc["error"]["code"], "store_unavailable")
                self.assertLess(time.monotonic() - t0, 3, "a probe is answered promptly")
            finally:
                db.execute("ROLLBACK")
                db.close()
                submit.join()
            self.assertEqual(gw.json("GET", "/readyz")[0:3:2], (200, {"status": "ready"}))
        finally:
            gw.cleanup()

    def test_sigint_exits_0(self):
        gw = Gateway()
        self.assertEqual(gw.request("GET", "/healthz")[0], 200)
        self.assertEqual(gw.stop(signal.SIGINT), 0)
        gw.cleanup()


class Restart(unittest.TestCase):
    def test_same_data_dir_keeps_keys_images_and_signatures(self):
        data = tempfile.mkdtemp(prefix="ig-restart-")
        gw = Gateway(data_dir=data)
        admin = gw.admin_key
        self.assertTrue(admin)
        status, _, doc = gw.json("POST", "/admin/keys", {"name": "kept"}, key=admin)
        app_key = doc["key"]
        status, _, doc = gw.generate(key=app_key, size="64x64")
        url = urllib.parse.urlsplit(doc["data"][0]["url"])
        self.assertEqual(gw.stop(), 0)

        gw2 = Gateway(data_dir=data)
        try:
            self.assertIsNone(gw2.admin_key, "the admin key is printed on first start only")
            self.assertNotIn("admin key", "".join(gw2.stdout_lines))
            self.assertEqual(gw2.json("GET", "/admin/keys", key=admin)[0], 200)
            self.assertEqual(gw2.generate(key=app_key, size="64x64")[0], 200)
            status, _, img = gw2.request("GET", url.path + "?" + url.query)
            self.assertEqual(status, 200, "signed URLs survive a restart")
            self.assertTrue(img.startswith(b"\x89PNG"))
            self.assertNotIn("applied migration", gw2.log())
            st = os.stat(os.path.join(data, "secret"))
            self.assertEqual(st.st_mode & 0o777, 0o600)
        finally:
            gw2.cleanup()
            import shutil
            shutil.rmtree(data, ignore_errors=True)


def thread_scheduling(pid):
    """{tid: (nice, policy)} of a process's threads, from /proc."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[int(tid)] = (int(fields[16]), int(fields[38]))  # stat fields 19 and 41
    return out


class PoolPriority(unittest.TestCase):
    """threadpool_nice: the threads that run jobs sit below the I/O loops."""

    def generate_and_look(self, gw):
        status, _, doc = gw.json("POST", "/v1/images/generations",
                                 {"prompt": "a lighthouse", "size": "256x256"},
                                 key=gw.admin_key)
        self.assertEqual(status, 200, doc)
        return thread_scheduling(gw.proc.pid)

    def test_pool_threads_lowered_loops_not(self):
        base = os.getpriority(os.PRIO_PROCESS, 0)
        with Gateway() as gw:
            threads = self.generate_and_look(gw)
        want = min(base + 10, 19)
        lowered = [t for t, (nice, policy) in threads.items() if nice == want and policy == 3]
        self.assertTrue(lowered, threads)  # 3: SCHED_BATCH
        self.assertEqual(threads[gw.proc.pid], (base, 0), "the main thread stays")
        self.assertGreater(len(threads) - len(lowered), 2, "the loops stay")

    def test_zero_leaves_every_thread(self):
        base = os.getpriority(os.PRIO_PROCESS, 0)
        with Gateway(config="threadpool_nice: 0\n") as gw:
            threads = self.generate_and_look(gw)
        self.assertEqual({v for v in threads.values()}, {(base, 0)}, threads)


def build_option(name):
    """An option of the meson build the binary under test comes from."""
    import json
    path = os.path.join(os.path.dirname(BIN), "meson-info", "intro-buildoptions.json")
    with open(path) as f:
        return {o["name"]: o["value"] for o in json.load(f)}[name]


class Allocator(unittest.TestCase):
    def test_the_build_allocator_serves_malloc(self):
        """The gateway names the malloc it runs on, having checked that a
        fresh block is that allocator's: mimalloc's in a normal build (a
        link that lost it would fall back to glibc's without a word),
        glibc's when the build asked for it or uses sanitizers."""
        with Gateway() as gw:
            status, _, doc = gw.generate(prompt="allocated")
            self.assertEqual(status, 200, doc)
            named = [l["msg"] for l in gw.log_lines()
                     if l.get("msg", "").startswith("allocator: ")]
        mimalloc = build_option("allocator") == "mimalloc" and \
            build_option("b_sanitize") == "none"
        self.assertEqual(len(named), 1, named)
        if mimalloc:
            self.assertRegex(named[0], r"^allocator: mimalloc \d+\.\d+\.\d+$")
        else:
            self.assertEqual(named[0], "allocator: glibc")


class Startup(unittest.TestCase):
    def test_admin_key_from_environment(self):
        key = "operator-chosen-admin-key-0123456789"
        with Gateway(env={"IMAGEGATE_ADMIN_KEY": key}) as gw:
            self.assertFalse(any("admin key" in l for l in gw.stdout_lines))
            self.assertEqual(gw.json("GET", "/admin/keys", key=key)[0], 200)
            self.assertNotIn(key, gw.log())

    def test_short_env_admin_key_refused(self):
        d = tempfile.mkdtemp()
        env = dict(os.environ, IMAGEGATE_ADMIN_KEY="short")
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", d], env=env,
                           capture_output=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"too short", r.stderr)

    def test_bad_config_and_flags(self):
        fd, path = tempfile.mkstemp(suffix=".yaml")
        os.write(fd, b"limits:\n  max_body_bytes: lots\n")
        os.close(fd)
        r = subprocess.run([BIN, "serve", "--config", path], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"limits.max_body_bytes", r.stderr)
        os.unlink(path)
        for args in (["--listen", "nowhere"], ["--workers", "-1"], ["--bogus"],
                     ["--config", "/nonexistent.yaml"], ["extra"]):
            r = subprocess.run([BIN, "serve"] + args, capture_output=True, timeout=10)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr, args)

    def test_bad_allow_networks_stops_the_start(self):
        fd, path = tempfile.mkstemp(suffix=".yaml")
        os.write(fd, b"upstream:\n  allow_networks: \"10.0.0.0/8, 10.1.0.0/99\"\n")
        os.close(fd)
        d = tempfile.mkdtemp()
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", d, "--config", path],
                           capture_output=True, timeout=10)
        os.unlink(path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"upstream.allow_networks", r.stdout + r.stderr)
        self.assertIn(b"10.1.0.0/99", r.stdout + r.stderr)

    def test_store_url_names_the_store(self):
        d = tempfile.mkdtemp()
        for url, want in (("postgres://u@db/imagegate", b"not built in yet"),
                          ("ftp://x/y", b"unknown kind of store")):
            fd, path = tempfile.mkstemp(suffix=".yaml")
            os.write(fd, ("store:\n  url: \"%s\"\n" % url).encode())
            os.close(fd)
            r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", d,
                                "--config", path], capture_output=True, timeout=10)
            os.unlink(path)
            self.assertNotEqual(r.returncode, 0, url)
            self.assertIn(want, r.stdout + r.stderr, url)
        # sqlite:PATH puts the database where it says.
        db = os.path.join(d, "elsewhere.db")
        fd, path = tempfile.mkstemp(suffix=".yaml")
        os.write(fd, ("store:\n  url: \"sqlite:%s\"\n" % db).encode())
        os.close(fd)
        with Gateway(config=open(path).read()) as gw:
            self.assertEqual(gw.generate(size="64x64")[0], 200)
        os.unlink(path)
        self.assertTrue(os.path.exists(db))

    def test_port_in_use_fails_cleanly(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        d = tempfile.mkdtemp()
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:%d" % port, "--data", d],
                           capture_output=True, timeout=10)
        s.close()
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"cannot listen", r.stderr)

    def test_ready_quickly(self):
        t0 = time.monotonic()
        with Gateway() as gw:
            ready = time.monotonic() - t0
            line = [l for l in gw.stdout_lines if "listening on" in l][0]
            self.assertRegex(line, r"ready in \d+\.\d ms")
            self.assertLess(ready, 5.0)

    def test_config_dump_and_doc(self):
        r = subprocess.run([BIN, "config", "dump"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"limits.max_header_bytes: 16384", r.stdout)
        r = subprocess.run([BIN, "config", "doc"], capture_output=True, timeout=10)
        self.assertIn(b"| `limits.max_body_bytes` |", r.stdout)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "docs", "CONFIG.md")) as f:
            self.assertIn(r.stdout.decode(), f.read(),
                          "docs/CONFIG.md must contain the output of `imagegate config doc`")


if __name__ == "__main__":
    unittest.main()
