"""The HTTP API end to end: generations, validation, files, keys, models,
health and metrics."""
import hashlib
import json
import os
import re
import shutil
import struct
import tempfile
import time
import unittest
import urllib.parse
import zlib

from harness import Gateway, GatewayTest, b64_image, wait_for

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data):
    assert data[:8] == PNG_MAGIC
    return struct.unpack(">II", data[16:24])


def png_text_chunks(data):
    out, pos = {}, 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"iTXt":
            key, rest = body.split(b"\0", 1)
            # compression flag, method, language tag\0, translated keyword\0, text
            rest = rest[2:]
            _, rest = rest.split(b"\0", 1)
            _, text = rest.split(b"\0", 1)
            out[key.decode()] = text.decode()
        pos += 12 + n
    return out


class Generations(GatewayTest):
    def test_url_response_openai_shape_and_metadata(self):
        status, hdrs, doc = self.gw.generate(prompt="a blue whale", size="200x100", seed=9)
        self.assertEqual(status, 200, doc)
        self.assertEqual(hdrs["content-type"], "application/json")
        self.assertIsInstance(doc["created"], int)
        self.assertLessEqual(abs(doc["created"] - time.time()), 60)
        self.assertEqual(len(doc["data"]), 1)
        url = doc["data"][0]["url"]
        self.assertTrue(url.startswith("http://127.0.0.1:%d/v1/files/" % self.gw.port), url)
        meta = doc["_metadata"]
        self.assertEqual(meta["provider_used"], "local")
        self.assertEqual(meta["model"], "local/procedural")
        self.assertEqual(meta["images_generated"], 1)
        self.assertEqual(meta["size"], "200x100")
        self.assertEqual(meta["seed"], 9)
        self.assertTrue(meta["generation_id"].startswith("gen_"))
        # The URL serves the image.
        u = urllib.parse.urlsplit(url)
        status, hdrs, data = self.gw.request("GET", u.path + "?" + u.query)
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["content-type"], "image/png")
        self.assertEqual(png_size(data), (200, 100))
        sha = hashlib.sha256(data).hexdigest()
        self.assertEqual(u.path, "/v1/files/%s.png" % sha, "content addressed")
        self.assertEqual(hdrs["etag"], '"%s"' % sha)
        self.assertIn("max-age=", hdrs["cache-control"])
        # Conditional GET.
        status, _, data = self.gw.request("GET", u.path + "?" + u.query,
                                          headers={"If-None-Match": '"%s"' % sha})
        self.assertEqual(status, 304)
        self.assertEqual(data, b"")
        # HEAD gives the headers only.
        status, hdrs, data = self.gw.request("HEAD", u.path + "?" + u.query)
        self.assertEqual(status, 200)
        self.assertEqual(data, b"")

    def test_b64_and_provenance(self):
        status, _, doc = self.gw.generate(prompt="provenance \u00e9t\u00e9", n=2, seed=100,
                                          response_format="b64_json")
        self.assertEqual(status, 200, doc)
        self.assertEqual(len(doc["data"]), 2)
        a, b = b64_image(doc, 0), b64_image(doc, 1)
        self.assertNotEqual(a, b, "n images are distinct")
        self.assertEqual(doc["_metadata"]["seeds"], [100, 101])
        text = png_text_chunks(a)
        # The prompt's text is not in the file unless provenance.prompt asks
        # (anyone holding a signed URL would read it); its hash is.
        self.assertNotIn("prompt", text)
        self.assertNotIn("provenance".encode(), a)
        self.assertEqual(text["prompt-sha256"],
                         hashlib.sha256("provenance \u00e9t\u00e9".encode()).hexdigest())
        self.assertEqual(text["model"], "local/procedural")
        self.assertEqual(text["seed"], "100")
        self.assertNotIn("generation_id", text, "the file holds only what follows from the inputs")
        self.assertEqual(text["Software"], "imagegate")
        self.assertIn("not a diffusion model", text["imagegate:renderer"])

    def test_same_inputs_same_pixels_and_bytes(self):
        docs = [self.gw.generate(prompt="deterministic", seed=5, output_format=fmt,
                                 response_format="b64_json")[2]
                for fmt in ("png", "png", "jpeg", "jpeg", "webp", "webp")]
        png1, png2 = b64_image(docs[0]), b64_image(docs[1])
        self.assertEqual(png1, png2, "png byte-identical")
        self.assertEqual(b64_image(docs[2]), b64_image(docs[3]), "jpeg byte-identical")
        self.assertEqual(b64_image(docs[4]), b64_image(docs[5]), "webp byte-identical")
        self.assertEqual(b64_image(docs[2])[:3], b"\xff\xd8\xff")
        self.assertEqual(b64_image(docs[4])[8:12], b"WEBP")

    def test_identical_images_stored_once(self):
        for fmt in ("png", "jpeg", "webp"):
            before = self.count_blob_files()
            for _ in range(3):
                status, _, doc = self.gw.generate(prompt="stored once", seed=77, output_format=fmt)
                self.assertEqual(status, 200)
            self.assertEqual(self.count_blob_files(), before + 1, fmt)

    def count_blob_files(self):
        n = 0
        root = os.path.join(self.gw.data_dir, "blobs")
        for d, _, files in os.walk(root):
            if not d.endswith("tmp"):
                n += len(files)
        return n

    def test_different_prompts_differ(self):
        a = b64_image(self.gw.generate(prompt="red", seed=1, response_format="b64_json")[2])
        b = b64_image(self.gw.generate(prompt="green", seed=1, response_format="b64_json")[2])
        self.assertNotEqual(a, b)

    def test_sizes_and_alias(self):
        for size in ("64x64", "2048x64", "64x2048"):
            status, _, doc = self.gw.generate(model="local", size=size,
                                              response_format="b64_json")
            self.assertEqual(status, 200, doc)
            w, h = png_size(b64_image(doc))
            self.assertEqual("%dx%d" % (w, h), size)

    def test_metadata_echoed(self):
        status, _, doc = self.gw.generate(metadata={"campaign": "summer"})
        self.assertEqual(status, 200)
        self.assertEqual(doc["_metadata"]["metadata"], {"campaign": "summer"})

    def test_recorded_in_store(self):
        import sqlite3
        status, _, doc = self.gw.generate(prompt="recorded", n=2, seed=3)
        self.assertEqual(status, 200)
        gen = doc["_metadata"]["generation_id"]
        db = sqlite3.connect(os.path.join(self.gw.data_dir, "imagegate.db"))
        row = db.execute("SELECT status, n, width, model, key_id, latency_us FROM generations "
                         "WHERE id = ?", (gen,)).fetchone()
        self.assertEqual(row[:5], ("succeeded", 2, 128, "local/procedural", "key_admin"))
        self.assertGreater(row[5], 0)
        imgs = db.execute("SELECT j.key, j.value ->> 'seed', b.bytes FROM generations g, "
                          "json_each(g.images) j JOIN blobs b ON b.sha256 = j.value ->> 'sha256' "
                          "WHERE g.id = ? ORDER BY j.key", (gen,)).fetchall()
        self.assertEqual([(i, s) for i, s, _ in imgs], [(0, 3), (1, 4)])
        self.assertTrue(all(n > 0 for _, _, n in imgs), imgs)
        db.close()


