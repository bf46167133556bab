"""Durable jobs: POST /v1/images/jobs commits the job and its hold before
its 202; a runner claims it with a lease and runs it; GET shows its status,
result (fresh signed links) or error; the list pages; cancel releases the
hold (queued) or stops the provider's job (running); an event stream
follows it to its end; every rejection is OpenAI's error shape and leaves
nothing behind; another account's job is as unknown as none."""
import json
import os
import sqlite3
import time
import unittest
import urllib.request

from harness import Gateway, GatewayTest, wait_for
from test_providers import CONFIG, Fake, FakeTest

TERMINAL = ("succeeded", "failed", "canceled")


def db_rows(gw, sql, args=()):
    db = sqlite3.connect(os.path.join(gw.data_dir, "imagegate.db"))
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def jobs_config(fake_base, extra=""):
    return CONFIG + """
models:
  - name: slow
    price: 2
    deployments:
      - { provider: replicate, model: black-forest-labs/flux-dev, api_base: "%s/v1",
          api_key: r8_test }
  - name: quick
    price: 1
    deployments:
      - { provider: local, model: procedural }
""" % fake_base + extra


class JobsBase(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError
    extra = ""

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=jobs_config(cls.fake.base, cls.extra))

    @classmethod
    def tearDownClass(cls):
        try:
            cls.gw.cleanup()
        finally:
            cls.fake.stop()

    def admin(self, method, path, body=None):
        return self.gw.json(method, path, body, key=self.gw.admin_key)

    def account(self, grant, tier="vip"):
        status, _, acct = self.admin("POST", "/admin/accounts",
                                     {"name": "tenant", "grant": grant, "tier": tier})
        self.assertEqual(status, 201, acct)
        status, _, key = self.admin("POST", "/admin/keys",
                                    {"name": "app", "account_id": acct["id"]})
        self.assertEqual(status, 201, key)
        return acct["id"], key["key"]

    def submit(self, key, headers=None, **fields):
        fields.setdefault("prompt", "a lighthouse")
        fields.setdefault("model", "quick")
        fields.setdefault("size", "64x64")
        return self.gw.json("POST", "/v1/images/jobs", fields, key=key, headers=headers)

    def wait_job(self, key, job_id, states=TERMINAL, timeout=15):
        def look():
            status, _, doc = self.gw.json("GET", "/v1/images/jobs/" + job_id, key=key)
            self.assertEqual(status, 200, doc)
            return doc if doc["status"] in states else None
        return wait_for(look, timeout, interval=0.05, what="job %s to be %s" % (job_id, states))

    def balance(self, key):
        status, _, doc = self.gw.json("GET", "/v1/credits", key=key)
        self.assertEqual(status, 200, doc)
        return doc


