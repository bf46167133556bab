"""Browser callers (seed 003's React example): allowed origins get
Access-Control-Allow-Origin and the gateway's headers exposed on every
answer, errors included; a preflight is answered before any key is asked
for; other origins get nothing, and none are allowed by default."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import BIN, Gateway, GatewayTest

APP = "https://app.example.com"


class Cors(GatewayTest):
    config = "cors:\n  allowed_origins: \"%s, http://localhost:3000\"\n" % APP

    def gen(self, headers):
        return self.gw.json("POST", "/v1/images/generations", {"prompt": "x", "size": "64x64"},
                            headers=headers, key=self.gw.admin_key)

    def test_preflight_answered_without_a_key(self):
        conn = self.gw.conn()
        status, hdrs, body = self.gw.request(
            "OPTIONS", "/v1/images/generations",
            headers={"Origin": APP, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization, content-type"}, conn=conn)
        self.assertEqual(status, 204, body)
        self.assertEqual(body, b"")
        self.assertNotIn("content-length", hdrs, "a 204 says no length")
        self.assertEqual(hdrs["access-control-allow-origin"], APP)
        self.assertIn("POST", hdrs["access-control-allow-methods"])
        self.assertIn("authorization", hdrs["access-control-allow-headers"])
        self.assertEqual(hdrs["vary"], "Origin")
        # The same connection goes on after the 204 (it has no body to frame).
        self.assertEqual(self.gw.request("GET", "/healthz", conn=conn)[0], 200)
        conn.close()

    def test_other_origins_get_nothing(self):
        status, hdrs, doc = self.gw.json(
            "OPTIONS", "/v1/images/generations",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        self.assertOpenAIError(status, hdrs, doc, 403, "cors_origin_not_allowed", None)
        self.assertNotIn("access-control-allow-origin", hdrs)
        status, hdrs, doc = self.gen({"Origin": "https://evil.example"})
        self.assertEqual(status, 200)
        self.assertNotIn("access-control-allow-origin", hdrs)

    def test_answers_and_errors_expose_the_gateways_headers(self):
        status, hdrs, doc = self.gen({"Origin": APP})
        self.assertEqual(status, 200, doc)
        self.assertEqual(hdrs["access-control-allow-origin"], APP)
        exposed = [h.strip() for h in hdrs["access-control-expose-headers"].split(",")]
        for h in ("x-request-id", "x-imagegate-cost", "x-imagegate-credits-remaining",
                  "x-ratelimit-remaining-requests", "retry-after"):
            self.assertIn(h, exposed)
        # A page can read why it failed, too.
        status, hdrs, doc = self.gw.json("POST", "/v1/images/generations", {"prompt": "x"},
                                         headers={"Origin": "http://localhost:3000"})
        self.assertOpenAIError(status, hdrs, doc, 401, "missing_api_key", None)
        self.assertEqual(hdrs["access-control-allow-origin"], "http://localhost:3000")


class CorsDefaultsAndConfig(unittest.TestCase):
    def test_no_origin_is_allowed_by_default(self):
        with Gateway() as gw:
            status, hdrs, _ = gw.request("OPTIONS", "/v1/images/generations",
                                         headers={"Origin": APP,
                                                  "Access-Control-Request-Method": "POST"})
            self.assertEqual(status, 403)
            self.assertNotIn("access-control-allow-origin", hdrs)

    def test_bad_origins_are_refused_at_start(self):
        for bad in ("app.example.com", "https://app.example.com/", "ftp://x.example"):
            with self.subTest(bad=bad):
                fd, path = tempfile.mkstemp(suffix=".yaml")
                os.write(fd, ("cors:\n  allowed_origins: \"%s\"\n" % bad).encode())
                os.close(fd)
                r = subprocess.run([BIN, "serve", "--config", path, "--listen", "127.0.0.1:0",
                                    "--data", tempfile.mkdtemp()], capture_output=True,
                                   timeout=20)
                os.unlink(path)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("cors.allowed_origins", r.stderr.decode())


if __name__ == "__main__":
    unittest.main()