class Validation(GatewayTest):
    def post(self, body, ctype="application/json", key="admin"):
        headers = {"Content-Type": ctype} if ctype else {}
        if key == "admin":
            key = self.gw.admin_key
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        status, hdrs, data = self.gw.request("POST", "/v1/images/generations", body, headers,
                                             key=key)
        return status, hdrs, json.loads(data) if data else None

    def test_rejections_name_param(self):
        cases = [
            ({}, 400, "missing_required_parameter", "prompt"),
            ({"prompt": ""}, 400, "invalid_value", "prompt"),
            ({"prompt": 1}, 400, "invalid_type", "prompt"),
            ({"prompt": "x" * 32001}, 400, "string_above_max_length", "prompt"),
            ({"prompt": "x", "n": 0}, 400, "invalid_value", "n"),
            ({"prompt": "x", "n": 11}, 400, "invalid_value", "n"),
            ({"prompt": "x", "n": "3"}, 400, "invalid_type", "n"),
            ({"prompt": "x", "size": "4096x4096"}, 400, "invalid_value", "size"),
            ({"prompt": "x", "size": "10x10"}, 400, "invalid_value", "size"),
            ({"prompt": "x", "model": "no-such-model"}, 404, "model_not_found", "model"),
            ({"prompt": "x", "quality": "best"}, 400, "invalid_value", "quality"),
            ({"prompt": "x", "style": "baroque"}, 400, "invalid_value", "style"),
            ({"prompt": "x", "response_format": "png"}, 400, "invalid_value", "response_format"),
            ({"prompt": "x", "output_format": "bmp"}, 400, "invalid_value", "output_format"),
            ({"prompt": "x", "seed": "1"}, 400, "invalid_type", "seed"),
            ({"prompt": "x", "metadata": {"a": 1}}, 400, "invalid_type", "metadata"),
            # README: up to 16 string pairs.
            ({"prompt": "x", "metadata": {"k%d" % i: "v" for i in range(17)}}, 400,
             "invalid_value", "metadata"),
            ({"prompt": "x", "metadata": {"k" * 65: "v"}}, 400, "invalid_value", "metadata"),
            ({"prompt": "x", "metadata": {"k": "v" * 513}}, 400, "invalid_value", "metadata"),
            ({"prompt": "x", "metadata": ["k", "v"]}, 400, "invalid_type", "metadata"),
            ({"prompt": "x", "extra": True}, 400, "unknown_parameter", "extra"),
            ({"prompt": "x", "user": "u" * 300}, 400, "string_above_max_length", "user"),
        ]
        for body, want, code, param in cases:
            with self.subTest(body=str(body)[:60]):
                status, hdrs, doc = self.post(body)
                self.assertOpenAIError(status, hdrs, doc, want, code, param)

    def test_sixteen_metadata_pairs_are_accepted_and_echoed(self):
        pairs = {"k%02d" % i: "v" * 512 for i in range(16)}
        pairs["k00"] = "x"
        pairs["k" * 64] = pairs.pop("k15")
        status, _, doc = self.post({"prompt": "x", "size": "64x64", "metadata": pairs})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["_metadata"]["metadata"], pairs)

    def test_malformed_json(self):
        for raw in (b"{", b"not json", b"[]", b'"prompt"', b"", b'{"prompt":"a","prompt":"b"}'):
            with self.subTest(raw=raw):
                status, hdrs, doc = self.post(raw)
                self.assertOpenAIError(status, hdrs, doc, 400, "invalid_json", None)

    def test_wrong_content_type_415(self):
        for ctype in ("text/plain", None, "application/jsonp", "multipart/form-data"):
            with self.subTest(ctype=ctype):
                status, hdrs, doc = self.post({"prompt": "x"}, ctype=ctype)
                self.assertOpenAIError(status, hdrs, doc, 415, "unsupported_media_type", None)
        status, _, _ = self.post({"prompt": "x", "size": "64x64"},
                                 ctype="application/json; charset=utf-8")
        self.assertEqual(status, 200)

    def test_rejections_record_nothing(self):
        import sqlite3
        db = sqlite3.connect(os.path.join(self.gw.data_dir, "imagegate.db"))
        before = db.execute("SELECT count(*) FROM generations").fetchone()[0]
        self.post({"prompt": "x", "n": 99})
        self.post(b"{")
        self.assertEqual(db.execute("SELECT count(*) FROM generations").fetchone()[0], before)
        db.close()