class Jobs(JobsBase):
    def test_submit_run_and_result(self):
        acct, key = self.account(10)
        status, hdrs, doc = self.submit(key, metadata={"order": "17"})
        self.assertEqual(status, 202, doc)
        self.assertEqual(doc["object"], "image.job")
        self.assertEqual(doc["status"], "queued")
        self.assertTrue(doc["id"].startswith("job_"))
        self.assertEqual(hdrs["location"], "/v1/images/jobs/" + doc["id"])
        self.assertEqual(doc["links"], {"self": hdrs["location"],
                                        "events": hdrs["location"] + "/events",
                                        "cancel": hdrs["location"] + "/cancel"})
        self.assertEqual(doc["model"], "quick")
        self.assertEqual(hdrs["x-imagegate-held"], "1")
        # The job and its hold are in the store when the 202 arrives.
        rows = db_rows(self.gw, "SELECT j.account_id, h.amount, h.settled_at FROM jobs j "
                                "JOIN holds h ON h.id = j.hold_id WHERE j.id = ?", (doc["id"],))
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], acct)
        self.assertEqual(rows[0][1], 1000)

        done = self.wait_job(key, doc["id"])
        self.assertEqual(done["status"], "succeeded", done)
        self.assertIsNone(done["error"])
        self.assertEqual(done["progress"]["attempts"], 1)
        self.assertTrue(done["generation_id"].startswith("gen_"))
        self.assertIsNotNone(done["started_at"])
        self.assertIsNotNone(done["finished_at"])
        [item] = done["result"]["data"]
        with urllib.request.urlopen(item["url"], timeout=10) as r:
            self.assertTrue(r.read().startswith(b"\x89PNG"))
        # Charged exactly once, for what was delivered; nothing left held.
        credits = self.balance(key)
        self.assertEqual(credits["balance"], 9)
        open_holds = db_rows(self.gw, "SELECT count(*) FROM holds WHERE account_id = ? AND "
                                      "settled_at IS NULL", (acct,))[0][0]
        self.assertEqual(open_holds, 0)
        kinds = [r[0] for r in db_rows(self.gw, "SELECT kind FROM ledger WHERE account_id = ? "
                                                 "ORDER BY seq", (acct,))]
        self.assertEqual(kinds, ["grant", "hold", "release", "charge"])
        # The generation is in the history like any other.
        status, _, gen = self.gw.json("GET", "/v1/generations/" + done["generation_id"], key=key)
        self.assertEqual(status, 200, gen)
        self.assertEqual(gen["status"], "succeeded")
        self.assertEqual(gen["metadata"], {"order": "17"})

    def test_rejections_leave_nothing(self):
        acct, key = self.account(10)
        cases = [
            (b"{not json", 400, "invalid_json", None),
            ({"prompt": "x", "model": "quick", "colour": "red"}, 400, "unknown_parameter",
             "colour"),
            ({"model": "quick"}, 400, None, "prompt"),
            ({"prompt": "x", "model": "quick", "stream": True}, 400, "unsupported_parameter",
             "stream"),
            ({"prompt": "x", "model": "quick", "response_format": "b64_json"}, 400,
             "unsupported_parameter", "response_format"),
            ({"prompt": "x", "model": "quick", "webhook_url": "ftp://example.com/x"}, 400,
             "invalid_value", "webhook_url"),
            ({"prompt": "x", "model": "quick", "webhook_url": "http://a b"}, 400,
             "invalid_value", "webhook_url"),
            ({"prompt": "x", "model": "quick", "webhook_url": 7}, 400, None, "webhook_url"),
            ({"prompt": "x", "model": "no-such-model"}, 404, "model_not_found", "model"),
        ]
        for body, want, code, param in cases:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            status, hdrs, data = self.gw.request("POST", "/v1/images/jobs", raw, key=key,
                                                 headers={"Content-Type": "application/json"})
            doc = json.loads(data)
            self.assertOpenAIError(status, hdrs, doc, want, code=code, param=param)
        status, _, listed = self.gw.json("GET", "/v1/images/jobs", key=key)
        self.assertEqual(listed["data"], [], "no rejected submission became a job")
        self.assertEqual(self.balance(key)["balance"], 10)
        # A synchronous generation does not take a webhook: it is a job's.
        status, hdrs, doc = self.gw.json("POST", "/v1/images/generations",
                                         {"prompt": "x", "model": "quick",
                                          "webhook_url": "https://example.com/h"}, key=key)
        self.assertOpenAIError(status, hdrs, doc, 400, code="unsupported_parameter",
                               param="webhook_url")
        # No key, a bad key.
        status, hdrs, doc = self.gw.json("POST", "/v1/images/jobs", {"prompt": "x"})
        self.assertOpenAIError(status, hdrs, doc, 401, code="missing_api_key")
        status, hdrs, doc = self.gw.json("GET", "/v1/images/jobs", key="ig_" + "x" * 43)
        self.assertEqual(status, 401)

    def test_holds_refuse_what_the_balance_cannot_cover(self):
        acct, key = self.account(2)
        # Two images' worth: two jobs are held, the third refused at once,
        # before any has run (the runner may not have claimed them yet).
        ids = []
        for _ in range(2):
            status, _, doc = self.submit(key)
            self.assertEqual(status, 202, doc)
            ids.append(doc["id"])
        status, hdrs, doc = self.submit(key)
        self.assertOpenAIError(status, hdrs, doc, 402, code="insufficient_credits")
        for job_id in ids:
            self.assertEqual(self.wait_job(key, job_id)["status"], "succeeded")
        self.assertEqual(self.balance(key)["balance"], 0)
        bal, total = db_rows(self.gw, "SELECT balance, (SELECT sum(amount) FROM ledger WHERE "
                                      "account_id = ?1) FROM accounts WHERE id = ?1", (acct,))[0]
        self.assertEqual((bal, total), (0, 0), "the ledger balances")

    def test_list_pages_and_filters(self):
        _, key = self.account(100)
        ids = []
        for i in range(5):
            status, _, doc = self.submit(key, prompt="page %d" % i)
            self.assertEqual(status, 202, doc)
            ids.append(doc["id"])
        for job_id in ids:
            self.wait_job(key, job_id)
        status, _, everything = self.gw.json("GET", "/v1/images/jobs?limit=100", key=key)
        order = [j["id"] for j in everything["data"]]
        self.assertEqual(sorted(order), sorted(ids))
        created = [j["created"] for j in everything["data"]]
        self.assertEqual(created, sorted(created, reverse=True), "newest first")
        status, _, page = self.gw.json("GET", "/v1/images/jobs?limit=2", key=key)
        self.assertEqual(status, 200, page)
        self.assertEqual([j["id"] for j in page["data"]], order[:2])
        self.assertTrue(page["has_more"])
        status, _, page2 = self.gw.json(
            "GET", "/v1/images/jobs?limit=2&cursor=" + page["next_cursor"], key=key)
        self.assertEqual([j["id"] for j in page2["data"]], order[2:4], "the next page")
        status, _, done = self.gw.json("GET", "/v1/images/jobs?status=succeeded&limit=100",
                                       key=key)
        self.assertEqual(sorted(j["id"] for j in done["data"]), sorted(ids))
        self.assertFalse(done["has_more"])
        self.assertIsNone(done["next_cursor"])
        status, _, none = self.gw.json("GET", "/v1/images/jobs?status=queued", key=key)
        self.assertEqual(none["data"], [])
        for query, param in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                             ("status=done", "status"), ("status=queued&status=running",
                                                         "status"),
                             ("cursor=job_unknown", "cursor")):
            status, hdrs, doc = self.gw.json("GET", "/v1/images/jobs?" + query, key=key)
            self.assertOpenAIError(status, hdrs, doc, 400, code="invalid_value", param=param)

    def test_accounts_are_isolated(self):
        _, mine = self.account(10)
        _, theirs = self.account(10)
        status, _, doc = self.submit(mine)
        self.assertEqual(status, 202, doc)
        job_id = doc["id"]
        self.wait_job(mine, job_id)
        for method, path in (("GET", ""), ("GET", "/events"), ("POST", "/cancel")):
            status, hdrs, err = self.gw.json(method, "/v1/images/jobs/" + job_id + path,
                                             key=theirs)
            self.assertOpenAIError(status, hdrs, err, 404, code="job_not_found", param="id")
        status, _, listed = self.gw.json("GET", "/v1/images/jobs", key=theirs)
        self.assertEqual(listed["data"], [])
        status, hdrs, err = self.gw.json("GET", "/v1/images/jobs/" + job_id + "/nope", key=mine)
        self.assertOpenAIError(status, hdrs, err, 404, code="not_found")
        status, hdrs, err = self.gw.json("GET", "/v1/images/jobs/" + "j" * 80, key=mine)
        self.assertOpenAIError(status, hdrs, err, 404, code="not_found")

    def test_events_follow_the_job_to_its_end(self):
        _, key = self.account(100)
        self.fake.script([{"pending": 4}])
        status, _, doc = self.submit(key, model="slow")
        self.assertEqual(status, 202, doc)
        status, hdrs, raw = self.gw.request("GET", "/v1/images/jobs/%s/events" % doc["id"],
                                            key=key)
        self.assertEqual(status, 200)
        self.assertIn("text/event-stream", hdrs["content-type"])
        events = []
        for block in raw.decode().split("\n\n"):
            lines = dict(l.split(": ", 1) for l in block.splitlines() if ": " in l
                         and not l.startswith(":"))
            if "event" in lines:
                events.append((lines["event"], json.loads(lines["data"])))
        names = [e[0] for e in events]
        self.assertEqual(names[-1], "job.succeeded", names)
        self.assertIn("job.running", names)
        self.assertEqual(names.count("job.succeeded"), 1)
        self.assertTrue(events[-1][1]["result"]["data"][0]["url"])
        # The provider's job was noted while it ran, and what it said of
        # itself (running: queue position 0; its log's percent).
        self.assertTrue(any(e[1]["progress"]["provider_job"] for e in events))
        self.assertIn("job.progress", names)
        percents = [e[1]["progress"]["percent"] for e in events
                    if e[1]["progress"]["percent"] is not None]
        self.assertTrue(percents and percents == sorted(percents), events)
        self.assertIn(0, [e[1]["progress"]["queue_position"] for e in events])
        self.assertEqual(sum(1 for r in self.fake.requests() if r["method"] == "POST"), 1)

    def test_cancel_a_running_job_stops_the_provider(self):
        acct, key = self.account(10)
        self.fake.script([{"pending": 1000}])
        status, _, doc = self.submit(key, model="slow")
        self.assertEqual(status, 202, doc)
        job_id = doc["id"]
        wait_for(lambda: self.gw.json("GET", "/v1/images/jobs/" + job_id, key=key)[2]
                 ["progress"]["provider_job"], 10, what="the provider's job to start")
        status, _, doc = self.gw.json("POST", "/v1/images/jobs/%s/cancel" % job_id, key=key)
        self.assertEqual(status, 202, doc)
        self.assertEqual(doc["status"], "running")
        self.assertTrue(doc["cancel_requested"])
        done = self.wait_job(key, job_id)
        self.assertEqual(done["status"], "canceled", done)
        self.assertEqual(done["error"]["type"], "invalid_request_error")
        cancels = wait_for(lambda: [r["path"] for r in self.fake.requests()
                                    if r["path"].endswith("/cancel")],
                           what="the provider's cancel")
        self.assertEqual(len(cancels), 1)
        self.assertEqual(self.balance(key)["balance"], 10, "nothing delivered, nothing charged")
        # Cancelling it again answers the same; a finished job cannot be.
        status, _, again = self.gw.json("POST", "/v1/images/jobs/%s/cancel" % job_id, key=key)
        self.assertEqual((status, again["status"]), (200, "canceled"))
        status, _, ok = self.submit(key)
        done = self.wait_job(key, ok["id"])
        status, hdrs, err = self.gw.json("POST", "/v1/images/jobs/%s/cancel" % ok["id"], key=key)
        self.assertOpenAIError(status, hdrs, err, 409, code="job_finished", param="id")

    def test_provider_failure_fails_the_job_and_releases_its_hold(self):
        _, key = self.account(10)
        self.fake.script([{"pending": 0, "fail": "the model broke"}] * 3)
        status, _, doc = self.submit(key, model="slow")
        self.assertEqual(status, 202, doc)
        done = self.wait_job(key, doc["id"])
        self.assertEqual(done["status"], "failed", done)
        self.assertEqual(set(done["error"]), {"message", "type", "param", "code"})
        self.assertEqual(done["error"]["code"], "provider_error")
        self.assertIn("the model broke", done["error"]["message"])
        self.assertIsNone(done["result"])
        self.assertEqual(self.balance(key)["balance"], 10)

    def test_a_seeded_job_served_from_the_cache_keeps_its_result(self):
        _, key = self.account(10)
        docs = []
        for _ in range(2):
            status, _, doc = self.submit(key, seed=5, prompt="the same harbour")
            self.assertEqual(status, 202, doc)
            docs.append(self.wait_job(key, doc["id"]))
        self.assertEqual([d["status"] for d in docs], ["succeeded", "succeeded"])
        path = lambda d: d["result"]["data"][0]["url"].split("?")[0]
        self.assertEqual(path(docs[1]), path(docs[0]), "the cached images")
        self.assertNotEqual(docs[1]["generation_id"], docs[0]["generation_id"],
                            "a job's hit is a record of its own")
        self.assertEqual(self.balance(key)["balance"], 9, "the hit cost nothing")

    def test_idempotency_key_makes_one_job(self):
        _, key = self.account(10)
        h = {"Idempotency-Key": "order-5521"}
        status, hdrs, first = self.submit(key, headers=h)
        self.assertEqual(status, 202, first)
        status, hdrs, again = self.submit(key, headers=h)
        self.assertEqual(status, 202, again)
        self.assertEqual(hdrs.get("idempotent-replayed"), "true")
        self.assertEqual(again["id"], first["id"])
        self.wait_job(key, first["id"])
        status, _, listed = self.gw.json("GET", "/v1/images/jobs", key=key)
        self.assertEqual([j["id"] for j in listed["data"]], [first["id"]])
        self.assertEqual(self.balance(key)["balance"], 9, "charged once")
        status, hdrs, doc = self.submit(key, headers=h, prompt="another body")
        self.assertOpenAIError(status, hdrs, doc, 422, code="idempotency_key_reused",
                               param="Idempotency-Key")


