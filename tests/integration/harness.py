"""Starts the real imagegate binary on a free loopback port with a temporary
data directory, and talks to it over HTTP. Standard library only.

IMAGEGATE_BIN names the binary (default build/imagegate)."""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("IMAGEGATE_BIN", os.path.join(ROOT, "build", "imagegate"))


class Gateway:
    """One running `imagegate serve`. Use as a context manager or call stop()."""

    def __init__(self, config=None, data_dir=None, env=None, args=(), workers=2):
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="ig-data-")
        self.config_path = None
        cmd = [BIN, "serve", "--listen", "127.0.0.1:0", "--data", self.data_dir,
               "--workers", str(workers)]
        if config:
            fd, self.config_path = tempfile.mkstemp(prefix="ig-cfg-", suffix=".yaml")
            with os.fdopen(fd, "w") as f:
                f.write(config)
            cmd += ["--config", self.config_path]
        cmd += list(args)
        full_env = dict(os.environ)
        full_env.pop("IMAGEGATE_ADMIN_KEY", None)
        full_env.pop("IMAGEGATE_SECRET", None)
        # Never a real provider from the developer's shell: tests use fakes.
        for var in list(full_env):
            if var.endswith(("_API_KEY", "_API_TOKEN", "_BASE_URL", "_QUEUE_URL")) or \
                    var in ("FAL_KEY", "A1111_URL"):
                full_env.pop(var)
        full_env.update(env or {})
        self.stderr_path = os.path.join(tempfile.mkdtemp(prefix="ig-log-"), "stderr.log")
        self.stderr_file = open(self.stderr_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr_file,
                                     env=full_env)
        self.admin_key = None
        self.port = None
        self.stdout_lines = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            self.stdout_lines.append(line)
            m = re.search(r"\b(ig_[0-9A-Za-z]{43})\b", line)
            if m:
                self.admin_key = m.group(1)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            self.proc.kill()
            raise RuntimeError("gateway did not start: %s\n%s" % (
                "".join(self.stdout_lines), self.log()))
        # Keep draining stdout so the gateway never blocks on a full pipe.
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()
        if "IMAGEGATE_ADMIN_KEY" in (env or {}):
            self.admin_key = env["IMAGEGATE_ADMIN_KEY"]

    def _read_rest(self):
        for line in self.proc.stdout:
            self.stdout_lines.append(line.decode())

    def log(self):
        if not self.stderr_file.closed:
            self.stderr_file.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_lines(self):
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr_file.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.config_path:
            os.unlink(self.config_path)
        self.check_sanitizers()

    def check_sanitizers(self):
        """Under the ASan+UBSan build, any report fails the test that ran it."""
        log = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                raise AssertionError("sanitizer report from the gateway:\n" + log[-6000:])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # ---- what was stored ----

    def stored(self, generation_id, timeout=5.0):
        """The generation's record, read from the database once it is there:
        {"status", "error", "model", "provider", "images": [bytes of each
        image's blob, in order]}. Fails when it is not recorded in time."""
        import sqlite3

        def read():
            db = sqlite3.connect(os.path.join(self.data_dir, "imagegate.db"))
            try:
                return db.execute("SELECT status, error, model, provider, images FROM generations"
                                  " WHERE id = ?", (generation_id,)).fetchone()
            finally:
                db.close()

        row = wait_for(read, timeout, what="generation %s to be recorded" % generation_id)
        images = []
        for im in json.loads(row[4]):
            sha = im["sha256"]
            with open(os.path.join(self.data_dir, "blobs", sha[:2], sha[2:4], sha), "rb") as f:
                images.append(f.read())
        return {"status": row[0], "error": row[1], "model": row[2], "provider": row[3],
                "images": images}

    # ---- HTTP ----

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, key=None, conn=None):
        """Returns (status, headers dict lower-cased, raw body bytes)."""
        h = dict(headers or {})
        if key:
            h["Authorization"] = "Bearer " + key
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        own = conn is None
        c = conn or self.conn()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if own:
                c.close()

    def json(self, method, path, body=None, headers=None, key=None):
        status, hdrs, data = self.request(method, path, body, headers, key)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        return status, hdrs, doc

    def generate(self, key=None, **fields):
        fields.setdefault("prompt", "a red fox")
        fields.setdefault("size", "128x128")
        return self.json("POST", "/v1/images/generations", fields, key=key or self.admin_key)

    def raw(self, data, timeout=10, read=True):
        """Sends raw bytes on a new socket and returns everything read until close."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            if not read:
                return b""
            return recv_all(s)
        finally:
            s.close()


def recv_all(s):
    """Everything the peer sends until it closes (a reset counts as the
    end). The socket's timeout passing first fails the test: a connection
    that should close and does not is a failure, not an answer."""
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        except socket.timeout:
            raise AssertionError("the connection did not close within the timeout; got %r" %
                                 b"".join(chunks)[:200])
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def wait_for(predicate, timeout=5.0, interval=0.02, what="the condition"):
    """Polls predicate() until it returns something true, and returns that.
    The timeout passing first fails the test, naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def split_responses(data):
    """Splits concatenated HTTP/1.1 responses (Content-Length framed)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        out.append((status, hdrs, rest[:n]))
        data = rest[n:]
    return out


class GatewayTest(unittest.TestCase):
    """A test class sharing one gateway (started once per class)."""

    config = None
    env = None

    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(config=cls.config, env=cls.env)

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def assertOpenAIError(self, status, hdrs, doc, want_status, code=None, param=None,
                          detail=False):
        """OpenAI's error shape, exactly; with detail, also the `detail`
        member the Ops-Center paths add (the message again)."""
        self.assertEqual(status, want_status, doc)
        self.assertIn("application/json", hdrs.get("content-type", ""))
        self.assertIsInstance(doc, dict)
        self.assertEqual(set(doc), {"error", "detail"} if detail else {"error"})
        if detail:
            self.assertEqual(doc["detail"], doc["error"]["message"])
        err = doc["error"]
        self.assertEqual(set(err), {"message", "type", "param", "code"})
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"])
        self.assertIsInstance(err["type"], str)
        if code is not None:
            self.assertEqual(err["code"], code, err)
        self.assertEqual(err["param"], param, err)
        self.assertTrue(hdrs.get("x-request-id"))


def b64_image(doc, i=0):
    return base64.b64decode(doc["data"][i]["b64_json"])


# ---- images and forms for the upload endpoints (standard library only) ----

def encode_png(width, height, pixel, alpha=False):
    """An 8-bit RGB (or RGBA) PNG; pixel(x, y) gives the channel tuple."""
    import struct
    import zlib
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width))
                    for y in range(height))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) +
            chunk(b"IEND", b""))


def decode_png(data):
    """(width, height, channels, rows of bytes) of an 8-bit, non-interlaced
    RGB or RGBA PNG, the kinds the gateway writes."""
    import struct
    import zlib
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            ch = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), width * ch, [], bytearray(width * ch)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], prev[i - ch] if i >= ch else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, ch, rows


def multipart(fields, files=(), boundary="igtestboundary7MA4YWxkTrZu0gW"):
    """(content type, body): fields is [(name, value)], files [(name,
    filename, content type, bytes)]."""
    out = b""
    for name, value in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                % (boundary, name, value)).encode()
    for name, filename, ctype, data in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: %s\r\n\r\n" % (boundary, name, filename, ctype)).encode()
        out += data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return "multipart/form-data; boundary=" + boundary, out


def post_form(gw, path, fields, files=(), key=None):
    """POSTs a multipart form; returns (status, headers, JSON document)."""
    ctype, body = multipart(fields, files)
    status, hdrs, data = gw.request("POST", path, body, {"Content-Type": ctype},
                                    key=key or gw.admin_key)
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = None
    return status, hdrs, doc
