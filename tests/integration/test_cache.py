"""The exact cache and single flights: a seeded request (or one sent with
x-imagegate-cache: use) is served from the images an identical one
stored, without a provider call and at no cost; refresh asks again; skip
never uses it; errors are never cached; identical requests in flight at
once make one provider call; accounts do not share unless the operator
says so."""
import base64
import json
import os
import sqlite3
import threading
import unittest

from harness import Gateway, GatewayTest
from test_providers import CONFIG, Fake, FakeTest

MODELS = """
models:
  - name: house
    price: 2
    deployments:
      - { provider: a1111, model: sd, api_base: "%s" }
"""


class Cache(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError
    extra = ""

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG + MODELS % cls.fake.base + cls.extra)

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

    def gen(self, key, headers=None, **fields):
        fields.setdefault("prompt", "a quiet harbour")
        fields.setdefault("model", "house")
        fields.setdefault("response_format", "b64_json")
        fields.setdefault("size", "512x512")
        return self.gw.json("POST", "/v1/images/generations", fields, key=key, headers=headers)

    def calls(self):
        return len([r for r in self.fake.requests() if r["method"] == "POST"])

    def balance(self, key):
        return self.gw.json("GET", "/v1/credits", key=key)[2]["balance"]

    def test_a_seeded_request_is_served_from_the_cache(self):
        acct, key = self.account()
        status, hdrs, first = self.gen(key, seed=42)
        self.assertEqual(status, 200, first)
        self.assertEqual(first["_metadata"]["cache"], "miss")
        self.assertEqual(self.calls(), 1)
        self.assertEqual(self.balance(key), 98)
        status, hdrs, again = self.gen(key, seed=42)
        self.assertEqual(status, 200, again)
        self.assertEqual(again["_metadata"]["cache"], "hit")
        self.assertEqual(again["_metadata"]["cached_generation_id"],
                         first["_metadata"]["generation_id"])
        self.assertEqual(again["_metadata"]["generation_id"],
                         first["_metadata"]["generation_id"],
                         "a free hit names the generation that made its images")
        self.assertEqual(base64.b64decode(again["data"][0]["b64_json"]),
                         base64.b64decode(first["data"][0]["b64_json"]))
        self.assertEqual(self.calls(), 1, "no provider call")
        self.assertEqual(hdrs["x-imagegate-cost"], "0")
        self.assertEqual(self.balance(key), 98, "a hit costs nothing by default")
        # As a link too; a free hit is not a generation of its own (the
        # history has the one that made the images), and the metrics count it.
        status, _, linked = self.gen(key, seed=42, response_format="url")
        self.assertEqual(linked["_metadata"]["cache"], "hit")
        self.assertTrue(linked["data"][0]["url"].startswith("http"))
        status, _, hist = self.gw.json("GET", "/v1/generations?limit=10", key=key)
        self.assertEqual([g["cost"] for g in hist["data"]], [2])
        metrics = self.gw.request("GET", "/metrics")[2].decode()
        hits = [l for l in metrics.splitlines() if l.startswith("imagegate_cache_hits_total ")]
        self.assertGreaterEqual(int(hits[0].split()[1]), 2)
        # Another seed, prompt or size is another request.
        for change in ({"seed": 43}, {"prompt": "a loud harbour"}, {"size": "512x768"}):
            status, _, other = self.gen(key, **dict({"seed": 42}, **change))
            self.assertEqual(other["_metadata"]["cache"], "miss", change)
        self.assertEqual(self.calls(), 4)

    def test_the_client_says_use_skip_or_refresh(self):
        acct, key = self.account()
        status, _, doc = self.gen(key, prompt="unseeded")
        self.assertNotIn("cache", doc["_metadata"], "without a seed: not cached")
        status, _, doc = self.gen(key, prompt="unseeded", headers={"x-imagegate-cache": "use"})
        self.assertEqual(doc["_metadata"]["cache"], "miss")
        status, _, doc = self.gen(key, prompt="unseeded", headers={"x-imagegate-cache": "USE"})
        self.assertEqual(doc["_metadata"]["cache"], "hit")
        status, _, doc = self.gen(key, prompt="unseeded", headers={"x-imagegate-cache": "skip"})
        self.assertNotIn("cache", doc["_metadata"])
        before = self.calls()
        status, _, doc = self.gen(key, prompt="unseeded",
                                  headers={"x-imagegate-cache": "refresh"})
        self.assertEqual(doc["_metadata"]["cache"], "miss")
        self.assertEqual(self.calls(), before + 1, "refresh asks the provider again")
        fresh = doc["_metadata"]["generation_id"]
        status, _, doc = self.gen(key, prompt="unseeded", headers={"x-imagegate-cache": "use"})
        self.assertEqual(doc["_metadata"]["cached_generation_id"], fresh, "and replaces the entry")
        status, hdrs, err = self.gen(key, headers={"x-imagegate-cache": "always"})
        self.assertOpenAIError(status, hdrs, err, 400, code="invalid_value",
                               param="x-imagegate-cache")

    def test_errors_are_never_cached(self):
        acct, key = self.account()
        self.fake.script([{"status": 400, "error": "bad prompt"}])
        status, _, err = self.gen(key, seed=7, prompt="fails once")
        self.assertEqual(status, 400, err)
        status, _, doc = self.gen(key, seed=7, prompt="fails once")
        self.assertEqual((status, doc["_metadata"]["cache"]), (200, "miss"))
        self.assertEqual(self.calls(), 2)

    def test_100_identical_requests_at_once_make_one_call(self):
        acct, key = self.account(1000)
        self.fake.script([{"delay": 1}])
        results = []
        lock = threading.Lock()

        def one():
            r = self.gen(key, seed=99, prompt="a crowd")
            with lock:
                results.append(r)
        threads = [threading.Thread(target=one) for _ in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r[0] for r in results], [200] * 100, [r[2] for r in results
                                                                if r[0] != 200][:2])
        self.assertEqual(self.calls(), 1, "one provider call")
        outcomes = sorted(r[2]["_metadata"]["cache"] for r in results)
        self.assertEqual(outcomes.count("miss"), 1)
        self.assertEqual(outcomes.count("coalesced") + outcomes.count("hit"), 99)
        self.assertGreater(outcomes.count("coalesced"), 50, "most waited for the one in flight")
        images = {r[2]["data"][0]["b64_json"] for r in results}
        self.assertEqual(len(images), 1)
        self.assertEqual(self.balance(key), 998, "one charge")

    def test_accounts_do_not_share(self):
        _, a = self.account()
        _, b = self.account()
        self.gen(a, seed=5, prompt="mine")
        status, _, doc = self.gen(b, seed=5, prompt="mine")
        self.assertEqual(doc["_metadata"]["cache"], "miss")
        self.assertEqual(self.calls(), 2)


class SharedCache(Cache):
    """cache.shared: true and a hit at half the price."""
    extra = """
cache:
  shared: true
  hit_cost_percent: 50
"""

    def test_accounts_do_not_share(self):
        _, a = self.account()
        _, b = self.account()
        self.gen(a, seed=5, prompt="ours")
        status, hdrs, doc = self.gen(b, seed=5, prompt="ours")
        self.assertEqual(doc["_metadata"]["cache"], "hit", "shared across accounts")
        self.assertEqual(self.calls(), 1)
        self.assertEqual(hdrs["x-imagegate-cost"], "1", "half of the estimate")
        self.assertEqual(self.balance(b), 99)
        # A hit that costs something is a generation of its own, charged.
        status, _, hist = self.gw.json("GET", "/v1/generations", key=b)
        self.assertEqual([(g["cost"], g["status"]) for g in hist["data"]], [(1, "succeeded")])
        self.assertNotEqual(doc["_metadata"]["generation_id"],
                            doc["_metadata"]["cached_generation_id"])

    test_a_seeded_request_is_served_from_the_cache = None
    test_100_identical_requests_at_once_make_one_call = None


if __name__ == "__main__":
    unittest.main()