class Batches(JobsBase):
    def batch(self, key, headers=None, **body):
        return self.gw.json("POST", "/v1/images/batch", body, key=key, headers=headers)

    def wait_batch(self, key, batch_id, timeout=20):
        def look():
            status, _, doc = self.gw.json("GET", "/v1/images/batch/" + batch_id, key=key)
            self.assertEqual(status, 200, doc)
            return doc if doc["status"] == "completed" else None
        return wait_for(look, timeout, interval=0.05, what="batch %s to complete" % batch_id)

    def test_partial_failure_is_per_item(self):
        acct, key = self.account(2)
        ok = {"prompt": "a", "model": "quick", "size": "64x64"}
        status, hdrs, doc = self.batch(key, max_concurrency=2, requests=[
            ok, {"prompt": "b", "model": "quick", "colour": "red"}, ok,
            {"prompt": "c", "model": "no-such"}, ok])
        self.assertEqual(status, 202, doc)
        self.assertEqual(hdrs["location"], "/v1/images/batch/" + doc["id"])
        self.assertEqual((doc["object"], doc["total"], doc["max_concurrency"]),
                         ("image.batch", 5, 2))
        items = doc["items"]
        self.assertEqual([i["index"] for i in items], [0, 1, 2, 3, 4])
        self.assertEqual([items[i]["status"] for i in (1, 3)], ["rejected", "rejected"])
        self.assertEqual(items[1]["error"]["code"], "unknown_parameter")
        self.assertEqual(items[1]["error"]["param"], "colour")
        self.assertEqual(set(items[1]["error"]), {"message", "type", "param", "code"})
        self.assertEqual(items[3]["error"]["code"], "model_not_found")
        # Two credits held two of the three valid requests' jobs (they are
        # submitted together); the third is refused alone.
        valid = [items[i] for i in (0, 2, 4)]
        self.assertEqual(sorted(i["status"] for i in valid), ["queued", "queued", "rejected"])
        [short] = [i for i in valid if i["status"] == "rejected"]
        self.assertEqual(short["error"]["code"], "insufficient_credits")
        self.assertIsNone(short["job_id"])
        done = self.wait_batch(key, doc["id"])
        self.assertEqual(done["counts"], {"queued": 0, "running": 0, "succeeded": 2,
                                          "failed": 0, "canceled": 0, "rejected": 3})
        for i in (0, 2, 4):
            if items[i]["status"] == "queued":
                self.assertEqual(done["items"][i]["status"], "succeeded")
                self.assertEqual(done["items"][i]["job_id"], items[i]["job_id"])
                self.assertTrue(done["items"][i]["result"]["data"][0]["url"])
        self.assertEqual(done["items"][short["index"]]["error"]["code"], "insufficient_credits",
                         "refusals are kept with the batch")
        self.assertEqual(self.balance(key)["balance"], 0)
        # Each item is a job of its own too.
        first = [i for i in valid if i["job_id"]][0]
        status, _, job = self.gw.json("GET", "/v1/images/jobs/" + first["job_id"], key=key)
        self.assertEqual((status, job["batch_id"]), (200, doc["id"]))

    def test_max_concurrency_is_honoured(self):
        _, key = self.account(100)
        self.fake.script([{"pending": 2}] * 4)
        status, _, doc = self.batch(key, max_concurrency=1, requests=[
            {"prompt": "p%d" % i, "model": "slow"} for i in range(4)])
        self.assertEqual(status, 202, doc)
        most = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, _, now = self.gw.json("GET", "/v1/images/batch/" + doc["id"], key=key)
            most = max(most, now["counts"]["running"])
            if now["status"] == "completed":
                break
            time.sleep(0.05)
        self.assertEqual(now["counts"]["succeeded"], 4, now)
        self.assertEqual(most, 1, "one at a time")
        creates = [r["body"] for r in self.fake.requests() if r["method"] == "POST"]
        self.assertEqual([json.loads(b)["input"]["prompt"] for b in creates],
                         ["p0", "p1", "p2", "p3"], "in the order of the requests")

    def test_bad_batches_are_refused_whole(self):
        _, key = self.account(10)
        ok = {"prompt": "a", "model": "quick"}
        cases = [({}, "requests"), ({"requests": []}, "requests"),
                 ({"requests": [ok] * 101}, "requests"), ({"requests": [ok, "x"]}, "requests"),
                 ({"requests": ok}, "requests"),
                 ({"requests": [ok], "max_concurrency": 0}, "max_concurrency"),
                 ({"requests": [ok], "max_concurrency": 65}, "max_concurrency"),
                 ({"requests": [ok], "max_concurrency": "2"}, "max_concurrency"),
                 ({"requests": [ok], "webhook_url": 5}, "webhook_url")]
        for body, param in cases:
            status, hdrs, doc = self.gw.json("POST", "/v1/images/batch", body, key=key)
            self.assertOpenAIError(status, hdrs, doc, 400, code="invalid_value", param=param)
        status, hdrs, doc = self.gw.json("POST", "/v1/images/batch",
                                         {"requests": [ok], "size": "1x1"}, key=key)
        self.assertOpenAIError(status, hdrs, doc, 400, code="unknown_parameter", param="size")
        status, _, listed = self.gw.json("GET", "/v1/images/jobs", key=key)
        self.assertEqual(listed["data"], [])

    def test_batches_are_the_accounts_own_and_idempotent(self):
        _, a = self.account(10)
        _, b = self.account(10)
        h = {"Idempotency-Key": "batch-1"}
        status, _, doc = self.batch(a, headers=h, requests=[{"prompt": "x", "model": "quick"}])
        self.assertEqual(status, 202, doc)
        status, hdrs, again = self.batch(a, headers=h,
                                         requests=[{"prompt": "x", "model": "quick"}])
        self.assertEqual((status, again["id"], hdrs.get("idempotent-replayed")),
                         (202, doc["id"], "true"))
        self.wait_batch(a, doc["id"])
        status, hdrs, err = self.gw.json("GET", "/v1/images/batch/" + doc["id"], key=b)
        self.assertOpenAIError(status, hdrs, err, 404, code="batch_not_found", param="id")
        status, _, listed = self.gw.json("GET", "/v1/images/jobs", key=a)
        self.assertEqual(len(listed["data"]), 1, "one job, however often the batch was sent")


