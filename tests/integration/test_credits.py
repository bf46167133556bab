"""Accounts and exact credits end to end: keys belong to accounts, prices
with tier markups, a hold before dispatch and its settlement after, 402
with the balance and the estimate, holds released on every failure and
after kill -9, and no overshoot when 200 requests race for 37 images."""
import json
import os
import signal
import sqlite3
import threading
import unittest

from harness import Gateway, GatewayTest, wait_for
from test_providers import CONFIG, Fake, FakeTest


def ledger(gw, account_id):
    """(balance, sum of the ledger, kinds in order) read from the file."""
    db = sqlite3.connect(os.path.join(gw.data_dir, "imagegate.db"))
    try:
        bal = db.execute("SELECT balance FROM accounts WHERE id = ?", (account_id,)).fetchone()[0]
        total = db.execute("SELECT coalesce(sum(amount), 0) FROM ledger WHERE account_id = ?",
                           (account_id,)).fetchone()[0]
        kinds = [r[0] for r in db.execute(
            "SELECT kind FROM ledger WHERE account_id = ? ORDER BY seq", (account_id,))]
        return bal, total, kinds
    finally:
        db.close()


class Credits(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG + """
models:
  - name: unpriced
    deployments:
      - { provider: openai, model: sd-local, api_base: "%s/v1" }
  - name: house
    price: 2.5
    deployments:
      - { provider: openai, model: sd-local, api_base: "%s/v1" }
""" % (cls.fake.base, cls.fake.base), env={"OPENAI_API_KEY": "sk-test",
                                           "OPENAI_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def admin(self, method, path, body=None):
        return self.gw.json(method, path, body, key=self.gw.admin_key)

    def account(self, grant, tier=None):
        """A new account with grant credits and a generate key of its own."""
        body = {"name": "tenant", "grant": grant}
        if tier:
            body["tier"] = tier
        status, _, acct = self.admin("POST", "/admin/accounts", body)
        self.assertEqual(status, 201, acct)
        status, _, key = self.admin("POST", "/admin/keys",
                                    {"name": "app", "account_id": acct["id"]})
        self.assertEqual(status, 201, key)
        self.assertEqual(key["account_id"], acct["id"])
        return acct["id"], key["key"]

    def gen(self, key, **fields):
        fields.setdefault("prompt", "a ledger")
        fields.setdefault("response_format", "b64_json")
        return self.gw.json("POST", "/v1/images/generations", fields, key=key)

    def test_keys_belong_to_accounts(self):
        status, _, k = self.admin("POST", "/admin/keys", {"name": "solo"})
        self.assertEqual(status, 201, k)
        self.assertTrue(k["account_id"].startswith("acct_"), "a key without one gets an account")
        status, _, k2 = self.admin("POST", "/admin/keys", {"name": "ops", "scopes": ["admin"]})
        self.assertEqual(k2["account_id"], "acct_operator", "admin keys are the operator's")
        status, hdrs, doc = self.admin("POST", "/admin/keys",
                                       {"name": "x", "account_id": "acct_nobody"})
        self.assertOpenAIError(status, hdrs, doc, 404, "account_not_found", "account_id")
        status, hdrs, doc = self.admin("POST", "/admin/keys", {"name": "x", "account_id": 5})
        self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", "account_id")
        listed = {x["id"]: x for x in self.admin("GET", "/admin/keys")[2]["data"]}
        self.assertEqual(listed[k["id"]]["account_id"], k["account_id"])
        # The new account starts with credits.initial_grant (0).
        status, _, c = self.gw.json("GET", "/v1/credits", key=k["key"])
        self.assertEqual(status, 200, c)
        self.assertEqual((c["account_id"], c["balance"], c["tier"], c["markup_percent"]),
                         (k["account_id"], 0, "managed", 20))

    def test_accounts_and_grants(self):
        status, _, a = self.admin("POST", "/admin/accounts", {"name": "acme", "grant": "100"})
        self.assertEqual(status, 201, a)
        self.assertEqual((a["object"], a["name"], a["tier"], a["balance"], a["metered"]),
                         ("account", "acme", "managed", 100, True))
        status, _, c = self.admin("POST", "/admin/accounts/%s/credits" % a["id"],
                                  {"amount": 50.5, "reason": "top-up"})
        self.assertEqual((status, c["balance"]), (200, 150.5), c)
        status, _, c = self.admin("POST", "/admin/accounts/%s/credits" % a["id"],
                                  {"amount": "-0.125", "reason": "correction"})
        self.assertEqual((status, c["balance"]), (200, 150.375), c)
        status, hdrs, doc = self.admin("POST", "/admin/accounts/%s/credits" % a["id"],
                                       {"amount": -1000})
        self.assertOpenAIError(status, hdrs, doc, 409, "insufficient_credits", "amount")
        for body, param in (({"amount": 0}, "amount"), ({"amount": "1.2345"}, "amount"),
                            ({"amount": "ten"}, "amount"), ({}, "amount"),
                            ({"amount": 1, "reason": 5}, "reason")):
            with self.subTest(body=body):
                status, hdrs, doc = self.admin("POST", "/admin/accounts/%s/credits" % a["id"],
                                               body)
                self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", param)
        status, hdrs, doc = self.admin("POST", "/admin/accounts/acct_nobody/credits",
                                       {"amount": 1})
        self.assertOpenAIError(status, hdrs, doc, 404, "account_not_found", "id")
        status, hdrs, doc = self.admin("POST", "/admin/accounts", {"tier": "platinum"})
        self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", "tier")
        status, hdrs, doc = self.admin("POST", "/admin/accounts", {"grant": -5})
        self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", "grant")
        status, hdrs, doc = self.admin("POST", "/admin/accounts", {"colour": "red"})
        self.assertOpenAIError(status, hdrs, doc, 400, "unknown_parameter", "colour")
        ids = [x["id"] for x in self.admin("GET", "/admin/accounts")[2]["data"]]
        self.assertIn(a["id"], ids)
        self.assertIn("acct_operator", ids)
        bal, total, kinds = ledger(self.gw, a["id"])
        self.assertEqual((bal, total, kinds), (150375, 150375, ["grant", "grant", "adjust"]))
        # A generate key cannot reach the admin routes.
        _, key = self.account(1)
        status, hdrs, doc = self.gw.json("GET", "/admin/accounts", key=key)
        self.assertOpenAIError(status, hdrs, doc, 403, "insufficient_scope", None)

    def test_charged_what_was_delivered_with_the_markup(self):
        account, key = self.account(100)
        self.fake.script([])
        # dall-e-3 standard 1024x1024: 40 credits, +20% for the managed tier.
        status, hdrs, doc = self.gen(key, model="dall-e-3")
        self.assertEqual(status, 200, doc)
        meta = doc["_metadata"]
        self.assertEqual((meta["cost_incurred"], meta["credits_remaining"], meta["tier"]),
                         (48, 52, "managed"))
        self.assertEqual((hdrs["x-imagegate-cost"], hdrs["x-imagegate-credits-remaining"]),
                         ("48", "52"))
        self.assertEqual(self.gen(key, model="dall-e-3")[2]["_metadata"]["credits_remaining"], 4)
        status, hdrs, doc = self.gen(key, model="dall-e-3")
        self.assertOpenAIError(status, hdrs, doc, 402, "insufficient_credits", None)
        self.assertEqual(doc["error"]["message"],
                         "insufficient credits: balance 4, estimated cost 48")
        self.assertEqual(len(self.fake.requests()), 2, "the refused one never reached a provider")
        bal, total, kinds = ledger(self.gw, account)
        self.assertEqual((bal, total), (4000, 4000))
        # The reservation lives in the shared counters; the ledger has the
        # charges, each written with its generation's record.
        self.assertEqual(kinds, ["grant", "charge", "charge"])
        db = sqlite3.connect(os.path.join(self.gw.data_dir, "imagegate.db"))
        costs = [r[0] for r in db.execute("SELECT cost FROM generations WHERE account_id = ? "
                                          "ORDER BY created_at", (account,))]
        db.close()
        self.assertEqual(costs, [48000, 48000], "each record carries its cost")

    def test_tiers_and_the_estimate(self):
        _, free_key = self.account(1000, tier="free")
        status, _, e = self.gw.json("POST", "/v1/images/estimate",
                                    {"model": "dall-e-3", "prompt": "x", "quality": "hd"},
                                    key=free_key)
        self.assertEqual(status, 200, e)
        self.assertEqual((e["unit_price"], e["markup_percent"], e["tier"], e["estimated_cost"],
                          e["byok"], e["balance"]), (80, 50, "free", 120, False, 1000))
        _, key = self.account(1000)
        status, _, e = self.gw.json("POST", "/v1/images/estimate",
                                    {"model": "dall-e-2", "prompt": "x", "n": 3}, key=key)
        self.assertEqual((e["unit_price"], e["unit_price_with_markup"], e["estimated_cost"]),
                         (18, 21.6, 64.8))
        status, _, e = self.gw.json("POST", "/v1/images/estimate",
                                    {"model": "local", "prompt": "x", "n": 2}, key=key)
        self.assertEqual((status, e["estimated_cost"]), (200, 0), "the local renderer is free")
        status, hdrs, doc = self.gw.json("POST", "/v1/images/estimate", {"model": "dall-e-3"},
                                         key=key)
        self.assertOpenAIError(status, hdrs, doc, 400, None, "prompt")
        status, hdrs, doc = self.gw.json("POST", "/v1/images/estimate",
                                         {"model": "unpriced", "prompt": "x"}, key=key)
        self.assertOpenAIError(status, hdrs, doc, 503, "model_not_priced", "model")
        # The estimate charged nothing.
        self.assertEqual(self.gw.json("GET", "/v1/credits", key=key)[2]["balance"], 1000)
        # A price set in the config: 2.5 credits an image, marked up.
        status, _, e = self.gw.json("POST", "/v1/images/estimate",
                                    {"model": "house", "prompt": "x"}, key=key)
        self.assertEqual(e["estimated_cost"], 3)

    def test_a_new_tier_applies_to_the_next_request(self):
        account, key = self.account(1000)
        self.fake.script([])
        self.assertEqual(self.gen(key, model="dall-e-3")[2]["_metadata"]["cost_incurred"], 48)
        status, _, a = self.admin("PATCH", "/admin/accounts/" + account,
                                  {"tier": "free", "name": "renamed"})
        self.assertEqual((status, a["tier"], a["name"], a["balance"]), (200, "free", "renamed",
                                                                         952), a)
        # The key's cached tier was dropped: the next generation pays +50%.
        doc = self.gen(key, model="dall-e-3")[2]
        self.assertEqual((doc["_metadata"]["cost_incurred"], doc["_metadata"]["tier"]),
                         (60, "free"))
        for body, code, param in (({"tier": "platinum"}, "invalid_value", "tier"),
                                  ({}, "invalid_value", "name"),
                                  ({"name": ""}, "invalid_value", "name"),
                                  ({"balance": 5}, "unknown_parameter", "balance")):
            with self.subTest(body=body):
                status, hdrs, doc = self.admin("PATCH", "/admin/accounts/" + account, body)
                self.assertOpenAIError(status, hdrs, doc, 400, code, param)
        status, hdrs, doc = self.admin("PATCH", "/admin/accounts/acct_nobody", {"tier": "vip"})
        self.assertOpenAIError(status, hdrs, doc, 404, "account_not_found", "id")
        status, hdrs, doc = self.gw.json("PATCH", "/admin/accounts/" + account, {"tier": "vip"},
                                         key=key)
        self.assertOpenAIError(status, hdrs, doc, 403, "insufficient_scope", None)

    def test_an_unpriced_model_is_refused_never_free(self):
        _, key = self.account(1000)
        self.fake.script([])
        status, hdrs, doc = self.gen(key, model="unpriced")
        self.assertOpenAIError(status, hdrs, doc, 503, "model_not_priced", "model")
        self.assertEqual(self.fake.requests(), [])
        # The operator's own account is charged what is known, never refused.
        status, _, doc = self.gen(self.gw.admin_key, model="unpriced")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["_metadata"]["cost_incurred"], 0)

    def open_holds(self, key):
        status, _, c = self.gw.json("GET", "/v1/credits", key=key)
        self.assertEqual(status, 200, c)
        return c["open_holds"], c["available"], c["balance"]

    def test_failures_release_the_hold(self):
        account, key = self.account(100)
        for plan, want in (([{"status": 500}] * 3, 502), ([{"status": 400}], 400),
                           ([{"delay": 6}], 504)):
            with self.subTest(plan=plan[0]):
                self.fake.script(plan)
                status, _, doc = self.gen(key, model="dall-e-3")
                self.assertEqual(status, want, doc)
                bal, total, kinds = ledger(self.gw, account)
                self.assertEqual((bal, total, kinds), (100000, 100000, ["grant"]),
                                 "nothing was charged")
                self.assertEqual(self.open_holds(key), (0, 100, 100), "everything was released")
        # While one runs, its reservation shows, and is all that another may not spend.
        self.fake.script([{"delay": 1}])
        result = []
        t = threading.Thread(target=lambda: result.append(self.gen(key, model="dall-e-3")))
        t.start()
        wait_for(lambda: len(self.fake.requests()) == 1, what="the call to reach the provider")
        self.assertEqual(self.open_holds(key), (48, 52, 100))
        status, hdrs, doc = self.gen(key, model="dall-e-3", quality="hd")
        self.assertOpenAIError(status, hdrs, doc, 402, "insufficient_credits", None)
        self.assertEqual(doc["error"]["message"],
                         "insufficient credits: balance 52, estimated cost 96")
        t.join()
        self.assertEqual(result[0][0], 200, result)
        self.assertEqual(self.open_holds(key), (0, 52, 52))
        self.gw.json("POST", "/admin/accounts/%s/credits" % account, {"amount": 48},
                     key=self.gw.admin_key)
        self.assertEqual(self.open_holds(key), (0, 100, 100), "a grant is seen at once")
        # A client that leaves: its generation runs on, is recorded and charged
        # (the work is not lost), and nothing stays reserved.
        import socket
        self.fake.script([{"delay": 1}])
        body = json.dumps({"prompt": "leaving", "model": "dall-e-3"}).encode()
        s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=5)
        s.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  key.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: %d"
                  b"\r\n\r\n" % len(body) + body)
        wait_for(lambda: len(self.fake.requests()) == 1, what="the call to reach the provider")
        s.close()
        wait_for(lambda: self.open_holds(key)[0] == 0 and ledger(self.gw, account)[0] < 100000,
                 what="the charge")
        balance, total = ledger(self.gw, account)[:2]
        self.assertEqual(balance, total, "the balance is its ledger's sum")
        status, _, hist = self.gw.json("GET", "/v1/generations?limit=1", key=key)
        self.assertEqual((hist["data"][0]["prompt"], hist["data"][0]["status"]),
                         ("leaving", "succeeded"))