class Auth(GatewayTest):
    def test_missing_invalid_and_revoked(self):
        status, hdrs, doc = self.gw.json("POST", "/v1/images/generations", {"prompt": "x"})
        self.assertOpenAIError(status, hdrs, doc, 401, "missing_api_key", None)
        for header in ({"Authorization": "Bearer ig_nope"}, {"x-api-key": "ig_nope"},
                       {"Authorization": "Basic abc"}, {"Authorization": "Bearer " + "a" * 600}):
            with self.subTest(header=str(header)[:40]):
                status, hdrs, doc = self.gw.json("POST", "/v1/images/generations",
                                                 {"prompt": "x"}, headers=header)
                self.assertOpenAIError(status, hdrs, doc, 401, "invalid_api_key", None)
                self.assertEqual(doc["error"]["message"], "Incorrect API key provided.")

    def test_key_lifecycle(self):
        status, _, doc = self.gw.json("POST", "/admin/keys", {"name": "app-1"},
                                      key=self.gw.admin_key)
        self.assertEqual(status, 201, doc)
        key, kid = doc["key"], doc["id"]
        self.assertRegex(key, r"^ig_[0-9A-Za-z]{43}$")
        self.assertEqual(doc["scopes"], ["generate"])
        self.assertEqual(doc["prefix"], key[:7])
        # Works, also through x-api-key.
        self.assertEqual(self.gw.generate(key=key, size="64x64")[0], 200)
        status, _, _ = self.gw.json("GET", "/v1/models", headers={"x-api-key": key})
        self.assertEqual(status, 200)
        # A generate-only key is not an admin.
        status, hdrs, doc = self.gw.json("GET", "/admin/keys", key=key)
        self.assertOpenAIError(status, hdrs, doc, 403, "insufficient_scope", None)
        # Listed, without secrets.
        status, _, doc = self.gw.json("GET", "/admin/keys", key=self.gw.admin_key)
        self.assertEqual(status, 200)
        listed = {k["id"]: k for k in doc["data"]}
        self.assertIn(kid, listed)
        self.assertNotIn("key", listed[kid])
        self.assertNotIn("hash", listed[kid])
        self.assertNotIn(key, json.dumps(doc))
        # Revoked: fails at once.
        status, _, doc = self.gw.json("DELETE", "/admin/keys/" + kid, key=self.gw.admin_key)
        self.assertEqual((status, doc["deleted"]), (200, True))
        status, hdrs, doc = self.gw.generate(key=key)
        self.assertOpenAIError(status, hdrs, doc, 401, "invalid_api_key", None)
        status, hdrs, doc = self.gw.json("DELETE", "/admin/keys/" + kid, key=self.gw.admin_key)
        self.assertOpenAIError(status, hdrs, doc, 404, "key_not_found", "id")
        # The key is stored only as its hash.
        import sqlite3
        db = sqlite3.connect(os.path.join(self.gw.data_dir, "imagegate.db"))
        dump = "\n".join(db.iterdump())
        db.close()
        self.assertNotIn(key, dump)
        self.assertNotIn(self.gw.admin_key, dump)
        self.assertIn(hashlib.sha256(key.encode()).hexdigest().upper(), dump.upper())
        # Secrets never reach the log.
        self.assertNotIn(key, self.gw.log())
        self.assertNotIn(self.gw.admin_key, self.gw.log())

    def test_admin_scope_key_and_bad_create(self):
        status, _, doc = self.gw.json("POST", "/admin/keys",
                                      {"name": "ops", "scopes": ["admin"]}, key=self.gw.admin_key)
        self.assertEqual(status, 201)
        admin2 = doc["key"]
        self.assertEqual(self.gw.json("GET", "/admin/keys", key=admin2)[0], 200)
        status, hdrs, doc = self.gw.generate(key=admin2)
        self.assertOpenAIError(status, hdrs, doc, 403, "insufficient_scope", None)
        for body, param in (({}, "name"), ({"name": ""}, "name"), ({"name": 5}, "name"),
                            ({"name": "x", "scopes": ["root"]}, "scopes"),
                            ({"name": "x", "scopes": []}, "scopes"),
                            ({"name": "x", "extra": 1}, "extra")):
            with self.subTest(body=body):
                status, hdrs, doc = self.gw.json("POST", "/admin/keys", body,
                                                 key=self.gw.admin_key)
                self.assertOpenAIError(status, hdrs, doc, 400, None, param)
        status, hdrs, doc = self.gw.json("POST", "/admin/keys", {"name": "x"})
        self.assertOpenAIError(status, hdrs, doc, 401, "missing_api_key", None)


