"""The provider layer against a fake OpenAI server: the exact upstream
request, retries, Retry-After, the classification table, downloads and the
address policy, the deadline."""
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest
import urllib.parse
import urllib.request

from harness import (Gateway, decode_png, encode_png, multipart, post_form, recv_all,
                     split_responses, wait_for)

SQUARE = encode_png(64, 64, lambda x, y: (x * 4, y * 4, 90))
WIDE = encode_png(96, 64, lambda x, y: (x * 2, y * 4, 30))
MASK = encode_png(64, 64, lambda x, y: (0, 0, 0, 0 if y < 32 else 255), alpha=True)


def sha256(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


def padded_png(png, size):
    """png with a tEXt chunk after its header, so the file is `size` bytes
    and still a valid image."""
    import struct
    import zlib
    pad = size - len(png) - 12
    data = b"pad\0" + b"x" * (pad - 4)
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(
        ">I", zlib.crc32(b"tEXt" + data) & 0xffffffff)
    out = png[:33] + chunk + png[33:]
    assert len(out) == size
    return out


def upload(data, name="image", filename="in.png"):
    return (name, filename, "image/png", data)

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "..", "fakes", "fake_provider.py")


class Fake:
    live = []  # started and not stopped: FakeTest checks them after each test

    def __init__(self, any_address=False):
        """any_address: listen on every IPv4 and IPv6 address (the base URL
        still names 127.0.0.1)."""
        self.proc = subprocess.Popen([sys.executable, FAKE] + (["--any"] if any_address else []),
                                     stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        self.port = int(line.split()[-1])
        self.base = "http://127.0.0.1:%d" % self.port
        Fake.live.append(self)

    def call(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def script(self, plans):
        self.call("/__reset", {})
        self.call("/__script", plans)

    def requests(self):
        return self.call("/__requests")

    def errors(self):
        """The fake's own failures since the last call: each one is a bug
        in the fake, which the gateway would see as a broken answer."""
        return self.call("/__errors")

    def stop(self):
        if self in Fake.live:
            Fake.live.remove(self)
        self.proc.kill()
        self.proc.wait()


class FakeTest(unittest.TestCase):
    """Fails the test during which a live fake raised: a traceback in a
    fake looks like a connection reset to the gateway, which retries, so
    "retried" or 502 assertions could pass for the wrong reason."""

    def tearDown(self):
        errors = []
        for fake in list(Fake.live):
            if fake.proc.poll() is None:
                errors += fake.errors()
        if errors:
            self.fail("the fake provider failed while serving this test:\n" + "\n".join(errors))


CONFIG = """
breaker:
  failure_threshold: 0   # these tests fail on purpose; the breaker has its own
upstream:
  base_delay_ms: 20
  max_delay_ms: 1500
  max_attempts: 3
  deadline_ms: 4000
"""


class OpenAIProvider(FakeTest):
    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG, env={"OPENAI_API_KEY": "sk-test-123",
                                             "OPENAI_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def gen(self, **fields):
        fields.setdefault("prompt", "a harbour at night")
        return self.gw.json("POST", "/v1/images/generations", fields, key=self.gw.admin_key)

    def form(self, path, fields, files):
        return post_form(self.gw, path, fields, files)

    def test_dalle2_edit_is_multipart_with_the_uploads(self):
        self.fake.script([])
        status, _, doc = self.form("/v1/images/edits",
                                   [("model", "dall-e-2"), ("prompt", "add a boat"), ("n", "2"),
                                    ("size", "512x512"), ("user", "u-1")],
                                   [upload(SQUARE), upload(MASK, "mask", "m.png")])
        self.assertEqual(status, 200, doc)
        self.assertEqual((len(doc["data"]), doc["_metadata"]["operation"]), (2, "edit"))
        [r] = self.fake.requests()
        self.assertEqual(r["path"], "/v1/images/edits")
        self.assertEqual(r["headers"]["authorization"], "Bearer sk-test-123")
        form = r["form"]
        self.assertEqual({k: [p.get("value") for p in v] for k, v in form.items()
                          if "value" in v[0]},
                         {"model": ["dall-e-2"], "prompt": ["add a boat"], "n": ["2"],
                          "size": ["512x512"], "user": ["u-1"], "response_format": ["b64_json"]})
        [img], [mask] = form["image"], form["mask"]
        self.assertEqual((img["type"], img["sha256"]), ("image/png", sha256(SQUARE)))
        self.assertEqual((mask["type"], mask["sha256"]), ("image/png", sha256(MASK)))

    def test_gpt_image_edit_sends_several_images_and_fidelity(self):
        self.fake.script([])
        status, _, doc = self.form("/v1/images/edits",
                                   [("model", "gpt-image-1"), ("prompt", "merge them"),
                                    ("input_fidelity", "high"), ("output_format", "webp")],
                                   [upload(SQUARE, "image[]"), upload(WIDE, "image[]")])
        self.assertEqual(status, 200, doc)
        form = self.fake.requests()[0]["form"]
        self.assertEqual([p["sha256"] for p in form["image[]"]], [sha256(SQUARE), sha256(WIDE)])
        self.assertEqual(form["input_fidelity"], [{"value": "high"}])
        self.assertEqual(form["output_format"], [{"value": "webp"}])
        self.assertNotIn("size", form, "an open size is left to OpenAI")
        self.assertNotIn("response_format", form, "GPT image models answer b64 anyway")

    def test_dalle2_variation(self):
        self.fake.script([])
        status, _, doc = self.form("/v1/images/variations", [("model", "dall-e-2")],
                                   [upload(SQUARE)])
        self.assertEqual(status, 200, doc)
        [r] = self.fake.requests()
        self.assertEqual(r["path"], "/v1/images/variations")
        self.assertNotIn("prompt", r["form"])
        self.assertEqual(r["form"]["image"][0]["sha256"], sha256(SQUARE))

    def test_edit_rules_are_checked_before_the_upstream(self):
        self.fake.script([])
        cases = [
            ("/v1/images/edits", [("model", "dall-e-3"), ("prompt", "x")], [upload(SQUARE)],
             "unsupported_operation", "model"),
            ("/v1/images/variations", [("model", "gpt-image-1")], [upload(SQUARE)],
             "unsupported_operation", "model"),
            ("/v1/images/edits", [("model", "dall-e-2"), ("prompt", "x")], [upload(WIDE)],
             "invalid_image_format", "image"),
            ("/v1/images/edits", [("model", "dall-e-2"), ("prompt", "x")],
             [upload(SQUARE, "image[]"), upload(SQUARE, "image[]")], "invalid_value", "image"),
            ("/v1/images/edits", [("model", "gpt-image-1-mini"), ("prompt", "x"),
                                  ("input_fidelity", "low")], [upload(SQUARE)],
             "unsupported_parameter", "input_fidelity"),
            # dall-e-2 takes images of at most 4 MB (README: image_too_large
            # by bytes): a valid square PNG padded past it with a text chunk.
            ("/v1/images/edits", [("model", "dall-e-2"), ("prompt", "x")],
             [upload(padded_png(SQUARE, (4 << 20) + 1))], "image_too_large", "image"),
        ]
        for path, fields, files, code, param in cases:
            with self.subTest(path=path, fields=fields):
                status, _, doc = self.form(path, fields, files)
                self.assertEqual((status, doc["error"]["code"], doc["error"]["param"]),
                                 (400, code, param), doc)
        self.assertEqual(self.fake.requests(), [], "nothing reached the provider")

    def stream(self, body, ctype="application/json", path="/v1/images/generations"):
        """Sends an HTTP/1.0 request; returns (status line, headers, [(event, data)])."""
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=20)
        s.sendall(("POST %s HTTP/1.0\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (path, self.gw.admin_key, ctype, len(body))
                   ).encode() + body)
        data = recv_all(s)
        s.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        if b"text/event-stream" not in head:
            return head.split(b"\r\n")[0].decode(), head.decode(), json.loads(rest)
        evs = []
        for block in rest.decode().strip().split("\n\n"):
            lines = dict(line.split(": ", 1) for line in block.split("\n"))
            evs.append((lines["event"], json.loads(lines["data"])))
        return head.split(b"\r\n")[0].decode(), head.decode(), evs

    def test_stream_is_relayed_and_the_final_image_stored(self):
        self.fake.script([])
        status, _, evs = self.stream({"model": "gpt-image-1", "prompt": "a kite", "stream": True,
                                      "partial_images": 2})
        self.assertIn("200", status)
        self.assertEqual([e for e, _ in evs], ["image_generation.partial_image"] * 2 +
                         ["image_generation.completed"])
        # Partials are the provider's own events, byte for byte in their data.
        sys.path.insert(0, os.path.dirname(FAKE))
        from fake_provider import png  # the fake's own image maker
        self.assertEqual(base64.b64decode(evs[0][1]["b64_json"]), png(16, 16, 100))
        done = evs[-1][1]
        self.assertEqual(base64.b64decode(done["b64_json"]), png(16, 16, 200))
        self.assertEqual(done["_metadata"]["provider_used"], "openai")
        # The final image was stored and the generation recorded.
        rec = self.gw.stored(done["_metadata"]["generation_id"])
        self.assertEqual((rec["status"], rec["provider"]), ("succeeded", "openai"))
        self.assertEqual(rec["images"], [png(16, 16, 200)])
        [r] = self.fake.requests()
        body = json.loads(r["body"])
        self.assertEqual((body["stream"], body["partial_images"]), (True, 2))
        self.assertEqual(r["headers"]["accept"], "text/event-stream")

    def test_stream_failures(self):
        # A failure before any event is retried, and the client sees one clean stream.
        self.fake.script([{"status": 500}])
        status, _, evs = self.stream({"model": "gpt-image-1", "prompt": "x", "stream": True,
                                      "partial_images": 1})
        self.assertEqual([e for e, _ in evs], ["image_generation.partial_image",
                                               "image_generation.completed"])
        self.assertEqual(len(self.fake.requests()), 2)
        # A 400 before the stream is an ordinary HTTP error.
        self.fake.script([{"status": 400}])
        status, _, doc = self.stream({"model": "gpt-image-1", "prompt": "x", "stream": True})
        self.assertIn("400", status)
        self.assertEqual(doc["error"]["code"], "provider_rejected_request")
        # Broken after a partial: no second attempt (the client saw this one's
        # partial); the stream ends with an error event.
        self.fake.script([{"stream_break": True}])
        status, _, evs = self.stream({"model": "gpt-image-1", "prompt": "x", "stream": True,
                                      "partial_images": 1})
        self.assertEqual([e for e, _ in evs], ["image_generation.partial_image", "error"])
        self.assertEqual(evs[-1][1]["error"]["code"], "provider_error")
        self.assertEqual(len(self.fake.requests()), 1)
        # A moderation error event is a content refusal; with nothing relayed
        # yet it is an ordinary 400, after a partial an error event.
        self.fake.script([{"stream_error": "moderation_blocked"}])
        status, _, doc = self.stream({"model": "gpt-image-1", "prompt": "x", "stream": True})
        self.assertIn("400", status)
        self.assertEqual(doc["error"]["code"], "content_policy_violation")
        self.fake.script([{"stream_error": "moderation_blocked"}])
        status, _, evs = self.stream({"model": "gpt-image-1", "prompt": "x", "stream": True,
                                      "partial_images": 1})
        self.assertEqual([e for e, _ in evs], ["image_generation.partial_image", "error"])
        self.assertEqual(evs[-1][1]["error"]["code"], "content_policy_violation")
        # Models that do not stream still refuse it.
        status, _, doc = self.stream({"model": "dall-e-3", "prompt": "x", "stream": True})
        self.assertEqual((doc["error"]["param"]), "stream")

    def test_streamed_edit(self):
        self.fake.script([])
        ctype, body = multipart([("model", "gpt-image-1"), ("prompt", "x"), ("stream", "true"),
                                 ("partial_images", "1")], [upload(SQUARE)])
        status, _, evs = self.stream(body, ctype, "/v1/images/edits")
        self.assertEqual([e for e, _ in evs], ["image_edit.partial_image", "image_edit.completed"])
        self.assertEqual(self.fake.requests()[0]["form"]["stream"], [{"value": "true"}])

    def test_large_answer_parsed_off_the_loop(self):
        # Answers of 64 KiB and more are parsed on the thread pool: a
        # 300x300 PNG is about 360 KB of base64 here.
        self.fake.script([{"side": 300}])
        status, _, doc = self.gen(model="dall-e-2", n=2, response_format="b64_json")
        self.assertEqual(status, 200, doc)
        for i in range(2):
            w, h, _, _ = decode_png(base64.b64decode(doc["data"][i]["b64_json"]))
            self.assertEqual((w, h), (300, 300))
        self.assertEqual(doc["_metadata"]["attempts"], 1)

    def test_models_listed_with_bare_names(self):
        status, _, doc = self.gw.json("GET", "/v1/models", key=self.gw.admin_key)
        ids = {m["id"] for m in doc["data"]}
        self.assertTrue({"openai/dall-e-2", "openai/dall-e-3", "openai/gpt-image-1",
                         "local/procedural"} <= ids, ids)
        status, _, m = self.gw.json("GET", "/v1/models/dall-e-3", key=self.gw.admin_key)
        self.assertEqual((status, m["id"]), (200, "openai/dall-e-3"))

    def test_exact_upstream_request_and_answer(self):
        self.fake.script([])
        status, _, doc = self.gen(model="dall-e-3", size="1792x1024", quality="hd",
                                  style="natural", user="u-7")
        self.assertEqual(status, 200, doc)
        [r] = self.fake.requests()
        self.assertEqual(r["path"], "/v1/images/generations")
        self.assertEqual(r["headers"]["authorization"], "Bearer sk-test-123")
        self.assertEqual(r["headers"]["content-type"], "application/json")
        body = json.loads(r["body"])
        self.assertEqual(body, {"model": "dall-e-3", "prompt": "a harbour at night", "n": 1,
                                "size": "1792x1024", "quality": "hd", "style": "natural",
                                "user": "u-7", "response_format": "b64_json"})
        self.assertEqual(doc["_metadata"]["provider_used"], "openai")
        self.assertEqual(doc["_metadata"]["model"], "openai/dall-e-3")
        self.assertEqual(doc["_metadata"]["attempts"], 1)
        self.assertEqual(doc["data"][0]["revised_prompt"], "revised: a harbour at night")
        # The image was stored: its URL serves the fake's PNG.
        url = urllib.parse.urlsplit(doc["data"][0]["url"])
        status, hdrs, img = self.gw.request("GET", url.path + "?" + url.query)
        self.assertEqual(status, 200)
        self.assertTrue(img.startswith(b"\x89PNG"))
        # The provider's key never reaches the log.
        self.assertNotIn("sk-test-123", self.gw.log())

    def test_gpt_image_fields_and_b64(self):
        self.fake.script([])
        status, _, doc = self.gen(model="gpt-image-1", n=2, output_format="webp",
                                  background="transparent", response_format="b64_json")
        self.assertEqual(status, 200, doc)
        body = json.loads(self.fake.requests()[0]["body"])
        self.assertEqual(body["output_format"], "webp")
        self.assertEqual(body["background"], "transparent")
        self.assertNotIn("response_format", body)
        self.assertEqual(len(doc["data"]), 2)
        self.assertTrue(base64.b64decode(doc["data"][0]["b64_json"]).startswith(b"\x89PNG"))

    def test_model_rules_enforced_before_upstream(self):
        self.fake.script([])
        for fields, param in (({"model": "dall-e-3", "n": 2}, "n"),
                              ({"model": "dall-e-3", "size": "512x512"}, "size"),
                              ({"model": "dall-e-2", "style": "vivid"}, "style"),
                              ({"model": "dall-e-3", "seed": 1}, "seed"),
                              ({"model": "dall-e-3", "negative_prompt": "x"}, "negative_prompt"),
                              ({"model": "dall-e-2", "output_format": "webp"}, "output_format")):
            with self.subTest(fields=fields):
                status, _, doc = self.gen(**fields)
                self.assertEqual(status, 400, doc)
                self.assertEqual(doc["error"]["param"], param)
        self.assertEqual(self.fake.requests(), [], "nothing invalid reaches the provider")

    def test_retry_5xx_then_success(self):
        self.fake.script([{"status": 500}, {"status": 503}])
        status, _, doc = self.gen(model="dall-e-2", size="256x256")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["_metadata"]["attempts"], 3)
        self.assertEqual(len(self.fake.requests()), 3)

    def test_retry_after_honoured(self):
        self.fake.script([{"status": 429, "headers": {"Retry-After": "1"}}])
        t0 = time.monotonic()
        status, _, doc = self.gen(model="dall-e-2")
        elapsed = time.monotonic() - t0
        self.assertEqual(status, 200, doc)
        self.assertGreaterEqual(elapsed, 0.95)
        self.assertLess(elapsed, 3)

    def test_malformed_is_retried(self):
        self.fake.script([{"raw": "{not json"}, {"status": 502}])
        status, _, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["_metadata"]["attempts"], 3)

    def test_base64_images_sniffed_then_read_in_the_store_step(self):
        def answer(text):
            return {"raw": json.dumps({"created": 1, "data": [{"b64_json": text}]})}

        # Base64 whose first bytes are no image's signature is caught before
        # the answer counts, as a non-image download is: the next deployment
        # is asked (there is none here), not this one again.
        page = base64.b64encode(b"<html>not an image</html>").decode()
        self.fake.script([answer(page)])
        status, _, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 502, doc)
        self.assertIn("not PNG, JPEG or WebP", doc["error"]["message"])
        self.assertEqual(len(self.fake.requests()), 1)
        # A PNG signature over a broken header, or over base64 that breaks
        # further on, gets past that check; the store step finds it out. The
        # provider has delivered (and charged), so it is not asked again
        # either, and the answer says whose image it was.
        good = base64.b64encode(SQUARE).decode()
        for text in (base64.b64encode(SQUARE[:20]).decode(),
                     good[:40] + "!!!!" + good[44:]):
            with self.subTest(text=text[:24]):
                self.fake.script([answer(text)])
                status, _, doc = self.gen(model="dall-e-2", response_format="b64_json")
                self.assertEqual(status, 502, doc)
                self.assertEqual(doc["error"]["code"], "provider_error")
                self.assertIn("The provider's image cannot be read", doc["error"]["message"])
                self.assertEqual(len(self.fake.requests()), 1)
        # Canonical base64 is handed on as it came. Stray bits after the last
        # byte decode to the same bytes but are not passed on: the client
        # gets the canonical text of what was stored.
        img = SQUARE + b"\0" * ((1 - len(SQUARE)) % 3)  # len % 3 == 1: "xx==" at the end
        canonical = base64.b64encode(img).decode()
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        stray = canonical[:-3] + alphabet[alphabet.index(canonical[-3]) | 1] + "=="
        self.assertNotEqual(stray, canonical)
        self.assertEqual(base64.b64decode(stray), img)
        for text in (canonical, stray):
            self.fake.script([answer(text)])
            status, _, doc = self.gen(model="dall-e-2", response_format="b64_json")
            self.assertEqual(status, 200, doc)
            self.assertEqual(doc["data"][0]["b64_json"], canonical)

    def test_connection_reset_is_retried(self):
        # curl may itself re-send once on a fresh connection after a reset of
        # a reused one; either way the client gets its image.
        self.fake.script([{"reset": True}, {"reset": True}])
        status, _, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 200, doc)
        self.assertGreaterEqual(doc["_metadata"]["attempts"], 2)

    def test_truncated_body_retried_slow_body_waited_for(self):
        self.fake.script([{"truncate": True}])
        status, _, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 200, doc)
        self.assertGreaterEqual(doc["_metadata"]["attempts"], 2)
        self.fake.script([{"slow_body": 0.05}])
        status, _, doc = self.gen(model="dall-e-2", n=2, response_format="b64_json")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["_metadata"]["attempts"], 1)
        self.assertTrue(base64.b64decode(doc["data"][1]["b64_json"]).startswith(b"\x89PNG"))

    def test_retries_exhausted_502_with_reason(self):
        self.fake.script([{"status": 500}] * 3)
        status, hdrs, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 502, doc)
        self.assertEqual(doc["error"]["code"], "provider_error")
        self.assertIn("500", doc["error"]["message"])
        self.assertEqual(len(self.fake.requests()), 3)

    def test_upstream_400_is_ours_without_retry(self):
        self.fake.script([{"status": 400, "error": {"message": "prompt too odd", "type":
                                                    "invalid_request_error", "param": "prompt",
                                                    "code": None}}])
        status, _, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 400, doc)
        self.assertIn("prompt too odd", doc["error"]["message"])
        self.assertEqual(len(self.fake.requests()), 1)

    def test_content_policy_not_retried(self):
        self.fake.script([{"status": 400, "error": {
            "message": "Your request was rejected as a result of our safety system.",
            "type": "invalid_request_error", "param": None, "code": "content_policy_violation"}}])
        status, _, doc = self.gen(model="dall-e-3")
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["code"], "content_policy_violation")
        self.assertEqual(len(self.fake.requests()), 1)

    def test_upstream_auth_failure_is_502(self):
        self.fake.script([{"status": 401, "error": {"message": "Incorrect API key provided",
                                                    "type": "invalid_request_error",
                                                    "param": None, "code": "invalid_api_key"}}])
        status, _, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 502, doc)
        self.assertEqual(doc["error"]["code"], "provider_auth_failed")
        self.assertEqual(len(self.fake.requests()), 1)

    def test_url_results_downloaded_from_the_provider_host(self):
        self.fake.script([{"urls": True}])
        status, _, doc = self.gen(model="dall-e-2", n=2, response_format="b64_json")
        self.assertEqual(status, 200, doc)
        a = base64.b64decode(doc["data"][0]["b64_json"])
        b = base64.b64decode(doc["data"][1]["b64_json"])
        self.assertTrue(a.startswith(b"\x89PNG") and a != b)

    def test_url_to_private_address_refused(self):
        other = Fake()  # another loopback port: not the provider's own host
        try:
            self.fake.script([{"url": other.base + "/img/1.png"}] * 3)
            status, _, doc = self.gen(model="dall-e-2")
            self.assertEqual(status, 502, doc)
            self.assertIn("could not be downloaded: refused to connect to 127.0.0.1: a private or "
                          "special-purpose address", doc["error"]["message"])
            self.assertEqual(other.call("/__images"), [], "nothing reached the other server")
            self.assertEqual(other.requests(), [])
        finally:
            other.stop()
        self.fake.script([{"url": "http://169.254.169.254/latest/meta-data"}])
        status, _, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 502, doc)
        self.assertIn("refused to connect to 169.254.169.254: a cloud metadata service",
                      doc["error"]["message"])
        # No connection was tried: a refused address fails before connecting
        # (the end-to-end proof, in a namespace, is test_ssrf.py).
        self.assertNotIn("connect to the upstream", doc["error"]["message"])

    def test_only_http_and_https_urls_are_downloaded(self):
        for url in ("file:///etc/passwd", "ftp://127.0.0.1/x.png", "gopher://127.0.0.1:70/_x",
                    "dict://127.0.0.1:11211/stat", "HTTP//no-colon.example/x.png"):
            with self.subTest(url=url):
                self.fake.script([{"url": url}] * 3)
                status, _, doc = self.gen(model="dall-e-2")
                self.assertEqual(status, 502, doc)
                self.assertIn("not http(s)", doc["error"]["message"])
                self.assertEqual(self.fake.call("/__images"), [])

    def test_image_url_that_404s_or_redirects_private(self):
        for path in ("/gone/1.png", "/redirect/1.png"):
            with self.subTest(path=path):
                self.fake.script([{"url": self.fake.base + path}] * 3)
                status, _, doc = self.gen(model="dall-e-2")
                self.assertEqual(status, 502, doc)
                self.assertIn("could not be downloaded", doc["error"]["message"])
                # A failed download moves on; the paid job is not submitted again.
                self.assertEqual(len(self.fake.requests()), 1)

    def test_non_image_download_refused(self):
        self.fake.script([{"url": self.fake.base + "/notimage/1"}])
        status, _, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 502, doc)
        self.assertIn("not PNG, JPEG or WebP", doc["error"]["message"])

    def test_deadline_504(self):
        self.fake.script([{"delay": 6}])
        t0 = time.monotonic()
        status, _, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 504, doc)
        self.assertEqual(doc["error"]["code"], "deadline_exceeded")
        self.assertLess(time.monotonic() - t0, 5.5)

    def test_failures_recorded(self):
        import sqlite3
        self.fake.script([{"status": 401}])
        self.gen(model="dall-e-2")
        db = sqlite3.connect(os.path.join(self.gw.data_dir, "imagegate.db"))
        row = db.execute("SELECT status, provider, error FROM generations "
                         "ORDER BY rowid DESC LIMIT 1").fetchone()
        db.close()
        self.assertEqual(row[0], "failed")
        self.assertIn("credentials", row[2])


