"""Seed 003's Ops-Center API as its clients call it: the same generation
endpoint under /api/v1/llm/, credits there, errors that carry `detail`
beside OpenAI's error object; and the settings its users expect: a
configurable default model, model aliases, FAL_API_KEY beside FAL_KEY."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import BIN, Gateway, GatewayTest
from test_providers import CONFIG, Fake, FakeTest


class OpsCenterPaths(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG + """
default_model: dall-e-3
models:
  - name: house-sd
    aliases: [stable-diffusion-xl, sdxl]
    price: 5
    deployments:
      - { provider: openai, model: sd-xl, api_base: "%s/v1" }
""" % cls.fake.base, env={"OPENAI_API_KEY": "sk-test",
                          "OPENAI_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def test_generation_under_the_ops_center_path(self):
        self.fake.script([])
        # No model named: default_model (dall-e-3), as seed 003's clients expect.
        status, hdrs, doc = self.gw.json("POST", "/api/v1/llm/image/generations",
                                         {"prompt": "a lighthouse", "response_format": "b64_json"},
                                         key=self.gw.admin_key)
        self.assertEqual(status, 200, doc)
        meta = doc["_metadata"]
        self.assertEqual((meta["model"], meta["provider_used"], meta["cost_incurred"]),
                         ("openai/dall-e-3", "openai", 40))
        self.assertEqual(json.loads(self.fake.requests()[0]["body"])["model"], "dall-e-3")
        status, _, c = self.gw.json("GET", "/api/v1/llm/credits", key=self.gw.admin_key)
        self.assertEqual((status, c["object"], c["account_id"]), (200, "credits", "acct_operator"))

    def test_errors_there_carry_detail(self):
        status, hdrs, doc = self.gw.json("POST", "/api/v1/llm/image/generations",
                                         {"prompt": "x"})
        self.assertOpenAIError(status, hdrs, doc, 401, "missing_api_key", None, detail=True)
        # A tenant without credits: seed 003's clients read data.detail.
        _, _, k = self.gw.json("POST", "/admin/keys", {"name": "poor"}, key=self.gw.admin_key)
        status, hdrs, doc = self.gw.json("POST", "/api/v1/llm/image/generations",
                                         {"prompt": "x"}, key=k["key"])
        self.assertOpenAIError(status, hdrs, doc, 402, "insufficient_credits", None, detail=True)
        self.assertEqual(doc["detail"], "insufficient credits: balance 0, estimated cost 48")
        status, hdrs, doc = self.gw.json("POST", "/api/v1/llm/image/generations",
                                         {"prompt": "x", "size": "9x9"}, key=k["key"])
        self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", "size", detail=True)
        # The OpenAI paths keep OpenAI's shape exactly.
        status, _, doc = self.gw.json("POST", "/v1/images/generations", {"prompt": "x"},
                                      key=k["key"])
        self.assertEqual(status, 402)
        self.assertEqual(set(doc), {"error"})

    def test_aliases_name_a_configured_model(self):
        self.fake.script([])
        for name in ("sdxl", "stable-diffusion-xl", "house-sd"):
            with self.subTest(name=name):
                status, _, doc = self.gw.json("POST", "/v1/images/generations",
                                              {"prompt": "x", "model": name,
                                               "size": "512x512"},
                                              key=self.gw.admin_key)
                self.assertEqual(status, 200, doc)
                self.assertEqual(doc["_metadata"]["model"], "house-sd")
                self.assertEqual(json.loads(self.fake.requests()[-1]["body"])["model"], "sd-xl")
                self.assertEqual(doc["_metadata"]["cost_incurred"], 5)


class OpsCenterSettings(unittest.TestCase):
    def start_fails(self, config):
        fd, path = tempfile.mkstemp(suffix=".yaml")
        os.write(fd, config.encode())
        os.close(fd)
        try:
            r = subprocess.run([BIN, "serve", "--config", path, "--listen", "127.0.0.1:0",
                                "--data", tempfile.mkdtemp()], capture_output=True, timeout=20)
        finally:
            os.unlink(path)
        self.assertNotEqual(r.returncode, 0)
        return r.stderr.decode()

    def test_bad_default_model_and_aliases_are_refused_at_start(self):
        err = self.start_fails("default_model: no-such-model\n")
        self.assertIn("default_model: 'no-such-model'", err)
        err = self.start_fails("""models:
  - name: a
    aliases: [local]
    deployments: [{provider: openai, model: m, api_base: "http://127.0.0.1:9/v1"}]
""")
        self.assertIn("defined twice", err)
        err = self.start_fails("""models:
  - name: a
    aliases: sdxl
    deployments: [{provider: openai, model: m, api_base: "http://127.0.0.1:9/v1"}]
""")
        self.assertIn("aliases is a list", err)

    def test_fal_api_key_is_accepted_beside_fal_key(self):
        fake = Fake()
        try:
            with Gateway(config=CONFIG, env={"FAL_API_KEY": "fal-alt-key",
                                             "FAL_QUEUE_URL": fake.base}) as gw:
                fake.script([{"pending": 0}])
                status, _, doc = gw.json("POST", "/v1/images/generations",
                                         {"prompt": "x", "model": "fal/fal-ai/flux/schnell"},
                                         key=gw.admin_key)
                self.assertEqual(status, 200, doc)
                self.assertEqual(fake.requests()[0]["headers"]["authorization"],
                                 "Key fal-alt-key")
        finally:
            fake.stop()


if __name__ == "__main__":
    unittest.main()