class Files(GatewayTest):
    def signed(self):
        status, _, doc = self.gw.generate(prompt="file", size="64x64")
        self.assertEqual(status, 200)
        return urllib.parse.urlsplit(doc["data"][0]["url"])

    def test_tampered_and_unsigned_403(self):
        u = self.signed()
        q = urllib.parse.parse_qs(u.query)
        bad_sig = q["sig"][0][:-1] + ("0" if q["sig"][0][-1] != "0" else "1")
        cases = [
            u.path,
            u.path + "?expires=%s" % q["expires"][0],
            u.path + "?expires=%d&sig=%s" % (int(q["expires"][0]) + 1, q["sig"][0]),
            u.path + "?expires=%s&sig=%s" % (q["expires"][0], bad_sig),
            u.path.replace(".png", ".jpeg") + "?" + u.query,
            # The good pair with a repeated parameter: a cache in front
            # might honour the other copy.
            u.path + "?" + u.query + "&sig=" + bad_sig,
            u.path + "?sig=" + bad_sig + "&" + u.query,
            u.path + "?" + u.query + "&expires=%d" % (int(q["expires"][0]) + 999),
            u.path + "?" + u.query + "&sig=" + q["sig"][0],
            u.path + "?" + u.query + "&expires",
        ]
        for path in cases:
            with self.subTest(path=path):
                status, hdrs, doc = self.gw.json("GET", path)
                self.assertOpenAIError(status, hdrs, doc, 403, "invalid_signature", None)

    def test_expired_403(self):
        from harness import Gateway
        with Gateway(config="images:\n  url_ttl_s: 1\n") as gw:
            status, _, doc = gw.generate(size="64x64")
            u = urllib.parse.urlsplit(doc["data"][0]["url"])
            self.assertEqual(gw.request("GET", u.path + "?" + u.query)[0], 200)
            time.sleep(2.2)
            status, hdrs, doc = gw.json("GET", u.path + "?" + u.query)
            self.assertOpenAIError(status, hdrs, doc, 403, "url_expired", None)

    def test_missing_blob_404_and_bad_names(self):
        u = self.signed()
        sha = u.path.split("/")[-1].split(".")[0]
        blob = os.path.join(self.gw.data_dir, "blobs", sha[:2], sha[2:4], sha)
        os.rename(blob, blob + ".moved")
        try:
            status, hdrs, doc = self.gw.json("GET", u.path + "?" + u.query)
            self.assertOpenAIError(status, hdrs, doc, 404, "file_not_found", None)
        finally:
            os.rename(blob + ".moved", blob)
        for path in ("/v1/files/../../etc/passwd", "/v1/files/abc.png", "/v1/files/%s.gif" % sha,
                     "/v1/files/%s" % sha, "/v1/files/%s.png%%00" % sha):
            with self.subTest(path=path):
                status, hdrs, doc = self.gw.json("GET", path)
                self.assertOpenAIError(status, hdrs, doc, 404, None, None)