class QueuedJobs(JobsBase):
    """An instance that runs no jobs (jobs.runners: 0, a fleet's API-only
    instance): submissions stay queued, so a cancel finds them there."""
    extra = """
jobs:
  runners: 0
"""

    def test_cancel_a_queued_job_releases_its_hold(self):
        acct, key = self.account(5)
        status, _, doc = self.submit(key, n=2)
        self.assertEqual(status, 202, doc)
        self.assertEqual(self.balance(key)["balance"], 3, "two images held")
        time.sleep(0.3)
        status, _, again = self.gw.json("GET", "/v1/images/jobs/" + doc["id"], key=key)
        self.assertEqual(again["status"], "queued")
        self.assertEqual(again["progress"]["attempts"], 0)
        status, _, canceled = self.gw.json("POST", "/v1/images/jobs/%s/cancel" % doc["id"],
                                           key=key)
        self.assertEqual(status, 200, canceled)
        self.assertEqual(canceled["status"], "canceled")
        self.assertEqual(canceled["error"]["code"], "job_canceled")
        self.assertEqual(self.balance(key)["balance"], 5, "the hold came back")
        kinds = [r[0] for r in db_rows(self.gw, "SELECT kind FROM ledger WHERE account_id = ? "
                                                 "ORDER BY seq", (acct,))]
        self.assertEqual(kinds, ["grant", "hold", "release"])

    def test_a_restarted_instance_runs_what_was_queued(self):
        acct, key = self.account(5)
        status, _, doc = self.submit(key)
        self.assertEqual(status, 202, doc)
        self.gw.stop()
        self.gw.check_sanitizers()
        admin = self.gw.admin_key
        gw = Gateway(config=jobs_config(self.fake.base), data_dir=self.gw.data_dir)
        gw.admin_key = admin
        try:
            def look():
                s, _, d = gw.json("GET", "/v1/images/jobs/" + doc["id"], key=key)
                return d if d["status"] in TERMINAL else None
            done = wait_for(look, 15, what="the queued job to run after the restart")
            self.assertEqual(done["status"], "succeeded", done)
        finally:
            gw.cleanup()
        type(self).gw = Gateway(config=jobs_config(self.fake.base, self.extra),
                                data_dir=self.gw.data_dir)
        type(self).gw.own_dir = True
        type(self).gw.admin_key = gw.admin_key = admin


