"""Rate limits, budgets and the audit trail end to end: per-key limits
with tier defaults and PATCH overrides, 429 with Retry-After and the
x-ratelimit-* headers, exact under racing requests (60 a minute admits 60,
not 61); day and month budgets with the hold's rule (no overshoot) and
their 50/80/100% alerts; every admin action in GET /admin/audit."""
import os
import sqlite3
import threading

from harness import Gateway, GatewayTest
from test_providers import CONFIG, Fake, FakeTest


def race(n, fn):
    """Runs fn() in n threads released together; their results."""
    results, lock, start = [], threading.Lock(), threading.Barrier(n)

    def one():
        start.wait()
        r = fn()
        with lock:
            results.append(r)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


class Limits(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG + """
rate_limits:
  requests_per_minute: "free:5,managed:600"
  images_per_minute: "free:8,managed:600"
  concurrent: "free:3,managed:32"
""", env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def admin(self, method, path, body=None):
        return self.gw.json(method, path, body, key=self.gw.admin_key)

    def tenant(self, grant="1000", tier=None):
        body = {"name": "tenant", "grant": grant}
        if tier:
            body["tier"] = tier
        status, _, acct = self.admin("POST", "/admin/accounts", body)
        self.assertEqual(status, 201, acct)
        status, _, key = self.admin("POST", "/admin/keys", {"name": "app",
                                                            "account_id": acct["id"]})
        self.assertEqual(status, 201, key)
        return acct["id"], key

    def gen(self, key, **fields):
        fields.setdefault("prompt", "a limit")
        fields.setdefault("model", "dall-e-2")
        fields.setdefault("size", "1024x1024")
        return self.gw.json("POST", "/v1/images/generations", fields, key=key)

    def test_tier_defaults_headers_and_429(self):
        _, key = self.tenant(tier="free")
        seen = []
        for i in range(5):
            status, hdrs, doc = self.gen(key["key"])
            self.assertEqual(status, 200, doc)
            seen.append(hdrs)
        self.assertEqual(seen[0]["x-ratelimit-limit-requests"], "5")
        self.assertEqual(seen[0]["x-ratelimit-remaining-requests"], "4")
        self.assertEqual(seen[4]["x-ratelimit-remaining-requests"], "0")
        self.assertEqual(seen[0]["x-ratelimit-limit-images"], "8")
        self.assertEqual(seen[1]["x-ratelimit-remaining-images"], "6")
        self.assertRegex(seen[0]["x-ratelimit-reset-requests"], r"^[1-6]?[0-9]s$")
        status, hdrs, doc = self.gen(key["key"])
        self.assertOpenAIError(status, hdrs, doc, 429, "rate_limit_exceeded")
        self.assertIn("requests per minute", doc["error"]["message"])
        self.assertGreaterEqual(int(hdrs["retry-after"]), 1)
        self.assertLessEqual(int(hdrs["retry-after"]), 60)
        self.assertEqual(hdrs["x-ratelimit-remaining-requests"], "0",
                         "the headers come with the refusal too")
        # A refusal is not charged and holds nothing.
        status, _, credits = self.gw.json("GET", "/v1/credits", key=key["key"])
        self.assertEqual(credits["balance"], 1000 - 5 * 18 * 1.5)

    def test_refused_requests_carry_the_headers_and_count_nothing(self):
        _, key = self.tenant(tier="free")
        self.assertEqual(self.gen(key["key"])[1]["x-ratelimit-remaining-requests"], "4")
        for body in ({"prompt": "x", "n": 99}, {"prompt": ""}, {"prompt": "x", "size": "3x3"},
                     {"prompt": "x", "colour": "red"}):
            status, hdrs, doc = self.gen(key["key"], **body)
            self.assertOpenAIError(status, hdrs, doc, 400, None, doc["error"]["param"])
            self.assertEqual((hdrs["x-ratelimit-limit-requests"],
                              hdrs["x-ratelimit-remaining-requests"],
                              hdrs["x-ratelimit-remaining-images"]), ("5", "4", "7"), body)
        status, hdrs, doc = self.gw.request("POST", "/v1/images/generations", b"{not json",
                                            headers={"Content-Type": "application/json",
                                                     "Authorization": "Bearer " + key["key"]})
        self.assertEqual(status, 400)
        self.assertEqual(hdrs["x-ratelimit-remaining-requests"], "4")
        status, hdrs, doc = self.gen(key["key"])
        self.assertEqual((status, hdrs["x-ratelimit-remaining-requests"]), (200, "3"),
                         "none of the refused ones was counted")

    def test_images_per_minute_counts_n(self):
        _, key = self.tenant(tier="free")
        status, hdrs, doc = self.gen(key["key"], n=6)
        self.assertEqual(status, 200, doc)
        self.assertEqual(hdrs["x-ratelimit-remaining-images"], "2")
        status, hdrs, doc = self.gen(key["key"], n=3)
        self.assertOpenAIError(status, hdrs, doc, 429, "rate_limit_exceeded")
        self.assertIn("images per minute", doc["error"]["message"])
        self.assertEqual(hdrs["x-ratelimit-remaining-requests"], "4",
                         "a refused request gives its request back")
        status, hdrs, doc = self.gen(key["key"], n=2)
        self.assertEqual(status, 200, doc)

    def test_a_keys_own_limits_win_and_null_returns_to_the_tier(self):
        _, key = self.tenant(tier="free")
        status, _, k = self.admin("PATCH", "/admin/keys/" + key["id"],
                                  {"limits": {"requests_per_minute": 2}})
        self.assertEqual(status, 200, k)
        self.assertEqual(k["limits"], {"requests_per_minute": 2, "images_per_minute": None,
                                       "concurrent": None})
        self.assertEqual(self.gen(key["key"])[1]["x-ratelimit-limit-requests"], "2")
        self.assertEqual(self.gen(key["key"])[0], 200)
        self.assertEqual(self.gen(key["key"])[0], 429)
        status, _, k = self.admin("PATCH", "/admin/keys/" + key["id"],
                                  {"limits": {"requests_per_minute": None}})
        self.assertIsNone(k["limits"]["requests_per_minute"])
        status, hdrs, doc = self.gen(key["key"])
        self.assertEqual(status, 200, doc)
        self.assertEqual(hdrs["x-ratelimit-limit-requests"], "5")
        # 0 is no limit: the headers of that count go away.
        self.admin("PATCH", "/admin/keys/" + key["id"],
                   {"limits": {"requests_per_minute": 0, "images_per_minute": 0}})
        status, hdrs, doc = self.gen(key["key"])
        self.assertEqual(status, 200, doc)
        self.assertNotIn("x-ratelimit-limit-requests", hdrs)

    def test_a_key_tier_of_its_own(self):
        acct, key = self.tenant(tier="managed")
        status, _, k = self.admin("PATCH", "/admin/keys/" + key["id"], {"tier": "free"})
        self.assertEqual((status, k["tier"]), (200, "free"), k)
        status, hdrs, doc = self.gen(key["key"])
        self.assertEqual(hdrs["x-ratelimit-limit-requests"], "5", "the free tier's limits")
        self.assertEqual(doc["_metadata"]["tier"], "free")
        self.assertEqual(doc["_metadata"]["cost_incurred"], 27, "and the free tier's markup")
        status, _, k = self.admin("PATCH", "/admin/keys/" + key["id"], {"tier": None})
        self.assertIsNone(k["tier"])
        status, hdrs, doc = self.gen(key["key"])
        self.assertEqual(doc["_metadata"]["tier"], "managed")

    def test_patch_refusals(self):
        _, key = self.tenant()
        path = "/admin/keys/" + key["id"]
        for body, param in [({"tier": "platinum"}, "tier"),
                            ({"tier": 5}, "tier"),
                            ({"limits": {"requests_per_minute": -1}}, "limits"),
                            ({"limits": {"requests_per_minute": 1.5}}, "limits"),
                            ({"limits": {"rpm": 5}}, "limits"),
                            ({"limits": 5}, "limits"),
                            ({"budgets": {"daily": -1}}, "budgets"),
                            ({"budgets": {"daily": "1.0001"}}, "budgets"),
                            ({"budgets": {"weekly": 5}}, "budgets"),
                            ({"budgets": []}, "budgets"),
                            ({}, None)]:
            status, hdrs, doc = self.admin("PATCH", path, body)
            self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", param)
        status, hdrs, doc = self.admin("PATCH", path, {"name": "x"})
        self.assertOpenAIError(status, hdrs, doc, 400, "unknown_parameter", "name")
        status, hdrs, doc = self.admin("PATCH", "/admin/keys/key_nope", {"tier": "free"})
        self.assertOpenAIError(status, hdrs, doc, 404, "key_not_found", "id")
        status, hdrs, doc = self.gw.json("PATCH", path, {"tier": "free"}, key=key["key"])
        self.assertOpenAIError(status, hdrs, doc, 403, "insufficient_scope")
        status, _, listed = self.admin("GET", "/admin/keys")
        mine = [k for k in listed["data"] if k["id"] == key["id"]][0]
        self.assertIsNone(mine["tier"], "nothing refused was applied")
        self.assertEqual(mine["budgets"], {"daily": None, "monthly": None})

    def test_61_racing_requests_against_60_a_minute(self):
        _, key = self.tenant(grant="100000")
        self.admin("PATCH", "/admin/keys/" + key["id"],
                   {"limits": {"requests_per_minute": 60, "images_per_minute": 0,
                               "concurrent": 0}})
        self.fake.script([{"delay": 0.3}] * 61)
        codes = [r[0] for r in race(61, lambda: self.gen(key["key"]))]
        self.assertEqual(codes.count(200), 60, sorted(codes))
        self.assertEqual(codes.count(429), 1, sorted(codes))
        self.assertGreater(self.fake.call("/__stats")["max_inflight"], 1)

    def test_concurrent_generations(self):
        _, key = self.tenant(grant="100000")
        self.admin("PATCH", "/admin/keys/" + key["id"],
                   {"limits": {"requests_per_minute": 0, "images_per_minute": 0,
                               "concurrent": 3}})
        self.fake.script([{"delay": 0.5}] * 10)
        results = race(10, lambda: self.gen(key["key"]))
        codes = [r[0] for r in results]
        self.assertEqual(codes.count(200), 3, sorted(codes))
        self.assertEqual(codes.count(429), 7, sorted(codes))
        refused = [r for r in results if r[0] == 429][0]
        self.assertIn("concurrent generations", refused[2]["error"]["message"])
        # Slots come back when generations end.
        self.assertEqual(self.gen(key["key"])[0], 200)


class Budgets(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError

    def test_200_racing_requests_against_a_budget_of_37_images(self):
        fake = Fake()
        try:
            with Gateway(config=CONFIG, env={"OPENAI_API_KEY": "sk-test",
                                             "OPENAI_BASE_URL": fake.base + "/v1"}) as gw:
                admin = gw.admin_key
                status, _, a = gw.json("POST", "/admin/accounts", {"grant": "100000"}, key=admin)
                status, _, k = gw.json("POST", "/admin/keys",
                                       {"name": "racer", "account_id": a["id"]}, key=admin)
                # dall-e-2 1024² is 18 credits, +20% for managed: 21.6 each.
                status, _, patched = gw.json(
                    "PATCH", "/admin/keys/" + k["id"],
                    {"limits": {"requests_per_minute": 0, "images_per_minute": 0,
                                "concurrent": 0},
                     "budgets": {"daily": "799.2"}}, key=admin)
                self.assertEqual(status, 200, patched)
                self.assertEqual(patched["budgets"], {"daily": 799.2, "monthly": None})
                fake.script([{"delay": 0.5}] * 200)
                results = race(200, lambda: gw.json(
                    "POST", "/v1/images/generations",
                    {"prompt": "race", "model": "dall-e-2", "size": "1024x1024"},
                    key=k["key"]))
                codes = [r[0] for r in results]
                self.assertEqual(codes.count(200), 37, sorted(codes))
                self.assertEqual(codes.count(402), 163, sorted(codes))
                refused = [r for r in results if r[0] == 402][0]
                self.assertOpenAIError(*refused, 402, "budget_exceeded")
                self.assertIn("key's daily budget", refused[2]["error"]["message"])
                self.assertGreater(fake.call("/__stats")["max_inflight"], 1)
                status, _, credits = gw.json("GET", "/v1/credits", key=k["key"])
                self.assertEqual(credits["balance"], 100000 - 799.2)
                day = [b for b in credits["budgets"] if b["period"] == "day"]
                self.assertEqual(len(day), 1, credits)
                self.assertEqual((day[0]["scope"], day[0]["limit"], day[0]["spent"],
                                  day[0]["remaining"]), ("key", 799.2, 799.2, 0))
                self.assertEqual(credits["open_holds"], 0)
                alerts = sorted(x["threshold"] for x in credits["alerts"])
                self.assertEqual(alerts, [50, 80, 100], credits["alerts"])
                status, _, usage = gw.json("GET", "/v1/usage", key=k["key"])
                self.assertEqual(sorted(x["threshold"] for x in usage["alerts"]), [50, 80, 100])
                db = sqlite3.connect(os.path.join(gw.data_dir, "imagegate.db"))
                try:
                    spent = db.execute("SELECT sum(spent) FROM budget_spend").fetchone()[0]
                    self.assertEqual(spent, 799200, "the budget's sum is what was charged")
                finally:
                    db.close()
        finally:
            fake.stop()

    def test_account_budget_counts_every_key_and_failures_give_it_back(self):
        fake = Fake()
        try:
            with Gateway(config=CONFIG, env={"OPENAI_API_KEY": "sk-test",
                                             "OPENAI_BASE_URL": fake.base + "/v1"}) as gw:
                admin = gw.admin_key
                status, _, a = gw.json("POST", "/admin/accounts", {"grant": "1000"}, key=admin)
                status, _, acct = gw.json("PATCH", "/admin/accounts/" + a["id"],
                                          {"budgets": {"monthly": "50"}}, key=admin)
                self.assertEqual(status, 200, acct)
                self.assertEqual(acct["budgets"], {"daily": None, "monthly": 50})
                keys = [gw.json("POST", "/admin/keys", {"name": "k%d" % i,
                                                         "account_id": a["id"]},
                                key=admin)[2]["key"] for i in range(2)]

                def gen(key):
                    return gw.json("POST", "/v1/images/generations",
                                   {"prompt": "b", "model": "dall-e-2", "size": "1024x1024"},
                                   key=key)
                fake.script([{"status": 500}] * 3)
                status, _, doc = gen(keys[0])
                self.assertNotEqual(status, 200, doc)
                self.assertEqual(gen(keys[0])[0], 200, "a failure gave its hold back")
                self.assertEqual(gen(keys[1])[0], 200, "the other key spends the same budget")
                status, hdrs, doc = gen(keys[0])
                self.assertOpenAIError(status, hdrs, doc, 402, "budget_exceeded")
                self.assertIn("account's monthly budget", doc["error"]["message"])
                status, _, credits = gw.json("GET", "/v1/credits", key=keys[1])
                month = [b for b in credits["budgets"] if b["period"] == "month"][0]
                self.assertEqual((month["scope"], month["spent"]), ("account", 43.2))
                self.assertEqual(sorted(x["threshold"] for x in credits["alerts"]), [50, 80])
                # Lifting the budget applies to the next request.
                gw.json("PATCH", "/admin/accounts/" + a["id"], {"budgets": {"monthly": None}},
                        key=admin)
                self.assertEqual(gen(keys[0])[0], 200)
        finally:
            fake.stop()


class Audit(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError

    def test_admin_actions_are_recorded_append_only(self):
        with Gateway() as gw:
            admin = gw.admin_key
            status, _, a = gw.json("POST", "/admin/accounts", {"name": "t"}, key=admin)
            gw.json("POST", "/admin/accounts/%s/credits" % a["id"],
                    {"amount": 5, "reason": "welcome"}, key=admin)
            status, _, k = gw.json("POST", "/admin/keys", {"name": "x", "account_id": a["id"]},
                                   key=admin)
            gw.json("PATCH", "/admin/keys/" + k["id"], {"tier": "vip"}, key=admin)
            gw.json("DELETE", "/admin/keys/" + k["id"], key=admin)
            status, _, doc = gw.json("GET", "/admin/audit?account_id=" + a["id"], key=admin)
            self.assertEqual(status, 200, doc)
            actions = [e["action"] for e in doc["data"]]
            self.assertEqual(actions, ["key.update", "key.create", "account.credit",
                                       "account.create"], doc)
            credit = doc["data"][2]
            self.assertEqual(credit["detail"], {"amount": 5, "reason": "welcome"})
            self.assertTrue(credit["actor"].startswith("key_"))
            status, _, doc = gw.json("GET", "/admin/audit?action=key.revoke", key=admin)
            self.assertEqual([e["target"] for e in doc["data"]], [k["id"]])
            status, _, page = gw.json("GET", "/admin/audit?limit=2", key=admin)
            self.assertTrue(page["has_more"])
            status, _, rest = gw.json("GET", "/admin/audit?limit=2&cursor=" +
                                      page["next_cursor"], key=admin)
            self.assertLess(rest["data"][0]["seq"], page["data"][-1]["seq"])
            for q, param in [("limit=0", "limit"), ("limit=x", "limit"), ("cursor=-3", "cursor"),
                             ("limit=1&limit=2", "limit")]:
                status, hdrs, doc = gw.json("GET", "/admin/audit?" + q, key=admin)
                self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", param)
            status, hdrs, doc = gw.json("GET", "/admin/audit", key=k["key"])
            self.assertOpenAIError(status, hdrs, doc, 401, "invalid_api_key")
            db = sqlite3.connect(os.path.join(gw.data_dir, "imagegate.db"))
            try:
                with self.assertRaises(sqlite3.DatabaseError):
                    db.execute("DELETE FROM audit")
                with self.assertRaises(sqlite3.DatabaseError):
                    db.execute("UPDATE audit SET action = 'x'")
            finally:
                db.close()