class NoOvershoot(FakeTest):
    def test_200_racing_requests_against_37_images(self):
        """200 requests at once, each for one dall-e-2 image (21.6 credits
        with the managed markup), against a balance of exactly 37 images,
        with a provider slow enough that they overlap: exactly 37 succeed,
        the rest get 402, the balance ends at 0 and the ledger sums to it."""
        fake = Fake()
        try:
            with Gateway(config=CONFIG, env={"OPENAI_API_KEY": "sk-test",
                                             "OPENAI_BASE_URL": fake.base + "/v1"}) as gw:
                status, _, a = gw.json("POST", "/admin/accounts", {"grant": "799.2"},
                                       key=gw.admin_key)
                self.assertEqual(status, 201, a)
                status, _, k = gw.json("POST", "/admin/keys",
                                       {"name": "racer", "account_id": a["id"]},
                                       key=gw.admin_key)
                # Credits alone decide here: the key's rate limits are off.
                status, _, patched = gw.json(
                    "PATCH", "/admin/keys/" + k["id"],
                    {"limits": {"requests_per_minute": 0, "images_per_minute": 0,
                                "concurrent": 0}}, key=gw.admin_key)
                self.assertEqual(status, 200, patched)
                self.assertEqual(patched["limits"]["concurrent"], 0)
                fake.script([{"delay": 0.5}] * 200)
                results = []
                lock = threading.Lock()
                start = threading.Barrier(200)

                def one():
                    start.wait()
                    r = gw.json("POST", "/v1/images/generations",
                                {"prompt": "race", "model": "dall-e-2", "size": "1024x1024"},
                                key=k["key"])
                    with lock:
                        results.append(r)

                threads = [threading.Thread(target=one) for _ in range(200)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                codes = [r[0] for r in results]
                self.assertEqual(codes.count(200), 37, sorted(codes))
                self.assertEqual(codes.count(402), 163, sorted(codes))
                self.assertGreater(fake.call("/__stats")["max_inflight"], 1,
                                   "the requests overlapped at the provider")
                bal, total, _ = ledger(gw, a["id"])
                self.assertEqual((bal, total), (0, 0))
                self.assertEqual(gw.json("GET", "/v1/credits", key=k["key"])[2]["balance"], 0)
        finally:
            fake.stop()


class HoldsAfterKill(FakeTest):
    def test_kill_9_mid_generation_leaves_nothing_held_or_charged(self):
        """A generation's reservation lives in the process (the shared
        counters), so a process killed mid-generation leaves nothing held:
        after a restart the account has its whole balance, with no hold to
        sweep and no charge for an image that was never delivered."""
        fake = Fake()
        data = None
        try:
            env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.base + "/v1",
                   "IMAGEGATE_ADMIN_KEY": "admin-key-for-the-kill-test"}
            gw = Gateway(config=CONFIG, env=env)
            data = gw.data_dir
            status, _, a = gw.json("POST", "/admin/accounts", {"grant": 100}, key=gw.admin_key)
            _, _, k = gw.json("POST", "/admin/keys", {"name": "k", "account_id": a["id"]},
                              key=gw.admin_key)
            fake.script([{"delay": 10}])
            import socket
            body = json.dumps({"prompt": "killed", "model": "dall-e-3"}).encode()
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
            s.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: "
                      b"Bearer " + k["key"].encode() + b"\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            wait_for(lambda: len(fake.requests()) == 1, what="the call to reach the provider")
            c = gw.json("GET", "/v1/credits", key=k["key"])[2]
            self.assertEqual((c["open_holds"], c["available"]), (48, 52), "held while it runs")
            gw.proc.send_signal(signal.SIGKILL)
            gw.proc.wait(10)
            s.close()
            gw.stderr_file.close()
            gw2 = Gateway(config=CONFIG, env=env, data_dir=data)
            try:
                bal, total, kinds = ledger(gw2, a["id"])
                self.assertEqual((bal, total, kinds), (100000, 100000, ["grant"]))
                c = gw2.json("GET", "/v1/credits", key=k["key"])[2]
                self.assertEqual((c["balance"], c["open_holds"], c["available"]), (100, 0, 100))
                fake.script([{}])
                status, _, doc = gw2.json("POST", "/v1/images/generations",
                                          {"prompt": "again", "model": "dall-e-3"},
                                          key=k["key"])
                self.assertEqual((status, doc["_metadata"]["credits_remaining"]), (200, 52), doc)
            finally:
                gw2.cleanup()
        finally:
            fake.stop()
            if data:
                import shutil
                shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