class CrashRecovery(FakeTest):
    """300 jobs against a slow provider with job ids (Replicate's
    predictions), the gateway killed with SIGKILL part-way, then started
    again: every job finishes exactly once, no job whose prediction was
    kept is submitted to the provider again, the ledger balances and no
    hold is left open."""

    JOBS = 300

    def test_kill_9_mid_way(self):
        fake = Fake()
        cfg = jobs_config(fake.base, """
jobs:
  lease_ms: 1500
  poll_ms: 50
""")
        gw = Gateway(config=cfg)
        gw2 = None
        try:
            admin = gw.admin_key
            status, _, acct = gw.json("POST", "/admin/accounts",
                                      {"name": "batch", "grant": 1000, "tier": "vip"}, key=admin)
            status, _, k = gw.json("POST", "/admin/keys", {"name": "b", "account_id": acct["id"]},
                                   key=admin)
            key = k["key"]
            fake.script([{"pending": 3}] * (2 * self.JOBS))
            ids = []
            conn = gw.conn()
            for i in range(self.JOBS):
                status, _, doc = gw.request(
                    "POST", "/v1/images/jobs", {"prompt": "job %d" % i, "model": "slow",
                                                "size": "64x64"}, key=key, conn=conn)
                self.assertEqual(status, 202, doc)
                ids.append(json.loads(doc)["id"])
            conn.close()

            def succeeded():
                return db_rows(gw, "SELECT count(*) FROM jobs WHERE status = 'succeeded'")[0][0]
            wait_for(lambda: succeeded() >= self.JOBS // 5, 60, interval=0.05,
                     what="a fifth of the jobs to finish")
            gw.proc.kill()
            gw.proc.wait()
            gw.check_sanitizers()
            at_kill = {r[0]: (r[1], r[2]) for r in db_rows(gw, "SELECT id, status, upstream FROM "
                                                             "jobs")}
            self.assertEqual(set(at_kill), set(ids), "every accepted job was committed")
            unfinished = [j for j, (st, _) in at_kill.items() if st not in TERMINAL]
            self.assertTrue(unfinished, "the kill came mid-way")
            kept = {j for j, (st, up) in at_kill.items() if st == "running" and up}
            self.assertTrue(kept, "some running jobs had their prediction kept")

            gw2 = Gateway(config=cfg, data_dir=gw.data_dir)
            wait_for(lambda: db_rows(gw2, "SELECT count(*) FROM jobs WHERE status IN "
                                          "('succeeded', 'failed', 'canceled')")[0][0] ==
                     self.JOBS, 90, interval=0.1, what="every job to finish after the restart")
            rows = db_rows(gw2, "SELECT id, status, generation_id FROM jobs")
            self.assertEqual({r[1] for r in rows}, {"succeeded"})
            gens = [r[2] for r in rows]
            self.assertEqual(len(set(gens)), self.JOBS, "one generation per job")
            recorded = db_rows(gw2, "SELECT id FROM generations WHERE account_id = ? AND "
                                    "status = 'succeeded'", (acct["id"],))
            self.assertEqual(sorted(r[0] for r in recorded), sorted(gens),
                             "each job's generation recorded once, and no other")

            creates = {}
            for r in fake.requests():
                if r["method"] == "POST" and not r["path"].endswith("/cancel"):
                    prompt = json.loads(r["body"])["input"]["prompt"]
                    creates[prompt] = creates.get(prompt, 0) + 1
            prompt_of = {job_id: "job %d" % i for i, job_id in enumerate(ids)}
            for job_id in kept:
                self.assertEqual(creates[prompt_of[job_id]], 1,
                                 "job %s followed its kept prediction" % job_id)
            twice = [p for p, n in creates.items() if n > 1]
            self.assertEqual(set(creates), set(prompt_of.values()))
            self.assertLessEqual(len(twice), len(unfinished) - len(kept),
                                 "only jobs whose prediction was not yet kept ran again")
            self.assertTrue(all(n <= 2 for n in creates.values()))

            bal, total = db_rows(gw2, "SELECT balance, (SELECT sum(amount) FROM ledger WHERE "
                                      "account_id = ?1) FROM accounts WHERE id = ?1",
                                 (acct["id"],))[0]
            self.assertEqual((bal, total), (1000000 - self.JOBS * 2000,) * 2)
            self.assertEqual(db_rows(gw2, "SELECT count(*) FROM holds WHERE settled_at IS "
                                          "NULL")[0][0], 0, "no hold left open")
        finally:
            if gw2:
                gw2.cleanup()
            gw.cleanup()
            fake.stop()


if __name__ == "__main__":
    unittest.main()