class ModelsAndOps(GatewayTest):
    def test_models(self):
        status, _, doc = self.gw.json("GET", "/v1/models", key=self.gw.admin_key)
        self.assertEqual(status, 200)
        self.assertEqual(doc["object"], "list")
        m = {x["id"]: x for x in doc["data"]}["local/procedural"]
        self.assertEqual(m["object"], "model")
        self.assertEqual(m["owned_by"], "imagegate")
        self.assertEqual(m["imagegate"]["max_n"], 10)
        self.assertEqual(m["imagegate"]["sizes"]["max_side"], 2048)
        self.assertIn("not a diffusion model", m["imagegate"]["description"])
        for ident in ("local/procedural", "local%2Fprocedural", "local"):
            status, _, one = self.gw.json("GET", "/v1/models/" + ident, key=self.gw.admin_key)
            self.assertEqual(status, 200, ident)
            self.assertEqual(one["id"], "local/procedural")
        status, hdrs, doc = self.gw.json("GET", "/v1/models/dall-e-3", key=self.gw.admin_key)
        self.assertOpenAIError(status, hdrs, doc, 404, "model_not_found", "model")
        status, hdrs, doc = self.gw.json("GET", "/v1/models")
        self.assertOpenAIError(status, hdrs, doc, 401, "missing_api_key", None)

    def test_health_ready_metrics(self):
        self.assertEqual(self.gw.json("GET", "/healthz")[0:3:2], (200, {"status": "ok"}))
        self.assertEqual(self.gw.json("GET", "/readyz")[0:3:2], (200, {"status": "ready"}))
        self.gw.generate(size="64x64", n=2)

        # The earlier requests leave the gauge when their last byte is handed
        # to the kernel, which can be a moment after the client has read it
        # (another worker may answer /metrics first): the gauge must settle
        # at 1, the /metrics request itself.
        def scrape():
            status, hdrs, data = self.gw.request("GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(hdrs["content-type"].startswith("text/plain; version=0.0.4"))
            text = data.decode()
            return text if re.search(r"imagegate_http_requests_in_flight 1\b", text) else None

        text = wait_for(scrape, what="requests_in_flight to settle at 1")
        self.assertRegex(text, r'imagegate_http_requests_total\{route="healthz",status="200"\} \d+')
        self.assertRegex(text, r'imagegate_http_requests_total\{route="generations",status="200"\} \d+')
        self.assertRegex(text, r"imagegate_http_request_duration_seconds_bucket\{le=\"\+Inf\"\} \d+")
        n = int(re.search(r"imagegate_images_generated_total (\d+)", text).group(1))
        self.assertGreaterEqual(n, 2)
        self.assertRegex(text, r"imagegate_image_bytes_stored_total [1-9]\d*")

    def test_404_405_shapes(self):
        status, hdrs, doc = self.gw.json("GET", "/v2/nothing")
        self.assertOpenAIError(status, hdrs, doc, 404, "not_found", None)
        status, hdrs, doc = self.gw.json("GET", "/v1/images/generations")
        self.assertOpenAIError(status, hdrs, doc, 405, "method_not_allowed", None)
        self.assertEqual(hdrs["allow"], "POST")
        status, hdrs, doc = self.gw.json("PUT", "/healthz")
        self.assertOpenAIError(status, hdrs, doc, 405, "method_not_allowed", None)
        self.assertIn("GET", hdrs["allow"])

    def test_request_ids(self):
        status, hdrs, _ = self.gw.request("GET", "/healthz", headers={"X-Request-Id": "abc-123"})
        self.assertEqual(hdrs["x-request-id"], "abc-123")
        status, hdrs, _ = self.gw.request("GET", "/healthz",
                                          headers={"X-Request-Id": "bad id\"<script>"})
        self.assertRegex(hdrs["x-request-id"], r"^req_[0-9a-f]{24}$")
        a = self.gw.request("GET", "/healthz")[1]["x-request-id"]
        b = self.gw.request("GET", "/healthz")[1]["x-request-id"]
        self.assertNotEqual(a, b)

    def test_access_log_lines_without_prompts(self):
        secret_prompt = "zebra-unicorn-secret-%d" % time.time_ns()
        self.gw.generate(prompt=secret_prompt, size="64x64")
        time.sleep(0.1)
        lines = [l for l in self.gw.log_lines() if l.get("msg") == "request"
                 and l.get("path") == "/v1/images/generations" and l.get("status") == 200]
        self.assertTrue(lines)
        line = lines[-1]
        for field in ("request_id", "key_id", "method", "path", "status", "latency_us", "model",
                      "provider", "cache", "cost", "images", "bytes"):
            self.assertIn(field, line)
        self.assertEqual(line["model"], "local/procedural")
        self.assertEqual(line["provider"], "local")
        self.assertIsNone(line["cache"], "no seed: not cacheable")
        self.assertEqual(line["cost"], 0, "the local renderer is free")
        self.assertGreaterEqual(line["images"], 1)
        # A seeded request is cacheable: a miss, then a hit from the cache.
        for _ in range(2):
            self.gw.generate(prompt="cached %s" % secret_prompt, size="64x64", seed=7)
        def seeded():
            got = [l for l in self.gw.log_lines()
                   if l.get("msg") == "request" and l.get("cache") is not None]
            return got[-2:] if len(got) >= 2 else None
        lines = wait_for(seeded, what="the seeded requests' log lines")
        self.assertEqual([(l["cache"], l["provider"]) for l in lines],
                         [("miss", "local"), ("hit", "cache")])
        # A request that is no generation says none of it.
        self.gw.request("GET", "/healthz")
        health = wait_for(lambda: [l for l in self.gw.log_lines() if l.get("path") == "/healthz"],
                          what="the probe's log line")
        self.assertEqual((health[-1]["provider"], health[-1]["cache"], health[-1]["cost"]),
                         (None, None, None))
        self.assertNotIn(secret_prompt, self.gw.log())


class PromptLogging(GatewayTest):
    config = "log:\n  prompts: true\n"

    def test_prompts_logged_when_asked(self):
        self.gw.generate(prompt="log \"me\" please", size="64x64")
        lines = wait_for(lambda: [l for l in self.gw.log_lines()
                                  if l.get("path") == "/v1/images/generations"],
                         what="the request's log line")
        self.assertEqual(lines[-1]["prompt"], 'log "me" please')
        self.assertNotIn(self.gw.admin_key, self.gw.log())


class PromptInProvenance(GatewayTest):
    config = "provenance:\n  prompt: true\n"

    def test_prompt_text_in_the_png_when_asked(self):
        status, _, doc = self.gw.generate(prompt="show me \u00e9", size="64x64",
                                          response_format="b64_json")
        self.assertEqual(status, 200, doc)
        text = png_text_chunks(b64_image(doc))
        self.assertEqual(text["prompt"], "show me \u00e9")
        self.assertEqual(text["prompt-sha256"], hashlib.sha256("show me \u00e9".encode()).hexdigest())


class PrivateDataDirectory(unittest.TestCase):
    def modes(self, root):
        out = {}
        for d, dirs, files in os.walk(root):
            for name in dirs + files:
                p = os.path.join(d, name)
                out[os.path.relpath(p, root)] = os.stat(p).st_mode & 0o777
        return out

    def test_created_private_whatever_the_umask(self):
        parent = tempfile.mkdtemp(prefix="ig-umask-")
        data = os.path.join(parent, "data")
        old = os.umask(0)  # the gateway inherits it
        try:
            gw = Gateway(data_dir=data)
        finally:
            os.umask(old)
        try:
            self.assertEqual(gw.generate(size="64x64", n=2)[0], 200)
            gw.stop()
            self.assertEqual(os.stat(data).st_mode & 0o777, 0o700)
            modes = self.modes(data)
            self.assertIn("imagegate.db", modes)
            self.assertTrue(any(p.startswith("blobs/") and not os.path.isdir(os.path.join(data, p))
                                for p in modes), modes)
            for path, mode in modes.items():
                want = 0o700 if os.path.isdir(os.path.join(data, path)) else 0o600
                self.assertEqual(mode, want, "%s is %o" % (path, mode))
            self.assertNotIn("readable by others", gw.log())
        finally:
            gw.cleanup()
            shutil.rmtree(parent, ignore_errors=True)

    def test_wal_files_private_while_running(self):
        parent = tempfile.mkdtemp(prefix="ig-umask-")
        data = os.path.join(parent, "data")
        old = os.umask(0)
        try:
            gw = Gateway(data_dir=data)
        finally:
            os.umask(old)
        try:
            self.assertEqual(gw.generate(size="64x64")[0], 200)
            wal = os.path.join(data, "imagegate.db-wal")
            self.assertTrue(os.path.exists(wal))
            self.assertEqual(os.stat(wal).st_mode & 0o777, 0o600)
            self.assertEqual(os.stat(os.path.join(data, "imagegate.db-shm")).st_mode & 0o777,
                             0o600)
        finally:
            gw.cleanup()
            shutil.rmtree(parent, ignore_errors=True)

    def test_a_wider_existing_directory_is_warned_about(self):
        data = tempfile.mkdtemp(prefix="ig-wide-")
        os.chmod(data, 0o755)
        gw = Gateway(data_dir=data)
        try:
            self.assertEqual(gw.generate(size="64x64")[0], 200)
            line = [l for l in gw.log_lines() if "readable by others" in l.get("msg", "")]
            self.assertEqual(len(line), 1, gw.log())
            self.assertEqual(line[0]["level"], "warn")
            self.assertIn(data, line[0]["msg"])
            self.assertIn("755", line[0]["msg"])
        finally:
            gw.cleanup()
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