class OpenAIProviderThroughLibcurl(OpenAIProvider):
    """Every test above again, with plain http through libcurl
    (upstream.builtin_http: false): the path https providers always take."""

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG + "  builtin_http: false\n",
                         env={"OPENAI_API_KEY": "sk-test-123",
                              "OPENAI_BASE_URL": cls.fake.base + "/v1"})

    def test_requests_went_through_libcurl(self):
        self.fake.script([])
        status, _, doc = self.gen(model="dall-e-2")
        self.assertEqual(status, 200, doc)
        # libcurl offers compressed answers; the built-in client does not.
        self.assertIn("accept-encoding", self.fake.requests()[0]["headers"])


class OneWorkerBeforeFake(FakeTest):
    """Base: a gateway of one worker (config) in front of one fake OpenAI
    server."""

    config = CONFIG

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=cls.config, workers=1,
                         env={"OPENAI_API_KEY": "sk-test-123",
                              "OPENAI_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()


class ClientsLeavingMidway(OneWorkerBeforeFake):
    """Clients that leave at any moment (while the provider is asked, while
    the store step runs, while the answer is written) must never get, or
    cause, a wrong answer: every answer that arrives is its own request's,
    whole, and the gateway goes on serving."""

    def test_clients_leaving_at_any_moment_never_cross_answers(self):
        import random
        import threading
        self.fake.script([])
        body = json.dumps({"model": "dall-e-2", "prompt": "p",
                           "response_format": "b64_json"}).encode()
        answers, errors = {}, []

        def client(i):
            rid = "lend-%04d" % i
            try:
                s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=20)
                s.sendall(("POST /v1/images/generations HTTP/1.1\r\nHost: t\r\n"
                           "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                           "x-request-id: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                           % (self.gw.admin_key, rid, len(body))).encode() + body)
                if i % 2:  # leaves somewhere between sending and the answer
                    time.sleep(random.uniform(0, 0.03))
                    s.close()
                    return
                answers[rid] = split_responses(recv_all(s))
                s.close()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        for start in range(0, 240, 48):
            threads = [threading.Thread(target=client, args=(i,))
                       for i in range(start, start + 48)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(answers), 120)
        for rid, got in answers.items():
            self.assertEqual(len(got), 1, rid)
            status, hdrs, data = got[0]
            self.assertEqual(status, 200, (rid, data[:200]))
            self.assertEqual(hdrs["x-request-id"], rid)
            self.assertEqual(hdrs.get("connection"), "close")
            doc = json.loads(data)
            self.assertTrue(base64.b64decode(doc["data"][0]["b64_json"]).startswith(b"\x89PNG"))
        # Still serving, and every generation was recorded once.
        status, _, doc = self.gw.json("POST", "/v1/images/generations",
                                      {"model": "dall-e-2", "prompt": "after"},
                                      key=self.gw.admin_key)
        self.assertEqual(status, 200, doc)
        self.assertNotIn("AddressSanitizer", self.gw.log())


