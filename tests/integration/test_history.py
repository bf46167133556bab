"""An account's history: GET /v1/generations (newest first, pages with a
cursor, filters) and GET /v1/generations/{id}, with fresh signed links;
every account sees its own only."""
import time
import unittest
import urllib.parse

from harness import Gateway, GatewayTest
from test_providers import CONFIG, Fake, FakeTest


class History(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG, env={"OPENAI_API_KEY": "sk-test",
                                             "OPENAI_BASE_URL": cls.fake.base + "/v1"})
        admin = cls.gw.admin_key
        cls.a = cls.gw.json("POST", "/admin/keys", {"name": "a"}, key=admin)[2]
        cls.b = cls.gw.json("POST", "/admin/keys", {"name": "b"}, key=admin)[2]
        cls.ids = []
        for i, prompt in enumerate(("first", "second", "third")):
            status, _, doc = cls.gw.json("POST", "/v1/images/generations",
                                         {"prompt": prompt, "size": "64x64", "seed": i,
                                          "metadata": {"n": str(i)}}, key=cls.a["key"])
            assert status == 200, doc
            cls.ids.append(doc["_metadata"]["generation_id"])
            time.sleep(0.002)  # ids are time-ordered to the millisecond
        cls.gw.json("POST", "/v1/images/generations", {"prompt": "theirs", "size": "64x64"},
                    key=cls.b["key"])

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def get(self, path, key=None):
        return self.gw.json("GET", path, key=key or self.a["key"])

    def test_newest_first_with_fresh_links(self):
        status, _, doc = self.get("/v1/generations")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["object"], "list")
        self.assertEqual([x["id"] for x in doc["data"]], self.ids[::-1])
        self.assertEqual(doc["has_more"], False)
        self.assertIsNone(doc["next_cursor"])
        third = doc["data"][0]
        self.assertEqual((third["prompt"], third["model"], third["provider"], third["size"],
                          third["status"], third["cost"], third["metadata"], third["error"]),
                         ("third", "local/procedural", "local", "64x64", "succeeded", 0,
                          {"n": "2"}, None))
        self.assertGreater(third["processing_time"], 0)
        [image] = third["images"]
        self.assertEqual(image["seed"], 2)
        u = urllib.parse.urlsplit(image["url"])
        status, hdrs, data = self.gw.request("GET", u.path + "?" + u.query)
        self.assertEqual(status, 200)
        self.assertTrue(data.startswith(b"\x89PNG"))

    def test_pages_follow_the_cursor(self):
        status, _, p1 = self.get("/v1/generations?limit=2")
        self.assertEqual([x["id"] for x in p1["data"]], self.ids[:0:-1])
        self.assertEqual((p1["has_more"], p1["next_cursor"]), (True, self.ids[1]))
        status, _, p2 = self.get("/v1/generations?limit=2&cursor=" + p1["next_cursor"])
        self.assertEqual([x["id"] for x in p2["data"]], self.ids[:1])
        self.assertEqual((p2["has_more"], p2["next_cursor"]), (False, None))

    def test_filters(self):
        for query, want in (("model=local", 3), ("model=local%2Fprocedural", 3),
                            ("model=dall-e-2", 0), ("status=succeeded", 3),
                            ("status=failed", 0)):
            with self.subTest(query=query):
                status, _, doc = self.get("/v1/generations?" + query)
                self.assertEqual((status, len(doc["data"])), (200, want), doc)
        for query, param in (("limit=0", "limit"), ("limit=101", "limit"),
                             ("limit=x", "limit"), ("limit=1&limit=2", "limit"),
                             ("status=done", "status"), ("cursor=%zz", "cursor")):
            with self.subTest(query=query):
                status, hdrs, doc = self.get("/v1/generations?" + query)
                self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", param)

    def test_one_generation_and_isolation(self):
        status, _, doc = self.get("/v1/generations/" + self.ids[0])
        self.assertEqual((status, doc["id"], doc["prompt"]), (200, self.ids[0], "first"))
        # Another account's generation is not found, exactly like an unknown one.
        for key, gid in ((self.b["key"], self.ids[0]), (self.a["key"], "gen_nope")):
            status, hdrs, doc = self.get("/v1/generations/" + gid, key=key)
            self.assertOpenAIError(status, hdrs, doc, 404, "generation_not_found", "id")
        status, _, doc = self.get("/v1/generations", key=self.b["key"])
        self.assertEqual([x["prompt"] for x in doc["data"]], ["theirs"])
        status, hdrs, doc = self.gw.json("GET", "/v1/generations")
        self.assertOpenAIError(status, hdrs, doc, 401, "missing_api_key", None)

    def test_usage_totals_and_groups(self):
        import datetime
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        status, _, u = self.get("/v1/usage")
        self.assertEqual(status, 200, u)
        self.assertEqual((u["object"], u["end_date"], u["group_by"], u["data"]),
                         ("usage", today, None, []))
        t = u["totals"]
        self.assertEqual((t["generations"], t["images"], t["failed"], t["cost"],
                          t["error_rate"], t["cache_hit_rate"]), (3, 3, 0, 0, 0, 0))
        self.assertEqual((u["total_generations"], u["total_cost"]), (3, 0))
        self.assertGreater(t["p95_latency"], 0)
        self.assertGreaterEqual(t["p95_latency"], t["p50_latency"])
        for by, group in (("model", "local/procedural"), ("day", today),
                          ("key", self.a["id"])):
            with self.subTest(by=by):
                status, _, u = self.get("/v1/usage?group_by=" + by)
                self.assertEqual(u["group_by"], by)
                self.assertEqual([(g["group"], g["generations"]) for g in u["data"]],
                                 [(group, 3)])
        # Another account's usage is its own; a range without them is empty.
        self.assertEqual(self.get("/v1/usage", key=self.b["key"])[2]["totals"]["generations"], 1)
        status, _, u = self.get("/v1/usage?start_date=2020-01-01&end_date=2020-01-31")
        self.assertEqual((u["start_date"], u["end_date"], u["totals"]["generations"]),
                         ("2020-01-01", "2020-01-31", 0))
        for query, param in (("start_date=2026-02-30", "start_date"),
                             ("start_date=yesterday", "start_date"),
                             ("start_date=2026-03-02&end_date=2026-03-01", "end_date"),
                             ("group_by=colour", "group_by"),
                             ("group_by=day&group_by=key", "group_by")):
            with self.subTest(query=query):
                status, hdrs, doc = self.get("/v1/usage?" + query)
                self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", param)

    def test_admin_usage_sees_every_account_or_one(self):
        admin = self.gw.admin_key
        status, _, u = self.get("/admin/usage?group_by=account", key=admin)
        self.assertEqual(status, 200, u)
        self.assertIsNone(u["account_id"])
        groups = {g["group"]: g["generations"] for g in u["data"]}
        self.assertEqual(groups.get(self.a["account_id"]), 3, groups)
        self.assertEqual(groups.get(self.b["account_id"]), 1, groups)
        self.assertGreaterEqual(u["totals"]["generations"], 4)
        status, _, u = self.get("/admin/usage?account_id=" + self.b["account_id"], key=admin)
        self.assertEqual((u["account_id"], u["totals"]["generations"]),
                         (self.b["account_id"], 1))
        status, hdrs, doc = self.get("/v1/usage?group_by=account")
        self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", "group_by")
        for query, param in (("account_id=a&account_id=b", "account_id"),
                             ("group_by=tier", "group_by"),
                             ("end_date=2026-02-29", "end_date")):
            with self.subTest(query=query):
                status, hdrs, doc = self.get("/admin/usage?" + query, key=admin)
                self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", param)

    def test_failures_are_in_the_history(self):
        status, _, acct = self.gw.json("POST", "/admin/accounts", {"grant": 100},
                                       key=self.gw.admin_key)
        _, _, k = self.gw.json("POST", "/admin/keys", {"name": "c", "account_id": acct["id"]},
                               key=self.gw.admin_key)
        self.fake.script([{"status": 500}] * 3)
        status, _, doc = self.gw.json("POST", "/v1/images/generations",
                                      {"prompt": "doomed", "model": "dall-e-2"}, key=k["key"])
        self.assertEqual(status, 502, doc)
        status, _, doc = self.get("/v1/generations?status=failed", key=k["key"])
        [item] = doc["data"]
        self.assertEqual((item["prompt"], item["status"], item["cost"], item["images"]),
                         ("doomed", "failed", 0, []))
        self.assertIn("planned failure", item["error"])
        self.assertEqual(item["model"], "openai/dall-e-2")


if __name__ == "__main__":
    unittest.main()
