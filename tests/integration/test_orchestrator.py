"""The orchestrator API of seed 001 and the client examples of seeds 001
and 004, run against the real server as their clients would call it:
/api/v1/generate (and its batch), models with supported styles, prices and
measured average times, the history, usage; thumbnails as 256 px WebP
behind signed links; the style catalogue; bearer tokens minted for a key
(POST /v1/tokens), narrowed and short-lived; and seed 004's cURL, Node
and Python examples (generations with an Idempotency-Key, a job polled
until it succeeds)."""
import base64
import json
import os
import struct
import time
import urllib.error
import urllib.request

from harness import Gateway, GatewayTest, wait_for
from test_providers import CONFIG, Fake, FakeTest

MODELS = """
default_model: sd
models:
  - name: sd
    price: 1.5
    deployments:
      - { provider: a1111, model: sd, api_base: "%s" }
styles:
  - name: noir
    prompt_suffix: "film noir, high contrast black and white"
"""


def webp_size(data):
    """The canvas of a WebP (VP8, VP8L or VP8X), read from its header."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", data[:16]
    kind = data[12:16]
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L":
        b = int.from_bytes(data[21:25], "little")
        return (b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1
    w = int.from_bytes(data[24:27], "little") + 1
    h = int.from_bytes(data[27:30], "little") + 1
    return w, h


class Orchestrator(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG + MODELS % cls.fake.base)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.gw.cleanup()
        finally:
            cls.fake.stop()

    def setUp(self):
        self.fake.script([])

    def account(self, grant=100):
        admin = self.gw.admin_key
        status, _, acct = self.gw.json("POST", "/admin/accounts",
                                       {"name": "t", "grant": grant, "tier": "vip"}, key=admin)
        status, _, key = self.gw.json("POST", "/admin/keys",
                                      {"name": "k", "account_id": acct["id"]}, key=admin)
        return acct["id"], key["key"]

    def fetch(self, url):
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers, r.read()

    # ---- seed 001 ----

    def test_generate_as_the_seed_client_calls_it(self):
        _, key = self.account()
        # The cURL example of seed 001, verbatim but for host and key.
        status, hdrs, r = self.gw.json("POST", "/api/v1/generate", {
            "prompt": "A beautiful sunset over mountains", "model": "sd",
            "style": "photorealistic", "size": "1024x1024"}, key=key)
        self.assertEqual(status, 200, r)
        for field in ("id", "image_url", "thumbnail_url", "prompt", "model", "style", "size",
                      "quality", "metadata", "created_at", "processing_time", "cost"):
            self.assertIn(field, r)
        self.assertEqual((r["prompt"], r["model"], r["style"], r["size"]),
                         ("A beautiful sunset over mountains", "sd", "photorealistic",
                          "1024x1024"))
        self.assertEqual(r["cost"], 1.5)
        self.assertTrue(r["created_at"].endswith("Z"))
        self.assertGreater(r["processing_time"], 0)
        # The style reached the provider as its prompt suffix (a1111 has no styles).
        sent = json.loads([q for q in self.fake.requests() if q["method"] == "POST"][-1]["body"])
        self.assertEqual(sent["prompt"], "A beautiful sunset over mountains, photorealistic, "
                                         "highly detailed photograph")
        status, _, image = self.fetch(r["image_url"])
        self.assertTrue(image.startswith(b"\x89PNG"))
        status, h, thumb = self.fetch(r["thumbnail_url"])
        self.assertEqual(h["Content-Type"], "image/webp")
        self.assertEqual(webp_size(thumb), (16, 16), "a small image keeps its size")
        # metadata, as in the client's generate() example.
        status, _, r2 = self.gw.json("POST", "/api/v1/generate", {
            "prompt": "Your creative prompt", "model": "sd", "style": "photorealistic",
            "size": "512x512", "quality": "standard",
            "metadata": {"campaign": "summer-2024", "brand": "your-brand"}}, key=key)
        self.assertEqual(status, 200, r2)
        self.assertEqual(r2["metadata"], {"campaign": "summer-2024", "brand": "your-brand"})
        # A model that does not exist, a style that does not.
        status, hdrs, err = self.gw.json("POST", "/api/v1/generate",
                                         {"prompt": "x", "model": "midjourney"}, key=key)
        self.assertEqual((status, err["error"]["code"]), (404, "model_not_found"))
        status, hdrs, err = self.gw.json("POST", "/api/v1/generate",
                                         {"prompt": "x", "style": "baroque"}, key=key)
        self.assertEqual((status, err["error"]["code"], err["error"]["param"]),
                         (400, "invalid_value", "style"))
        self.assertIn("photorealistic", err["error"]["message"], "the known ones are listed")
        self.assertIn("noir", err["error"]["message"], "the config's too")

    def test_thumbnails_are_256_px_webp_behind_signed_links(self):
        _, key = self.account()
        self.fake.script([{"size": [1024, 512]}])
        status, _, r = self.gw.json("POST", "/api/v1/generate",
                                    {"prompt": "a wide harbour", "size": "1024x512"}, key=key)
        self.assertEqual(status, 200, r)
        status, h, thumb = self.fetch(r["thumbnail_url"])
        self.assertEqual(webp_size(thumb), (256, 128))
        self.assertEqual(h["ETag"][-6:], '.t256"')
        # Made once: the next view is served from memory, even with the
        # image itself gone from the disk (which its own link then shows).
        sha = r["thumbnail_url"].split("/v1/thumbnails/")[1].split(".")[0]
        blob = os.path.join(self.gw.data_dir, "blobs", sha[:2], sha[2:4], sha)
        aside = blob + ".aside"
        os.rename(blob, aside)
        try:
            status, _, again = self.fetch(r["thumbnail_url"])
            self.assertEqual((status, again), (200, thumb))
            with self.assertRaises(urllib.error.HTTPError) as e:
                self.fetch(r["image_url"])
            self.assertEqual(e.exception.code, 404)
        finally:
            os.rename(aside, blob)
        tampered = r["thumbnail_url"].replace("sig=", "sig=0")
        with self.assertRaises(urllib.error.HTTPError) as e:
            self.fetch(tampered)
        self.assertEqual(e.exception.code, 403)
        png_as_thumb = r["thumbnail_url"].replace(".webp?", ".png?")
        with self.assertRaises(urllib.error.HTTPError) as e:
            self.fetch(png_as_thumb)
        self.assertEqual(e.exception.code, 404)

    def test_batch_models_history_usage(self):
        _, key = self.account()
        # generate_batch(prompts=[...], model=..., batch_size=3)
        status, _, rs = self.gw.json("POST", "/api/v1/generate/batch", {
            "prompts": ["Prompt 1", "Prompt 2", "Prompt 3"], "model": "sd",
            "batch_size": 3, "size": "512x512"}, key=key)
        self.assertEqual(status, 200, rs)
        self.assertEqual([r["prompt"] for r in rs], ["Prompt 1", "Prompt 2", "Prompt 3"])
        self.assertTrue(all(r["image_url"] for r in rs))
        status, _, bad = self.gw.json("POST", "/api/v1/generate/batch",
                                      {"prompts": ["ok", "ok"], "model": "sd", "size": "7x7"},
                                      key=key)
        self.assertEqual(status, 200, bad)
        self.assertEqual([b["error"]["param"] for b in bad], ["size", "size"],
                         "each item says why")
        status, hdrs, err = self.gw.json("POST", "/api/v1/generate/batch", {"prompts": []},
                                         key=key)
        self.assertEqual((status, err["error"]["param"]), (400, "prompts"))
        # list_models(), get_model_info("sd")
        status, _, models = self.gw.json("GET", "/api/v1/models", key=key)
        self.assertEqual(status, 200)
        sd = [m for m in models if m["name"] == "sd"][0]
        for field in ("name", "description", "max_resolution", "supported_styles",
                      "pricing_per_image", "average_time"):
            self.assertIn(field, sd)
        self.assertEqual(sd["pricing_per_image"], 1.5)
        self.assertIn("photorealistic", sd["supported_styles"])
        self.assertIn("noir", sd["supported_styles"])
        self.assertGreater(sd["average_time"], 0, "measured from the history")
        status, _, info = self.gw.json("GET", "/api/v1/models/sd", key=key)
        self.assertEqual(info["name"], "sd")
        status, hdrs, err = self.gw.json("GET", "/api/v1/models/dall-e-9", key=key)
        self.assertEqual((status, err["error"]["code"]), (404, "model_not_found"))
        # get_generation_history(limit=50, filter_by_model="sd")
        status, _, hist = self.gw.json("GET", "/api/v1/generations?limit=50&filter_by_model=sd",
                                       key=key)
        self.assertEqual(status, 200)
        self.assertEqual(len(hist), 3)
        self.assertEqual(sorted(g["prompt"] for g in hist), ["Prompt 1", "Prompt 2", "Prompt 3"],
                         "the batch's generations ran at once: any order")
        self.assertTrue(hist[0]["thumbnail_url"])
        status, _, none = self.gw.json("GET", "/api/v1/generations?filter_by_model=local",
                                       key=key)
        self.assertEqual(none, [])
        status, hdrs, err = self.gw.json("GET", "/api/v1/generations?limit=0", key=key)
        self.assertEqual((status, err["error"]["param"]), (400, "limit"))
        # get_usage_stats(start_date=…, end_date=…)
        today = time.strftime("%Y-%m-%d", time.gmtime())
        status, _, stats = self.gw.json(
            "GET", "/api/v1/usage?start_date=%s&end_date=%s" % (today, today), key=key)
        self.assertEqual(status, 200, stats)
        self.assertEqual(stats["total_generations"], 3)
        self.assertEqual(stats["total_cost"], 4.5)

    # ---- bearer tokens ----

    def test_bearer_tokens(self):
        _, key = self.account()
        status, hdrs, t = self.gw.json("POST", "/v1/tokens", {"expires_in": 600}, key=key)
        self.assertEqual(status, 201, t)
        self.assertEqual(hdrs.get("cache-control"), "no-store")
        self.assertTrue(t["token"].startswith("igt_"))
        self.assertEqual(t["scopes"], ["generate"])
        self.assertAlmostEqual(t["expires_at"], time.time() + 600, delta=30)
        token = t["token"]
        # OrchestrationClient(bearer_token=...): the same API with the token.
        status, _, r = self.gw.json("POST", "/api/v1/generate",
                                    {"prompt": "with a token", "size": "512x512"}, key=token)
        self.assertEqual(status, 200, r)
        status, _, credits = self.gw.json("GET", "/v1/credits", key=token)
        self.assertEqual(credits["balance"], 98.5, "the key's account pays")
        # A token cannot mint tokens, nor be tampered with.
        status, hdrs, err = self.gw.json("POST", "/v1/tokens", {}, key=token)
        self.assertOpenAIError(status, hdrs, err, 403, code="token_cannot_mint")
        tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
        status, hdrs, err = self.gw.json("GET", "/v1/credits", key=tampered)
        self.assertOpenAIError(status, hdrs, err, 401, code="invalid_api_key")
        widened = token.replace(".1.", ".3.", 1)
        status, hdrs, err = self.gw.json("GET", "/admin/keys", key=widened)
        self.assertEqual(status, 401, "scopes are signed")
        # Scopes are narrowed, never widened; expiry is bounded.
        status, hdrs, err = self.gw.json("POST", "/v1/tokens", {"scopes": ["admin"]}, key=key)
        self.assertOpenAIError(status, hdrs, err, 403, code="insufficient_scope", param="scopes")
        for body, param in (({"expires_in": 0}, "expires_in"),
                            ({"expires_in": 86401}, "expires_in"),
                            ({"scopes": []}, "scopes"), ({"scopes": ["root"]}, "scopes")):
            status, hdrs, err = self.gw.json("POST", "/v1/tokens", body, key=key)
            self.assertOpenAIError(status, hdrs, err, 400, code="invalid_value", param=param)
        admin = self.gw.admin_key
        status, _, at = self.gw.json("POST", "/v1/tokens", {"scopes": ["generate"]}, key=admin)
        status, hdrs, err = self.gw.json("GET", "/admin/keys", key=at["token"])
        self.assertOpenAIError(status, hdrs, err, 403, code="insufficient_scope")
        # An expired token, and the token of a revoked key.
        status, _, short = self.gw.json("POST", "/v1/tokens", {"expires_in": 1}, key=key)
        time.sleep(2.1)
        status, hdrs, err = self.gw.json("GET", "/v1/credits", key=short["token"])
        self.assertOpenAIError(status, hdrs, err, 401, code="token_expired")
        status, _, k2 = self.gw.json("POST", "/admin/keys", {"name": "short-lived"}, key=admin)
        status, _, t2 = self.gw.json("POST", "/v1/tokens", {}, key=k2["key"])
        self.assertEqual(self.gw.json("GET", "/v1/credits", key=t2["token"])[0], 200)
        self.gw.json("DELETE", "/admin/keys/" + k2["id"], key=admin)
        status, hdrs, err = self.gw.json("GET", "/v1/credits", key=t2["token"])
        self.assertOpenAIError(status, hdrs, err, 401, code="invalid_api_key")

    # ---- seed 004 ----

    def test_seed_004_examples(self):
        _, key = self.account()
        # The minimal end-to-end cURL example, with its Idempotency-Key.
        body = {"prompt": "a cinematic product hero shot of wireless earbuds on a reflective "
                          "surface, volumetric light, 85mm, f/1.8, high detail",
                "negative_prompt": "blurry, watermark, text overlay, extra objects",
                "size": "1024x1024", "guidance": 7.5, "steps": 30, "seed": 42}
        h = {"Idempotency-Key": "3d2f7e1b-9a90-4dc4-8a8a-123456789abc"}
        status, _, first = self.gw.json("POST", "/v1/images/generations", body, key=key,
                                        headers=h)
        self.assertEqual(status, 200, first)
        status, hdrs, again = self.gw.json("POST", "/v1/images/generations", body, key=key,
                                           headers=h)
        self.assertEqual(hdrs.get("idempotent-replayed"), "true")
        self.assertEqual(again, first)
        sent = json.loads([q for q in self.fake.requests() if q["method"] == "POST"][0]["body"])
        self.assertEqual((sent["seed"], sent["steps"], sent["cfg_scale"]), (42, 30, 7.5))
        # The Node example: a job, polled until state == "succeeded", then
        # output[0].url.
        status, _, create = self.gw.json("POST", "/v1/images/jobs", {
            "prompt": "a lighthouse", "negative_prompt": "fog", "size": "1024x1024",
            "guidance": 7, "steps": 28}, key=key, headers={"Idempotency-Key": "job-7"})
        self.assertEqual(status, 202, create)
        job_id = create["id"]

        def poll():
            s, _, st = self.gw.json("GET", "/v1/images/jobs/" + job_id, key=key)
            return st if st["state"] in ("succeeded", "failed") else None
        st = wait_for(poll, 15, interval=0.1, what="the job")
        self.assertEqual(st["state"], "succeeded")
        status, _, image = self.fetch(st["output"][0]["url"])
        self.assertTrue(image.startswith(b"\x89PNG"))
        # The Python example reads data[0].b64_json: asked for here, since
        # this gateway answers with links by default as OpenAI's DALL-E does.
        payload = {"prompt": "editorial portrait, soft window light, 35mm, Kodak Portra 400 "
                             "look", "size": "768x1152", "guidance": 6.5,
                   "response_format": "b64_json"}
        status, _, resp = self.gw.json("POST", "/v1/images/generations", payload, key=key,
                                       headers={"Idempotency-Key":
                                                "f4f2a2e6-1a2b-4a64-9f2d-7a0b207abcde"})
        self.assertEqual(status, 200, resp)
        img_bytes = base64.b64decode(resp["data"][0]["b64_json"])
        self.assertTrue(img_bytes.startswith(b"\x89PNG"))


if __name__ == "__main__":
    import unittest
    unittest.main()
