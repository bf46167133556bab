"""BYOK: an account's own provider keys. Sealed at rest (the key's bytes
never appear in the database files), never returned; that account's
requests to that provider carry its key and cost 0 credits; a key the
provider refuses is a 502 naming BYOK, never a silent fallback to the
operator's key; isolation between accounts; the Ops-Center mirror."""
import glob
import os

from harness import Gateway, GatewayTest
from test_providers import CONFIG, Fake, FakeTest

TENANT_KEY = "sk-tenant-0123456789abcdefWXYZ"


class Byok(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG, env={"OPENAI_API_KEY": "sk-operator",
                                             "OPENAI_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def tenant(self, grant="100"):
        admin = self.gw.admin_key
        status, _, a = self.gw.json("POST", "/admin/accounts", {"grant": grant}, key=admin)
        status, _, k = self.gw.json("POST", "/admin/keys", {"name": "b", "account_id": a["id"]},
                                    key=admin)
        return a["id"], k["key"]

    def gen(self, key, **fields):
        fields.setdefault("prompt", "my own key")
        fields.setdefault("model", "dall-e-2")
        fields.setdefault("size", "1024x1024")
        return self.gw.json("POST", "/v1/images/generations", fields, key=key)

    def test_own_key_is_used_costs_nothing_and_is_sealed(self):
        acct, key = self.tenant()
        status, _, doc = self.gw.json("POST", "/v1/byok/keys",
                                      {"provider": "openai", "api_key": TENANT_KEY}, key=key)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["last4"], "WXYZ")
        self.assertNotIn(TENANT_KEY, str(doc))
        status, _, listed = self.gw.json("GET", "/v1/byok/keys", key=key)
        self.assertEqual([(x["provider"], x["last4"]) for x in listed["data"]],
                         [("openai", "WXYZ")])
        self.assertNotIn(TENANT_KEY, str(listed), "never returned")
        status, _, est = self.gw.json("POST", "/v1/images/estimate",
                                      {"prompt": "x", "model": "dall-e-2", "size": "1024x1024"},
                                      key=key)
        self.assertEqual((est["byok"], est["estimated_cost"]), (True, 0), est)
        self.fake.script([{}])
        status, hdrs, doc = self.gen(key)
        self.assertEqual(status, 200, doc)
        self.assertEqual(self.fake.requests()[0]["headers"]["authorization"],
                         "Bearer " + TENANT_KEY, "the account's own key went upstream")
        meta = doc["_metadata"]
        self.assertEqual((meta["cost_incurred"], meta["byok"], meta["credits_remaining"]),
                         (0, True, 100))
        self.assertEqual(hdrs["x-imagegate-cost"], "0")
        # Another account's requests still use the operator's key, and pay.
        other_acct, other = self.tenant()
        self.fake.script([{}])
        status, _, doc = self.gen(other)
        self.assertEqual(self.fake.requests()[0]["headers"]["authorization"],
                         "Bearer sk-operator")
        self.assertEqual(doc["_metadata"]["byok"], False)
        self.assertGreater(doc["_metadata"]["cost_incurred"], 0)
        # Isolation: the other account sees none and cannot delete it.
        self.assertEqual(self.gw.json("GET", "/v1/byok/keys", key=other)[2]["data"], [])
        status, hdrs, doc = self.gw.json("DELETE", "/v1/byok/keys/openai", key=other)
        self.assertOpenAIError(status, hdrs, doc, 404, "byok_key_not_found", "provider")
        # Ciphertext at rest: no file of the data directory holds the key.
        raw = TENANT_KEY.encode()
        for path in glob.glob(os.path.join(self.gw.data_dir, "imagegate.db*")):
            with open(path, "rb") as f:
                self.assertNotIn(raw, f.read(), path)
        self.assertNotIn(TENANT_KEY, self.gw.log(), "never logged")
        # Deleted: the operator's key again, and the price.
        status, _, doc = self.gw.json("DELETE", "/v1/byok/keys/openai", key=key)
        self.assertEqual((status, doc["deleted"]), (200, True), doc)
        self.fake.script([{}])
        status, _, doc = self.gen(key)
        self.assertEqual(self.fake.requests()[0]["headers"]["authorization"],
                         "Bearer sk-operator")
        self.assertGreater(doc["_metadata"]["cost_incurred"], 0)

    def test_a_refused_own_key_is_a_502_naming_byok(self):
        acct, key = self.tenant()
        self.gw.json("POST", "/v1/byok/keys", {"provider": "openai", "api_key": "sk-revoked"},
                     key=key)
        self.fake.script([{"status": 401, "error": {"message": "Incorrect API key provided",
                                                    "type": "invalid_request_error",
                                                    "param": None, "code": "invalid_api_key"}}])
        status, hdrs, doc = self.gen(key)
        self.assertOpenAIError(status, hdrs, doc, 502, "byok_key_rejected")
        self.assertIn("BYOK", doc["error"]["message"])
        reqs = self.fake.requests()
        self.assertEqual([r["headers"]["authorization"] for r in reqs], ["Bearer sk-revoked"],
                         "no fallback to the operator's key")
        status, _, credits = self.gw.json("GET", "/v1/credits", key=key)
        self.assertEqual((credits["balance"], credits["open_holds"]), (100, 0))

    def test_refusals_and_the_ops_center_mirror(self):
        acct, key = self.tenant()
        for body, param in [({"provider": "local", "api_key": "x"}, "provider"),
                            ({"provider": "nope", "api_key": "x"}, "provider"),
                            ({"api_key": "x"}, "provider"),
                            ({"provider": "openai"}, "api_key"),
                            ({"provider": "openai", "api_key": ""}, "api_key"),
                            ({"provider": "openai", "api_key": "k" * 513}, "api_key"),
                            ({"provider": "openai", "api_key": 5}, "api_key")]:
            status, hdrs, doc = self.gw.json("POST", "/v1/byok/keys", body, key=key)
            self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", param)
        status, hdrs, doc = self.gw.json("POST", "/v1/byok/keys",
                                         {"provider": "openai", "api_key": "x", "extra": 1},
                                         key=key)
        self.assertOpenAIError(status, hdrs, doc, 400, "unknown_parameter", "extra")
        status, hdrs, doc = self.gw.json("GET", "/v1/byok/keys")
        self.assertOpenAIError(status, hdrs, doc, 401, "missing_api_key")
        self.assertEqual(self.gw.json("GET", "/v1/byok/keys", key=key)[2]["data"], [],
                         "nothing refused was stored")
        status, _, doc = self.gw.json("POST", "/api/v1/llm/byok/keys",
                                      {"provider": "fal", "api_key": "fal-abcd:1234"}, key=key)
        self.assertEqual(status, 201, doc)
        status, _, listed = self.gw.json("GET", "/api/v1/llm/byok/keys", key=key)
        self.assertEqual([x["provider"] for x in listed["data"]], ["fal"])
        status, hdrs, doc = self.gw.json("DELETE", "/api/v1/llm/byok/keys/openai", key=key)
        self.assertOpenAIError(status, hdrs, doc, 404, "byok_key_not_found", "provider",
                               detail=True)
        status, _, doc = self.gw.json("DELETE", "/api/v1/llm/byok/keys/fal", key=key)
        self.assertEqual(status, 200, doc)
        status, _, audit = self.gw.json("GET", "/admin/audit?account_id=" + acct,
                                        key=self.gw.admin_key)
        self.assertEqual([e["action"] for e in audit["data"]][:2], ["byok.delete", "byok.put"])