class BuiltinHttpClient(OneWorkerBeforeFake):
    """The built-in HTTP/1.1 client, the default for plain http upstreams:
    kept-alive connections, a dead kept connection replaced once, chunked
    answers, the size cap before and while a body comes, names resolved.
    One worker, so one connection pool; one attempt per deployment, so
    only the client itself can have sent a request twice."""

    config = CONFIG.replace("max_attempts: 3", "max_attempts: 1") + \
        "images:\n  max_image_bytes: 65536\n"

    def gen(self, gw=None, **fields):
        fields.setdefault("prompt", "a harbour at night")
        fields.setdefault("model", "dall-e-2")
        gw = gw or self.gw
        return gw.json("POST", "/v1/images/generations", fields, key=gw.admin_key)

    def test_one_connection_carries_sequential_calls(self):
        self.fake.script([])
        for _ in range(4):
            status, _, doc = self.gen()
            self.assertEqual(status, 200, doc)
        reqs = self.fake.requests()
        self.assertEqual(len(reqs), 4)
        self.assertEqual(len({r["peer"] for r in reqs}), 1, reqs)
        h = reqs[0]["headers"]
        self.assertEqual(h["host"], "127.0.0.1:%d" % self.fake.port)
        self.assertEqual(h["user-agent"], "imagegate/0.1")
        self.assertEqual(int(h["content-length"]), len(reqs[0]["body"].encode()))
        self.assertNotIn("accept-encoding", h)

    def test_dead_kept_connection_is_replaced_once(self):
        self.fake.script([])
        self.assertEqual(self.gen()[0], 200)  # a connection is now kept
        # The next request finds it reset before any answer: sent again on a
        # new connection, not counted as a failed attempt (max_attempts 1).
        self.fake.script([{"reset": True}, {}])
        status, _, doc = self.gen()
        self.assertEqual(status, 200, doc)
        reqs = self.fake.requests()
        self.assertEqual(len(reqs), 2)
        self.assertNotEqual(reqs[0]["peer"], reqs[1]["peer"])
        # A reset on a connection made for the call is the call's failure.
        self.fake.script([{"reset": True}, {"reset": True}, {}])
        status, _, doc = self.gen()
        self.assertEqual(status, 502, doc)
        self.assertEqual(len(self.fake.requests()), 2)

    def test_chunked_download_and_the_size_cap(self):
        for chunked in ("", "&chunked=1"):
            with self.subTest(chunked=bool(chunked)):
                # 100x100 noisy PNG: about 30 KB, under the 64 KiB cap.
                self.fake.script([{"url": self.fake.base + "/img/3.png?side=100" + chunked}])
                status, _, doc = self.gen(response_format="b64_json")
                self.assertEqual(status, 200, doc)
                w, h, _, _ = decode_png(base64.b64decode(doc["data"][0]["b64_json"]))
                self.assertEqual((w, h), (100, 100))
                # 200x200: about 120 KB, refused by Content-Length before the
                # body, or while a chunked body arrives.
                self.fake.script([{"url": self.fake.base + "/img/3.png?side=200" + chunked}])
                status, _, doc = self.gen()
                self.assertEqual(status, 502, doc)
                self.assertIn("could not be downloaded", doc["error"]["message"])
                self.assertIn("larger than 65536 bytes", self.gw.log())

    def test_host_names_are_resolved(self):
        # "localhost" goes through the resolver; if it names ::1 first, the
        # fake (127.0.0.1 only) refuses that and the next address is tried.
        gw = Gateway(config=CONFIG, workers=1,
                     env={"OPENAI_API_KEY": "sk-test-123",
                          "OPENAI_BASE_URL": "http://localhost:%d/v1" % self.fake.port})
        try:
            self.fake.script([])
            status, _, doc = self.gen(gw)
            self.assertEqual(status, 200, doc)
            self.assertEqual(self.fake.requests()[0]["headers"]["host"],
                             "localhost:%d" % self.fake.port)
        finally:
            gw.cleanup()


class Unconfigured(FakeTest):
    def test_no_provider_503_names_the_setting(self):
        env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
        with Gateway(env=env) as gw:
            status, _, doc = gw.json("POST", "/v1/images/generations",
                                     {"prompt": "x", "model": "dall-e-3"}, key=gw.admin_key)
            self.assertEqual(status, 503, doc)
            self.assertEqual(doc["error"]["code"], "no_provider")
            self.assertIn("OPENAI_API_KEY", doc["error"]["message"])


if __name__ == "__main__":
    unittest.main()


class Routing(FakeTest):
    """Named models from the YAML config: fallback, weights, unknown providers."""

    @classmethod
    def setUpClass(cls):
        cls.a, cls.b = Fake(), Fake()
        cls.gw = Gateway(config=CONFIG + """
models:
  - name: resilient
    deployments:
      - { provider: openai, model: dall-e-2, api_base: "%s/v1", api_key: env:KEY_A }
      - provider: openai
        model: dall-e-2
        api_base: "%s/v1"
        priority: 1
  - name: weighted
    deployments:
      - { provider: openai, model: sd-local, api_base: "%s/v1", weight: 3 }
      - { provider: openai, model: sd-local, api_base: "%s/v1", weight: 1 }
  - name: no-adapter
    deployments:
      - { provider: midjourney, model: v7 }
""" % (cls.a.base, cls.b.base, cls.a.base, cls.b.base), env={"KEY_A": "sk-a", "OPENAI_API_KEY": "sk-default"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.a.stop()
        cls.b.stop()

    def gen(self, model, **fields):
        fields.update(prompt="routing", model=model)
        return self.gw.json("POST", "/v1/images/generations", fields, key=self.gw.admin_key)

    def test_fallback_after_retries(self):
        self.a.script([{"status": 500}] * 3)
        self.b.script([])
        status, _, doc = self.gen("resilient", size="256x256")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["_metadata"]["attempts"], 4)
        self.assertEqual(len(self.a.requests()), 3)
        [rb] = self.b.requests()
        self.assertEqual(self.a.requests()[0]["headers"]["authorization"], "Bearer sk-a")
        self.assertEqual(rb["headers"]["authorization"], "Bearer sk-default")

    def test_auth_failure_moves_on_at_once(self):
        self.a.script([{"status": 401}])
        self.b.script([])
        status, _, doc = self.gen("resilient")
        self.assertEqual(status, 200, doc)
        self.assertEqual(len(self.a.requests()), 1)
        self.assertEqual(len(self.b.requests()), 1)

    def test_quota_and_not_found_move_on_at_once(self):
        # README's table: 402, quota exhausted (OpenAI's 429
        # insufficient_quota) and 404 are not retried on the deployment;
        # the next one serves.
        for plan in ({"status": 402},
                     {"status": 429, "error": {"message": "You exceeded your current quota",
                                               "type": "insufficient_quota",
                                               "code": "insufficient_quota"}},
                     {"status": 404}):
            with self.subTest(plan=plan):
                self.a.script([plan] * 3)
                self.b.script([])
                status, _, doc = self.gen("resilient")
                self.assertEqual(status, 200, doc)
                self.assertEqual(len(self.a.requests()), 1, "no retry where it cannot help")
                self.assertEqual(len(self.b.requests()), 1)
                self.assertEqual(doc["_metadata"]["attempts"], 2)

    def test_content_refusal_never_goes_elsewhere(self):
        self.a.script([{"status": 400, "error": {"message": "no", "type": "x",
                                                 "code": "content_policy_violation"}}])
        self.b.script([])
        status, _, doc = self.gen("resilient")
        self.assertEqual((status, doc["error"]["code"]), (400, "content_policy_violation"))
        self.assertEqual(self.b.requests(), [])

    def test_all_fail_502(self):
        self.a.script([{"status": 503}] * 3)
        self.b.script([{"status": 404}])
        status, _, doc = self.gen("resilient")
        self.assertEqual(status, 502, doc)

    def test_weighted_choice(self):
        self.a.script([])
        self.b.script([])
        for _ in range(40):
            status, _, doc = self.gen("weighted", size="64x64")
            self.assertEqual(status, 200, doc)
        # Each weighted deployment serves some (the chance that one of them
        # gets none of 40 is 0.75^40 + 0.25^40, about 1 in 100,000); the
        # 3:1 proportion is asserted with a seeded draw in test_pipeline.c.
        na, nb = len(self.a.requests()), len(self.b.requests())
        self.assertEqual(na + nb, 40)
        self.assertGreater(na, 0, (na, nb))
        self.assertGreater(nb, 0, (na, nb))
        self.assertEqual(json.loads(self.a.requests()[0]["body"])["model"], "sd-local")

    def test_model_without_adapter_503(self):
        status, _, doc = self.gen("no-adapter")
        self.assertEqual(status, 503, doc)
        self.assertEqual(doc["error"]["code"], "no_provider")
        status, _, doc = self.gw.json("GET", "/v1/models/no-adapter", key=self.gw.admin_key)
        self.assertEqual(status, 200)


class RoutingConfigErrors(FakeTest):
    def test_bad_models_refused_at_start(self):
        import tempfile
        for bad, words in (("models:\n  - name: x\n", "deployments"),
                           ("models:\n  - deployments: [{provider: openai, model: m}]\n", "name"),
                           ("models:\n  - name: x\n    deployments: [{provider: openai}]\n",
                            "provider and model"),
                           ("models:\n  - name: x\n    colour: red\n    deployments: []\n",
                            "colour"),
                           ("models:\n  - name: x\n    deployments:\n      - {provider: openai, "
                            "model: m, weight: 0}\n", "weight"),
                           ("models: 5\n", "list")):
            with self.subTest(bad=bad):
                fd, path = tempfile.mkstemp(suffix=".yaml")
                os.write(fd, bad.encode())
                os.close(fd)
                r = subprocess.run([os.environ.get("IMAGEGATE_BIN", "build/imagegate"), "serve",
                                    "--config", path, "--listen", "127.0.0.1:0", "--data",
                                    tempfile.mkdtemp()], capture_output=True, timeout=10)
                os.unlink(path)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(words.encode(), r.stderr)


class BreakerCountsRequests(FakeTest):
    """A request's retries on one deployment are one failure to its breaker."""

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config="""
upstream:
  max_attempts: 3
  base_delay_ms: 5
  max_delay_ms: 20
breaker:
  failure_threshold: 2
  cooldown_ms: 60000
""", env={"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def test_retries_are_one_failure(self):
        self.fake.script([{"status": 500}] * 6)
        gen = lambda: self.gw.json("POST", "/v1/images/generations",  # noqa: E731
                                   {"prompt": "b", "model": "dall-e-2"}, key=self.gw.admin_key)
        status, _, doc = gen()
        self.assertEqual(status, 502, doc)
        self.assertEqual(len(self.fake.requests()), 3, "three attempts")
        # One failed request is one failure: the breaker (threshold 2) is still closed.
        status, _, doc = gen()
        self.assertEqual(status, 502, doc)
        self.assertEqual(len(self.fake.requests()), 6)
        # Two failed requests open it: the third gets no upstream call at all.
        status, hdrs, doc = gen()
        self.assertEqual(status, 503, doc)
        self.assertEqual(doc["error"]["code"], "providers_unavailable")
        self.assertEqual(len(self.fake.requests()), 6)


class BreakerAndCancel(FakeTest):
    @classmethod
    def setUpClass(cls):
        cls.a, cls.b = Fake(), Fake()
        cls.gw = Gateway(config="""
upstream:
  max_attempts: 1
  base_delay_ms: 10
  deadline_ms: 8000
breaker:
  failure_threshold: 2
  cooldown_ms: 1500
models:
  - name: two
    deployments:
      - { provider: openai, model: dall-e-2, api_base: "%s/v1" }
      - { provider: openai, model: dall-e-2, api_base: "%s/v1", priority: 1 }
  - name: slow
    deployments:
      - { provider: openai, model: dall-e-2, api_base: "%s/v1" }
""" % (cls.a.base, cls.b.base, cls.a.base), env={"OPENAI_API_KEY": "sk-x"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.a.stop()
        cls.b.stop()

    def gen(self, model):
        return self.gw.json("POST", "/v1/images/generations", {"prompt": "b", "model": model},
                            key=self.gw.admin_key)

    def test_breaker_opens_skips_and_probes(self):
        self.a.script([{"status": 500}] * 2)
        self.b.script([])
        for _ in range(2):
            self.assertEqual(self.gen("two")[0], 200)
        self.assertEqual(len(self.a.requests()), 2)
        # Open: A is skipped without a call.
        for _ in range(3):
            self.assertEqual(self.gen("two")[0], 200)
        self.assertEqual(len(self.a.requests()), 2)
        self.assertEqual(len(self.b.requests()), 5)
        self.assertIn("circuit open", self.gw.log())
        # After the cooldown one probe reaches A; it succeeds and closes the breaker.
        time.sleep(1.7)
        self.assertEqual(self.gen("two")[0], 200)
        self.assertEqual(len(self.a.requests()), 3)
        self.assertEqual(self.gen("two")[0], 200)
        self.assertEqual(len(self.a.requests()), 4)

    def test_client_disconnect_keeps_the_work(self):
        """A client that leaves does not lose what it asked for: the
        generation runs on, its images are stored and it is recorded (the
        history has it; an Idempotency-Key retry would replay it)."""
        import socket
        self.a.script([{"delay": 1}])
        body = json.dumps({"prompt": "leaving", "model": "slow"}).encode()
        s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=5)
        s.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + self.gw.admin_key.encode() +
                  b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                  + body)
        wait_for(lambda: len(self.a.requests()) == 1, what="the call to reach the provider")
        s.close()
        wait_for(lambda: "client gone; it runs on and will be recorded" in self.gw.log(),
                 what="the client's leaving to be logged")
        import sqlite3

        def leaving_row():
            db = sqlite3.connect(os.path.join(self.gw.data_dir, "imagegate.db"))
            try:
                return db.execute("SELECT status, error FROM generations WHERE prompt = 'leaving'"
                                  " ORDER BY rowid DESC LIMIT 1").fetchone()
            finally:
                db.close()

        row = wait_for(leaving_row, what="the abandoned generation's record")
        self.assertEqual(row, ("succeeded", None), "its work was not lost")
        self.assertEqual(len(self.a.requests()), 1, "and the provider was asked once")
        self.assertEqual(self.gw.request("GET", "/healthz")[0], 200)


class ShutdownWithAbandonedRequests(FakeTest):
    def test_sigterm_while_abandoned_generations_are_being_stored(self):
        """Clients leave while their generations wait on the provider (they
        run on: their work is not lost), and SIGTERM follows: the drain
        cancels them rather than wait 30 s for the provider, the store step
        of every one still runs, and the process records each and exits 0."""
        import socket
        import sqlite3
        fake = Fake()
        # A deadline far beyond the test, so every generation ends because
        # its client left (the provider holds each one for 30 s).
        config = CONFIG.replace("deadline_ms: 4000", "deadline_ms: 60000")
        gw = Gateway(config=config + "threadpool_size: 1\n", workers=1,
                     env={"OPENAI_API_KEY": "sk-test-123", "OPENAI_BASE_URL": fake.base + "/v1"})
        try:
            n = 40
            fake.script([{"delay": 30}] * n)
            body = json.dumps({"prompt": "left behind", "model": "dall-e-2"}).encode()
            head = (b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + gw.admin_key.encode() + b"\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body))
            socks = []
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
                s.sendall(head + body)
                socks.append(s)
            deadline = time.monotonic() + 10
            while len(fake.requests()) < n and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(len(fake.requests()), n, "every request reached the provider")
            for s in socks:
                s.close()
            gw.proc.send_signal(signal.SIGTERM)
            self.assertEqual(gw.proc.wait(20), 0, gw.log()[-3000:])
            self.assertIn("stopped cleanly", gw.log())
            db = sqlite3.connect(os.path.join(gw.data_dir, "imagegate.db"))
            rows = db.execute("SELECT status, error FROM generations").fetchall()
            db.close()
            self.assertEqual(len(rows), n, "every abandoned generation is recorded")
            for status, error in rows:
                self.assertEqual(status, "failed")
                self.assertIn("client closed", error)
        finally:
            fake.stop()
            gw.cleanup()


class BlackForestLabs(FakeTest):
    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG, env={"BFL_API_KEY": "bfl_test",
                                             "BFL_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def gen(self, **fields):
        fields.setdefault("prompt", "a lantern in fog")
        fields.setdefault("model", "bfl/flux-pro-1.1")
        return self.gw.json("POST", "/v1/images/generations", fields, key=self.gw.admin_key)

    def test_submit_poll_download(self):
        self.fake.script([{"pending": 2}])
        status, _, doc = self.gen(size="1024x768", seed=1234, response_format="b64_json")
        self.assertEqual(status, 200, doc)
        reqs = self.fake.requests()
        self.assertEqual([r["method"] for r in reqs], ["POST", "GET", "GET", "GET"])
        self.assertEqual(reqs[0]["path"], "/v1/flux-pro-1.1")
        body = json.loads(reqs[0]["body"])
        self.assertEqual(body, {"prompt": "a lantern in fog", "width": 1024, "height": 768,
                                "output_format": "png", "seed": 1234})
        for r in reqs:
            self.assertEqual(r["headers"]["x-key"], "bfl_test")
        self.assertTrue(base64.b64decode(doc["data"][0]["b64_json"]).startswith(b"\x89PNG"))
        self.assertEqual(doc["_metadata"]["seeds"], [1234])
        self.assertEqual(doc["_metadata"]["provider_used"], "bfl")

    def test_failed_polls_are_repeated_never_resubmitted(self):
        self.fake.script([{"pending": 1, "poll_fail": [502, 503]}])
        status, _, doc = self.gen()
        self.assertEqual(status, 200, doc)
        posts = [r for r in self.fake.requests() if r["method"] == "POST"]
        self.assertEqual(len(posts), 1, "one submit: the job is paid for once")

    def test_polls_failing_past_the_budget_never_resubmit(self):
        self.fake.script([{"pending": 0, "poll_fail": [502] * 10}])
        status, _, doc = self.gen()
        self.assertEqual(status, 502, doc)
        posts = [r for r in self.fake.requests() if r["method"] == "POST"]
        self.assertEqual(len(posts), 1, "the paid job is never submitted twice")
        gets = [r for r in self.fake.requests() if r["method"] == "GET"]
        self.assertEqual(len(gets), 4, "the first poll and max_attempts re-polls")

    def test_moderated_job(self):
        self.fake.script([{"pending": 1, "final": "Content Moderated"}])
        status, _, doc = self.gen()
        self.assertEqual((status, doc["error"]["code"]), (400, "content_policy_violation"))
        self.assertEqual(len([r for r in self.fake.requests() if r["method"] == "POST"]), 1)

    def test_failed_job_resubmitted(self):
        self.fake.script([{"pending": 0, "final": "Error"}, {"pending": 0}])
        status, _, doc = self.gen()
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["_metadata"]["attempts"], 2)

    def test_quota_and_validation(self):
        self.fake.script([{"status": 402, "detail": "Insufficient credits"}])
        status, _, doc = self.gen()
        self.assertEqual(status, 502, doc)
        self.assertIn("Insufficient credits", doc["error"]["message"])
        status, _, doc = self.gen(size="1000x768")
        self.assertEqual((status, doc["error"]["param"]), (400, "size"))
        self.assertIn("multiples of 32", doc["error"]["message"])
        status, _, doc = self.gen(n=2)
        self.assertEqual((status, doc["error"]["param"]), (400, "n"))

    def test_job_that_never_finishes_hits_the_deadline(self):
        self.fake.script([{"pending": 1000}])
        t0 = time.monotonic()
        status, _, doc = self.gen()
        self.assertEqual(status, 504, doc)
        self.assertLess(time.monotonic() - t0, 6)


class AllowedNetworks(FakeTest):
    """upstream.allow_networks opens private networks to image downloads,
    never the metadata services."""

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG.replace(
            "upstream:\n", "upstream:\n  allow_networks: \"127.0.0.0/8, 169.254.0.0/16\"\n"),
            env={"OPENAI_API_KEY": "sk-test-123", "OPENAI_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def test_allow_listed_network_is_fetched_metadata_never(self):
        other = Fake()  # another loopback server: refused without the allow-list
        try:
            self.fake.script([{"url": other.base + "/img/3.png"}])
            status, _, doc = self.gw.json("POST", "/v1/images/generations",
                                          {"prompt": "x", "model": "dall-e-2",
                                           "response_format": "b64_json"}, key=self.gw.admin_key)
            self.assertEqual(status, 200, doc)
            self.assertTrue(base64.b64decode(doc["data"][0]["b64_json"]).startswith(b"\x89PNG"))
        finally:
            other.stop()
        self.fake.script([{"url": "http://169.254.169.254/latest/meta-data"}] * 3)
        t0 = time.monotonic()
        status, _, doc = self.gw.json("POST", "/v1/images/generations",
                                      {"prompt": "x", "model": "dall-e-2"}, key=self.gw.admin_key)
        self.assertEqual(status, 502, doc)
        self.assertIn("could not be downloaded", doc["error"]["message"])
        self.assertLess(time.monotonic() - t0, 3, "refused at once, not a connect timeout")


class StabilityAndA1111(FakeTest):
    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG, env={"STABILITY_API_KEY": "sk-stab",
                                             "STABILITY_BASE_URL": cls.fake.base,
                                             "A1111_URL": cls.fake.base,
                                             "A1111_AUTH": "user:pass"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def gen(self, **fields):
        fields.setdefault("prompt", "a quiet valley")
        fields.setdefault("response_format", "b64_json")
        return self.gw.json("POST", "/v1/images/generations", fields, key=self.gw.admin_key)

    def test_stability_multipart_and_bytes(self):
        self.fake.script([])
        status, _, doc = self.gen(model="stability/core", size="1344x768", seed=5,
                                  negative_prompt="fog", output_format="webp")
        self.assertEqual(status, 200, doc)
        [r] = self.fake.requests()
        self.assertEqual(r["path"], "/v2beta/stable-image/generate/core")
        self.assertEqual(r["headers"]["authorization"], "Bearer sk-stab")
        self.assertEqual(r["headers"]["accept"], "image/*")
        self.assertTrue(r["headers"]["content-type"].startswith("multipart/form-data; boundary="))
        body = r["body"]
        for name, value in (("prompt", "a quiet valley"), ("negative_prompt", "fog"),
                            ("aspect_ratio", "16:9"), ("output_format", "webp"), ("seed", "5")):
            self.assertIn('name="%s"\r\n\r\n%s\r\n' % (name, value), body)
        self.assertEqual(doc["_metadata"]["seeds"], [4242])
        self.assertTrue(base64.b64decode(doc["data"][0]["b64_json"]).startswith(b"\x89PNG"))

    def test_stability_sd3_json_and_refusals(self):
        self.fake.script([{"json": True}])
        status, _, doc = self.gen(model="stability/sd3.5-large")
        self.assertEqual(status, 200, doc)
        r = self.fake.requests()[0]
        self.assertEqual(r["path"], "/v2beta/stable-image/generate/sd3")
        self.assertIn('name="model"\r\n\r\nsd3.5-large\r\n', r["body"])
        for plan in ({"filtered": True}, {"status": 403, "name": "content_moderation"}):
            self.fake.script([plan])
            status, _, doc = self.gen(model="stability/core")
            self.assertEqual((status, doc["error"]["code"]), (400, "content_policy_violation"),
                             plan)
            self.assertEqual(len(self.fake.requests()), 1, "refusals are not retried")
        self.fake.script([{"status": 422, "name": "invalid_language", "message": "English only"}])
        status, _, doc = self.gen(model="stability/core")
        self.assertEqual(status, 400, doc)
        self.assertIn("English only", doc["error"]["message"])

    def test_a1111_batch_seeds_and_auth(self):
        self.fake.script([])
        status, _, doc = self.gen(model="a1111/sd", n=3, size="512x768", seed=100, steps=20,
                                  guidance=6.5, negative_prompt="blur")
        self.assertEqual(status, 200, doc)
        [r] = self.fake.requests()
        self.assertEqual(r["path"], "/sdapi/v1/txt2img")
        self.assertEqual(r["headers"]["authorization"],
                         "Basic " + base64.b64encode(b"user:pass").decode())
        body = json.loads(r["body"])
        self.assertEqual((body["width"], body["height"], body["batch_size"], body["seed"],
                          body["steps"], body["cfg_scale"], body["negative_prompt"]),
                         (512, 768, 3, 100, 20, 6.5, "blur"))
        self.assertEqual(doc["_metadata"]["seeds"], [100, 101, 102])
        self.assertEqual(len(doc["data"]), 3)
        status, _, doc = self.gen(model="a1111/sd", size="500x500")
        self.assertEqual((status, doc["error"]["param"]), (400, "size"))

    def test_stability_image_to_image(self):
        self.fake.script([])
        status, _, doc = post_form(self.gw, "/v1/images/edits",
                                   [("model", "stability/sd3.5-large"), ("prompt", "in winter"),
                                    ("seed", "4")], [upload(WIDE)])
        self.assertEqual(status, 200, doc)
        [r] = self.fake.requests()
        self.assertEqual(r["path"], "/v2beta/stable-image/generate/sd3")
        form = r["form"]
        self.assertEqual({k: v[0].get("value") for k, v in form.items() if k != "image"},
                         {"prompt": "in winter", "mode": "image-to-image", "strength": "0.600",
                          "output_format": "png", "seed": "4", "model": "sd3.5-large"})
        self.assertEqual(form["image"][0]["sha256"], sha256(WIDE))
        self.fake.script([])
        status, _, doc = post_form(self.gw, "/v1/images/edits",
                                   [("model", "stability/ultra"), ("prompt", "x"),
                                    ("strength", "0.25")], [upload(WIDE)])
        self.assertEqual(status, 200, doc)
        form = self.fake.requests()[0]["form"]
        self.assertEqual((form["strength"][0]["value"], "mode" in form, "aspect_ratio" in form),
                         ("0.250", False, False))
        for fields, files, code, param in (
                ([("model", "stability/core")], [upload(WIDE)], "unsupported_operation", "model"),
                ([("model", "stability/ultra"), ("size", "1024x1024")], [upload(WIDE)],
                 "invalid_value", "size"),
                ([("model", "stability/ultra")], [upload(SQUARE), upload(MASK, "mask")],
                 "unsupported_parameter", "mask")):
            status, _, doc = post_form(self.gw, "/v1/images/edits", fields + [("prompt", "x")],
                                       files)
            self.assertEqual((status, doc["error"]["code"], doc["error"]["param"]),
                             (400, code, param), doc)

    def test_a1111_img2img_with_mask(self):
        self.fake.script([])
        status, _, doc = post_form(self.gw, "/v1/images/edits",
                                   [("model", "a1111/sd"), ("prompt", "a door"),
                                    ("size", "512x512")],
                                   [upload(SQUARE), upload(MASK, "mask")])
        self.assertEqual(status, 200, doc)
        [r] = self.fake.requests()
        self.assertEqual(r["path"], "/sdapi/v1/img2img")
        body = json.loads(r["body"])
        self.assertEqual(base64.b64decode(body["init_images"][0]), SQUARE)
        self.assertEqual(body["denoising_strength"], 0.75)
        # OpenAI's mask (transparent: edit) became A1111's (white: edit).
        w, h, ch, rows = decode_png(base64.b64decode(body["mask"]))
        self.assertEqual((w, h), (64, 64))
        self.assertEqual(rows[0][:3], b"\xff\xff\xff")
        self.assertEqual(rows[63][:3], b"\x00\x00\x00")

    def test_a1111_error_retried(self):
        self.fake.script([{"status": 500}])
        status, _, doc = self.gen(model="a1111/sd")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["_metadata"]["attempts"], 2)


class PollsFailingMoveOn(FakeTest):
    def test_failing_polls_cancel_the_job_then_the_next_deployment_serves(self):
        """README: a failed poll is repeated, never the submit; when polls
        keep failing the job is cancelled where the provider allows it and
        the next deployment is tried."""
        fake = Fake()
        try:
            cfg = CONFIG + """
models:
  - name: two-replicates
    deployments:
      - { provider: replicate, model: black-forest-labs/flux-dev, api_base: "%s/v1",
          api_key: "env:REPLICATE_API_TOKEN" }
      - { provider: replicate, model: black-forest-labs/flux-dev, api_base: "%s/v1",
          api_key: "env:REPLICATE_API_TOKEN", priority: 1 }
""" % (fake.base, fake.base)
            with Gateway(config=cfg, env={"REPLICATE_API_TOKEN": "r8_tok"}) as gw:
                fake.script([{"pending": 0, "poll_fail": [502] * 10}, {"pending": 0}])
                status, _, doc = gw.json("POST", "/v1/images/generations",
                                         {"prompt": "x", "model": "two-replicates"},
                                         key=gw.admin_key)
                self.assertEqual(status, 200, doc)
                reqs = fake.requests()
                creates = [r for r in reqs if r["method"] == "POST"
                           and r["path"].endswith("/predictions")]
                self.assertEqual(len(creates), 2, "one job per deployment, never resubmitted")
                cancels = wait_for(lambda: [r["path"] for r in fake.requests()
                                            if r["path"].endswith("/cancel")],
                                   what="the abandoned job's cancel")
                self.assertEqual(cancels, ["/v1/predictions/pred1/cancel"])
                polls1 = [r for r in reqs if r["path"] == "/v1/predictions/pred1"]
                self.assertEqual(len(polls1), 4, "the first poll and max_attempts re-polls")
        finally:
            fake.stop()


class FalAndReplicate(FakeTest):
    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG, env={"FAL_KEY": "fal-key-1",
                                             "FAL_QUEUE_URL": cls.fake.base,
                                             "REPLICATE_API_TOKEN": "r8_tok",
                                             "REPLICATE_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def gen(self, **fields):
        fields.setdefault("prompt", "a mossy stone")
        fields.setdefault("response_format", "b64_json")
        return self.gw.json("POST", "/v1/images/generations", fields, key=self.gw.admin_key)

    def test_fal_queue_status_result(self):
        self.fake.script([{"pending": 2, "n": 2}])
        status, _, doc = self.gen(model="fal/fal-ai/flux/schnell", n=2, size="1024x768", seed=99,
                                  steps=4, output_format="png")
        self.assertEqual(status, 200, doc)
        reqs = self.fake.requests()
        self.assertEqual(reqs[0]["path"], "/fal-ai/flux/schnell")
        self.assertEqual(reqs[0]["headers"]["authorization"], "Key fal-key-1")
        body = json.loads(reqs[0]["body"])
        self.assertEqual(body["image_size"], {"width": 1024, "height": 768})
        self.assertEqual((body["num_images"], body["seed"], body["num_inference_steps"],
                          body["output_format"]), (2, 99, 4, "png"))
        self.assertTrue(body["enable_safety_checker"])
        gets = [r["path"] for r in reqs if r["method"] == "GET"]
        self.assertEqual(gets.count("/fal-ai/flux/requests/fal1/status"), 3)
        self.assertEqual(gets[-1], "/fal-ai/flux/requests/fal1")
        self.assertEqual(len(doc["data"]), 2)
        self.assertEqual(doc["_metadata"]["seeds"], [99, 100])

    def test_fal_abandoned_request_cancelled(self):
        self.fake.script([{"pending": 1000}])
        status, _, doc = self.gen(model="fal/fal-ai/flux/schnell")
        self.assertEqual(status, 504, doc)
        time.sleep(0.3)
        puts = [r for r in self.fake.requests() if r["method"] == "PUT"]
        self.assertEqual([r["path"] for r in puts], ["/fal-ai/flux/requests/fal1/cancel"])
        self.assertEqual(puts[0]["headers"]["authorization"], "Key fal-key-1")

    def test_fal_nsfw_and_data_uris(self):
        self.fake.script([{"pending": 0, "nsfw": True}])
        status, _, doc = self.gen(model="fal/fal-ai/flux/dev")
        self.assertEqual((status, doc["error"]["code"]), (400, "content_policy_violation"))
        self.fake.script([{"pending": 0, "data_uri": True}])
        status, _, doc = self.gen(model="fal/fal-ai/flux/dev")
        self.assertEqual(status, 200, doc)
        self.assertTrue(base64.b64decode(doc["data"][0]["b64_json"]).startswith(b"\x89PNG"))

    def test_replicate_prefer_wait_and_polling(self):
        self.fake.script([{"sync": True}])
        status, _, doc = self.gen(model="replicate/black-forest-labs/flux-schnell",
                                  size="1344x768", seed=3)
        self.assertEqual(status, 200, doc)
        [r] = [r for r in self.fake.requests() if r["method"] == "POST"]
        self.assertEqual(r["path"], "/v1/models/black-forest-labs/flux-schnell/predictions")
        self.assertEqual(r["headers"]["authorization"], "Bearer r8_tok")
        self.assertEqual(r["headers"]["prefer"], "wait=30")
        inp = json.loads(r["body"])["input"]
        self.assertEqual((inp["aspect_ratio"], inp["num_outputs"], inp["seed"]), ("16:9", 1, 3))
        self.fake.script([{"pending": 2}])
        status, _, doc = self.gen(model="replicate/black-forest-labs/flux-dev")
        self.assertEqual(status, 200, doc)
        gets = [r for r in self.fake.requests() if r["method"] == "GET"
                and r["path"].startswith("/v1/predictions/")]
        self.assertEqual(len(gets), 3)

    def test_replicate_nsfw_failure_and_cancel_on_deadline(self):
        self.fake.script([{"pending": 0, "fail": "NSFW content detected. Try again."}])
        status, _, doc = self.gen(model="replicate/black-forest-labs/flux-dev")
        self.assertEqual((status, doc["error"]["code"]), (400, "content_policy_violation"))
        self.fake.script([{"pending": 1000}])
        status, _, doc = self.gen(model="replicate/black-forest-labs/flux-dev")
        self.assertEqual(status, 504, doc)
        time.sleep(0.3)
        cancels = [r for r in self.fake.requests() if r["path"].endswith("/cancel")]
        self.assertEqual(len(cancels), 1, "the abandoned prediction is cancelled upstream")
        self.assertEqual(cancels[0]["headers"]["authorization"], "Bearer r8_tok")


class FieldHonesty(FakeTest):
    def test_fields_a_provider_cannot_honour_are_refused(self):
        fake = Fake()
        try:
            with Gateway(config=CONFIG, env={"OPENAI_API_KEY": "sk", "OPENAI_BASE_URL":
                                             fake.base + "/v1", "BFL_BASE_URL":
                                             fake.base + "/v1"}) as gw:
                for model, fields, param in (
                        ("dall-e-3", {"output_compression": 50}, "output_compression"),
                        ("dall-e-3", {"moderation": "low"}, "moderation"),
                        ("dall-e-3", {"background": "transparent"}, "background"),
                        ("bfl/flux-pro-1.1", {"quality": "hd"}, "quality"),
                        ("bfl/flux-pro-1.1", {"style": "vivid"}, "style"),
                        ("bfl/flux-pro-1.1", {"steps": 20}, "steps"),
                        ("bfl/flux-pro-1.1", {"negative_prompt": "x"}, "negative_prompt"),
                        ("dall-e-3", {"stream": True}, "stream")):
                    with self.subTest(model=model, fields=fields):
                        fields.update(prompt="x", model=model)
                        status, _, doc = gw.json("POST", "/v1/images/generations", fields,
                                                 key=gw.admin_key)
                        self.assertEqual(status, 400, doc)
                        self.assertEqual(doc["error"]["param"], param)
                self.assertEqual(fake.requests(), [])
        finally:
            fake.stop()


class FieldsPassed(FakeTest):
    def test_gpt_image_takes_compression_and_moderation(self):
        fake = Fake()
        try:
            with Gateway(config=CONFIG, env={"OPENAI_API_KEY": "sk",
                                             "OPENAI_BASE_URL": fake.base + "/v1"}) as gw:
                status, _, doc = gw.json("POST", "/v1/images/generations",
                                         {"prompt": "x", "model": "gpt-image-1",
                                          "output_format": "jpeg", "output_compression": 40,
                                          "moderation": "low"}, key=gw.admin_key)
                self.assertEqual(status, 200, doc)
                body = json.loads(fake.requests()[0]["body"])
                self.assertEqual((body["output_compression"], body["moderation"]), (40, "low"))
        finally:
            fake.stop()


class ConcurrencyCap(FakeTest):
    @staticmethod
    def capped_config(fake, max_queue):
        """A model "capped" on one deployment that runs one job at a time."""
        return CONFIG.replace("deadline_ms: 4000", "deadline_ms: 8000") + """
  max_queue: %d
models:
  - name: capped
    deployments:
      - { provider: openai, model: dall-e-2, api_base: "%s/v1", max_concurrency: 1 }
""" % (max_queue, fake.base)

    def run_parallel(self, gw, n, model):
        import threading
        results = []

        def one():
            results.append(gw.json("POST", "/v1/images/generations",
                                   {"prompt": "cap", "model": model}, key=gw.admin_key))

        threads = [threading.Thread(target=one) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def test_cap_holds_and_queue_bounds(self):
        fake = Fake()
        try:
            cfg = self.capped_config(fake, max_queue=2)
            with Gateway(config=cfg, env={"OPENAI_API_KEY": "sk"}) as gw:
                fake.script([{"delay": 0.4}] * 3)
                results = self.run_parallel(gw, 3, "capped")
                self.assertEqual(sorted(r[0] for r in results), [200, 200, 200])
                self.assertEqual(fake.call("/__stats")["max_inflight"], 1,
                                 "never more than max_concurrency at the provider")
                # One running, two waiting: the fourth and fifth find the queue full.
                fake.script([{"delay": 0.8}] * 5)
                results = self.run_parallel(gw, 5, "capped")
                codes = sorted(r[0] for r in results)
                self.assertEqual(codes.count(200), 3, codes)
                self.assertEqual(codes.count(503), 2, codes)
                busy = [r for r in results if r[0] == 503][0]
                self.assertEqual(busy[2]["error"]["code"], "deployment_busy")
                self.assertEqual(busy[1]["retry-after"], "1")
        finally:
            fake.stop()


    def test_a_full_deployment_moves_on_to_the_next(self):
        """README: past max_concurrency and a full queue, a request moves
        to the next deployment (503 deployment_busy only when none is
        left)."""
        slow, spare = Fake(), Fake()
        try:
            cfg = CONFIG.replace("deadline_ms: 4000", "deadline_ms: 8000") + """
  max_queue: 0
models:
  - name: overflow
    deployments:
      - { provider: openai, model: dall-e-2, api_base: "%s/v1", max_concurrency: 1 }
      - { provider: openai, model: dall-e-2, api_base: "%s/v1", priority: 1 }
""" % (slow.base, spare.base)
            with Gateway(config=cfg, env={"OPENAI_API_KEY": "sk"}) as gw:
                slow.script([{"delay": 1.0}])
                spare.script([])
                import threading
                first = []
                t = threading.Thread(target=lambda: first.append(gw.json(
                    "POST", "/v1/images/generations", {"prompt": "holds", "model": "overflow"},
                    key=gw.admin_key)))
                t.start()
                wait_for(lambda: len(slow.requests()) == 1, what="the first to hold the slot")
                status, _, doc = gw.json("POST", "/v1/images/generations",
                                         {"prompt": "overflows", "model": "overflow"},
                                         key=gw.admin_key)
                t.join()
                self.assertEqual(status, 200, doc)
                self.assertEqual(first[0][0], 200, first[0][2])
                self.assertEqual([json.loads(r["body"])["prompt"] for r in slow.requests()],
                                 ["holds"])
                self.assertEqual([json.loads(r["body"])["prompt"] for r in spare.requests()],
                                 ["overflows"])
        finally:
            slow.stop()
            spare.stop()

    def test_waiters_reach_the_provider_in_the_order_they_came(self):
        import threading
        fake = Fake()
        try:
            cfg = self.capped_config(fake, max_queue=8)
            with Gateway(config=cfg, env={"OPENAI_API_KEY": "sk"}, workers=2) as gw:
                fake.script([{"delay": 0.3}] * 5)
                results = {}

                def one(name):
                    results[name] = gw.json("POST", "/v1/images/generations",
                                            {"prompt": name, "model": "capped"},
                                            key=gw.admin_key)[0]

                names = ["first", "second", "third", "fourth", "fifth"]
                threads = []
                for name in names:  # each joins the queue behind the one before
                    t = threading.Thread(target=one, args=(name,))
                    t.start()
                    threads.append(t)
                    time.sleep(0.1)
                for t in threads:
                    t.join()
                self.assertEqual(results, {n: 200 for n in names})
                order = [json.loads(r["body"])["prompt"] for r in fake.requests()]
                self.assertEqual(order, names, "a freed slot goes to the oldest waiter")
        finally:
            fake.stop()


class Leonardo(FakeTest):
    def test_create_poll_and_nsfw(self):
        fake = Fake()
        try:
            with Gateway(config=CONFIG, env={"LEONARDO_API_KEY": "leo-key",
                                             "LEONARDO_BASE_URL": fake.base + "/api/rest/v1"}) as gw:
                def gen(**f):
                    f.update(prompt="a paper boat", model="leonardo/default",
                             response_format="b64_json")
                    return gw.json("POST", "/v1/images/generations", f, key=gw.admin_key)

                fake.script([{"pending": 2}])
                status, _, doc = gen(n=2, size="768x512", seed=321, steps=20, guidance=7)
                self.assertEqual(status, 200, doc)
                reqs = fake.requests()
                self.assertEqual(reqs[0]["path"], "/api/rest/v1/generations")
                self.assertEqual(reqs[0]["headers"]["authorization"], "Bearer leo-key")
                body = json.loads(reqs[0]["body"])
                self.assertEqual((body["width"], body["height"], body["num_images"],
                                  body["num_inference_steps"], body["guidance_scale"],
                                  body["seed"]), (768, 512, 2, 20, 7, 321))
                self.assertNotIn("modelId", body)
                self.assertEqual([r["path"] for r in reqs[1:]],
                                 ["/api/rest/v1/generations/leo-1"] * 3)
                self.assertEqual(len(doc["data"]), 2)
                fake.script([{"pending": 0, "nsfw": True}])
                status, _, doc = gen()
                self.assertEqual((status, doc["error"]["code"]), (400, "content_policy_violation"))
                fake.script([{"pending": 0, "final": "FAILED"}, {"pending": 0}])
                status, _, doc = gen()
                self.assertEqual(status, 200, doc)
                self.assertEqual(doc["_metadata"]["attempts"], 2)
        finally:
            fake.stop()


class OpenRouter(FakeTest):
    """The eighth provider: images through chat completions (§12)."""

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG, env={"OPENROUTER_API_KEY": "sk-or-v1-test",
                                             "OPENROUTER_BASE_URL": cls.fake.base + "/api/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def gen(self, **fields):
        fields.setdefault("prompt", "a lighthouse in a storm")
        fields.setdefault("model", "openrouter/google/gemini-2.5-flash-image")
        return self.gw.json("POST", "/v1/images/generations", fields, key=self.gw.admin_key)

    def test_chat_completion_with_modalities_gives_a_stored_image(self):
        self.fake.script([])
        status, _, doc = self.gen(size="1792x1024", response_format="b64_json", user="u-7")
        self.assertEqual(status, 200, doc)
        [r] = self.fake.requests()
        self.assertEqual(r["path"], "/api/v1/chat/completions")
        self.assertEqual(r["headers"]["authorization"], "Bearer sk-or-v1-test")
        body = json.loads(r["body"])
        self.assertEqual(body, {"model": "google/gemini-2.5-flash-image",
                                "messages": [{"role": "user",
                                              "content": "a lighthouse in a storm"}],
                                "modalities": ["image", "text"], "stream": False,
                                "image_config": {"aspect_ratio": "16:9"}, "user": "u-7"})
        png = base64.b64decode(doc["data"][0]["b64_json"])
        self.assertTrue(png.startswith(b"\x89PNG"))
        self.assertEqual(decode_png(png)[:2], (16, 16))
        self.assertEqual(doc["_metadata"]["provider_used"], "openrouter")
        self.assertEqual(doc["_metadata"]["upstream_model"], "google/gemini-2.5-flash-image")

    def test_url_answer_is_a_signed_gateway_url(self):
        self.fake.script([])
        status, _, doc = self.gen()
        self.assertEqual(status, 200, doc)
        url = urllib.parse.urlsplit(doc["data"][0]["url"])
        self.assertTrue(url.path.startswith("/v1/files/"), url)
        status, _, data = self.gw.request("GET", url.path + "?" + url.query)
        self.assertEqual(status, 200)
        self.assertTrue(data.startswith(b"\x89PNG"))

    def test_text_only_answer_is_a_failure_never_an_empty_success(self):
        self.fake.script([{"text_only": True, "text": "I cannot draw that."}])
        status, _, doc = self.gen()
        self.assertEqual(status, 502, doc)
        self.assertEqual(doc["error"]["code"], "provider_error")
        self.assertEqual(doc["error"]["type"], "server_error")
        self.assertIn("without an image", doc["error"]["message"])
        self.assertIn("I cannot draw that.", doc["error"]["message"])
        self.assertEqual(len(self.fake.requests()), 1, "a text answer is not retried")

    def test_out_of_credits_is_a_provider_failure(self):
        self.fake.script([{"status": 402, "message": "Insufficient credits"}])
        status, _, doc = self.gen()
        self.assertEqual(status, 502, doc)
        self.assertIn("Insufficient credits", doc["error"]["message"])

    def test_n_above_one_is_refused_before_any_call(self):
        self.fake.script([])
        status, _, doc = self.gen(n=2)
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["param"], "n")
        self.assertEqual(self.fake.requests(), [])

    def test_models_list_names_the_openrouter_models(self):
        status, _, doc = self.gw.json("GET", "/v1/models", key=self.gw.admin_key)
        self.assertEqual(status, 200)
        ids = {m["id"] for m in doc["data"]}
        self.assertIn("openrouter/google/gemini-2.5-flash-image", ids)
        self.assertIn("openrouter/black-forest-labs/flux.2-pro", ids)
