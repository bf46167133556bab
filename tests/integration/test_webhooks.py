"""Webhooks: a job with a webhook_url tells it how it ended, signed as
Standard Webhooks asks — checked here by an independent implementation
(Python's hmac) —, retried with the configured delays until a 2xx, never
following a redirect, disabling an endpoint that answers 410; the secret
rotates with a window in which both signatures are sent; deliveries are
listed and sent again on request; accounts see only their own. The
address policy's refusals are in test_ssrf.py (inside a namespace)."""
import base64
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
import unittest

from harness import GatewayTest, wait_for
from test_jobs import JobsBase, jobs_config


class Receiver:
    """An HTTP endpoint that records every request (headers, body, the
    local address it came in on) and answers from a script of statuses
    (200 once the script is empty)."""

    def __init__(self, host="127.0.0.1", family=socket.AF_INET):
        receiver = self
        self.requests = []
        self.script = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append({
                        "path": self.path, "headers": {k.lower(): v for k, v in
                                                       self.headers.items()},
                        "body": body.decode(), "at": time.monotonic(),
                        "local": self.connection.getsockname()[0]})
                    status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        class Server(http.server.ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        self.server = Server((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def got(self, n, timeout=10):
        return wait_for(lambda: list(self.requests) if len(self.requests) >= n else None,
                        timeout, what="%d webhook request(s)" % n)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def verify(secret, headers, body):
    """Standard Webhooks verification, written from the specification:
    the signatures of id.timestamp.body under the secret's bytes that
    match (a header may carry several)."""
    key = base64.b64decode(secret[len("whsec_"):])
    signed = "%s.%s.%s" % (headers["webhook-id"], headers["webhook-timestamp"], body)
    want = base64.b64encode(hmac.new(key, signed.encode(), hashlib.sha256).digest()).decode()
    return [s for s in headers["webhook-signature"].split(" ") if s == "v1," + want]


class Webhooks(JobsBase):
    extra = """
webhooks:
  allow_networks: "127.0.0.1"
  retry_delays_ms: "200,400,600"
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hook = Receiver()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.hook.stop()

    def setUp(self):
        with self.hook.lock:
            self.hook.requests.clear()
            self.hook.script = []

    def secret(self, key):
        status, hdrs, doc = self.gw.json("GET", "/v1/webhooks/secret", key=key)
        self.assertEqual(status, 200, doc)
        self.assertEqual(hdrs.get("cache-control"), "no-store")
        self.assertTrue(doc["secret"].startswith("whsec_"))
        return doc

    def deliveries(self, key):
        status, _, doc = self.gw.json("GET", "/v1/webhooks/deliveries?limit=100", key=key)
        self.assertEqual(status, 200, doc)
        return doc["data"]

    def settled(self, key, n=1):
        """The account's deliveries once n of them are no longer pending."""
        def look():
            d = self.deliveries(key)
            done = [x for x in d if x["status"] != "pending"]
            return d if len(done) >= n else None
        return wait_for(look, 15, interval=0.05, what="%d delivery(ies) to settle" % n)

    def test_a_signed_delivery_of_a_job_that_succeeded(self):
        _, key = self.account(10)
        secret = self.secret(key)["secret"]
        status, _, job = self.submit(key, webhook_url=self.hook.url + "/hooks/images?x=1")
        self.assertEqual(status, 202, job)
        self.assertEqual(job["webhook_url"], self.hook.url + "/hooks/images?x=1")
        [req] = self.hook.got(1)
        self.assertEqual(req["path"], "/hooks/images?x=1")
        h = req["headers"]
        self.assertEqual(h["content-type"], "application/json")
        self.assertTrue(h["webhook-id"].startswith("msg_"))
        self.assertLess(abs(int(h["webhook-timestamp"]) - time.time()), 30)
        self.assertEqual(len(verify(secret, h, req["body"])), 1, "the signature verifies")
        self.assertEqual(verify(secret, dict(h, **{"webhook-timestamp": "1"}), req["body"]), [],
                         "and binds the timestamp")
        event = json.loads(req["body"])
        self.assertEqual(event["type"], "image.generation.succeeded")
        self.assertTrue(event["timestamp"].endswith("Z"))
        data = event["data"]
        self.assertEqual((data["id"], data["object"], data["status"]),
                         (job["id"], "image.job", "succeeded"))
        self.assertIsNone(data["error"])
        self.assertTrue(data["result"]["data"][0]["url"].startswith("http"))
        done = self.wait_job(key, job["id"])
        self.assertEqual(data["generation_id"], done["generation_id"])
        [d] = self.settled(key)
        self.assertEqual((d["id"], d["status"], d["attempts"], d["last_status"], d["job_id"],
                          d["event_type"]),
                         (h["webhook-id"], "delivered", 1, 200, job["id"],
                          "image.generation.succeeded"))

    def test_failed_and_canceled_jobs_are_told_too(self):
        _, key = self.account(10)
        self.fake.script([{"pending": 0, "fail": "the model broke"}] * 3)
        status, _, failed = self.submit(key, model="slow", webhook_url=self.hook.url + "/f")
        self.assertEqual(status, 202, failed)
        [req] = self.hook.got(1)
        event = json.loads(req["body"])
        self.assertEqual(event["type"], "image.generation.failed")
        self.assertEqual(event["data"]["error"]["code"], "provider_error")
        self.assertIsNone(event["data"]["result"])
        self.fake.script([{"pending": 1000}])
        status, _, running = self.submit(key, model="slow", webhook_url=self.hook.url + "/c")
        wait_for(lambda: self.gw.json("GET", "/v1/images/jobs/" + running["id"], key=key)[2]
                 ["progress"]["provider_job"], 10, what="the provider's job")
        self.gw.json("POST", "/v1/images/jobs/%s/cancel" % running["id"], key=key)
        reqs = self.hook.got(2)
        event = json.loads(reqs[1]["body"])
        self.assertEqual((event["type"], event["data"]["status"], event["data"]["id"]),
                         ("image.generation.canceled", "canceled", running["id"]))

    def test_retries_until_a_2xx_with_the_same_id(self):
        _, key = self.account(10)
        self.hook.script = [500, 503]
        status, _, job = self.submit(key, webhook_url=self.hook.url + "/r")
        reqs = self.hook.got(3)
        self.assertEqual(len({r["headers"]["webhook-id"] for r in reqs}), 1)
        self.assertEqual(len({r["body"] for r in reqs}), 1, "the same body every time")
        gaps = [reqs[i + 1]["at"] - reqs[i]["at"] for i in range(2)]
        self.assertGreater(gaps[0], 0.17, "the first retry waits ~200 ms")
        self.assertGreater(gaps[1], 0.35, "the second ~400 ms")
        [d] = self.settled(key)
        self.assertEqual((d["status"], d["attempts"], d["last_status"]), ("delivered", 3, 200))

    def test_gives_up_after_the_last_delay_and_redelivers_on_request(self):
        _, key = self.account(10)
        self.hook.script = [500] * 4
        status, _, job = self.submit(key, webhook_url=self.hook.url + "/g")
        self.hook.got(4)
        [d] = self.settled(key)
        self.assertEqual((d["status"], d["attempts"], d["last_status"]), ("failed", 4, 500))
        self.assertIn("500", d["last_error"])
        time.sleep(0.8)
        self.assertEqual(len(self.hook.requests), 4, "nothing after the last delay")
        status, _, again = self.gw.json("POST", "/v1/webhooks/deliveries/%s/redeliver" % d["id"],
                                        key=key)
        self.assertEqual((status, again["status"]), (202, "pending"))
        reqs = self.hook.got(5)
        self.assertEqual(reqs[4]["headers"]["webhook-id"], d["id"])
        [d] = self.settled(key)
        self.assertEqual(d["status"], "delivered")
        status, hdrs, err = self.gw.json("POST", "/v1/webhooks/deliveries/msg_nope/redeliver",
                                         key=key)
        self.assertOpenAIError(status, hdrs, err, 404, code="delivery_not_found", param="id")
        status, hdrs, err = self.gw.json("POST", "/v1/webhooks/deliveries/%s/again" % d["id"],
                                         key=key)
        self.assertOpenAIError(status, hdrs, err, 404, code="not_found")

    def test_a_redirect_is_not_followed(self):
        _, key = self.account(10)
        self.hook.script = [302, 200]
        self.submit(key, webhook_url=self.hook.url + "/moved")
        reqs = self.hook.got(2)
        self.assertEqual([r["path"] for r in reqs], ["/moved", "/moved"])
        d = self.settled(key)[0]
        self.assertEqual((d["status"], d["attempts"]), ("delivered", 2))

    def test_410_disables_the_endpoint(self):
        _, key = self.account(10)
        self.hook.script = [410]
        status, _, first = self.submit(key, webhook_url=self.hook.url + "/gone")
        self.hook.got(1)
        [d] = self.settled(key)
        self.assertEqual((d["status"], d["last_status"]), ("failed", 410))
        status, _, second = self.submit(key, webhook_url=self.hook.url + "/gone")
        self.wait_job(key, second["id"])
        ds = self.settled(key, 2)
        self.assertEqual(ds[0]["job_id"], second["id"])
        self.assertEqual((ds[0]["status"], ds[0]["attempts"]), ("disabled", 0))
        time.sleep(0.3)
        self.assertEqual(len(self.hook.requests), 1, "a disabled endpoint is not called")
        # Sending one again enables its endpoint.
        status, _, _ = self.gw.json("POST", "/v1/webhooks/deliveries/%s/redeliver" % ds[0]["id"],
                                    key=key)
        self.assertEqual(status, 202)
        reqs = self.hook.got(2)
        self.assertEqual(json.loads(reqs[1]["body"])["data"]["id"], second["id"])

    def test_rotation_signs_with_both_secrets_for_a_while(self):
        _, key = self.account(10)
        old = self.secret(key)
        self.assertEqual((old["version"], old["previous_valid_until"]), (1, None))
        self.assertEqual(self.secret(key)["secret"], old["secret"], "stable until rotated")
        status, _, new = self.gw.json("POST", "/v1/webhooks/secret/rotate", key=key)
        self.assertEqual(status, 200, new)
        self.assertEqual(new["version"], 2)
        self.assertNotEqual(new["secret"], old["secret"])
        self.assertGreater(new["previous_valid_until"], time.time() + 3600)
        self.submit(key, webhook_url=self.hook.url + "/rot")
        [req] = self.hook.got(1)
        h = req["headers"]
        self.assertEqual(len(h["webhook-signature"].split(" ")), 2)
        self.assertEqual(len(verify(new["secret"], h, req["body"])), 1)
        self.assertEqual(len(verify(old["secret"], h, req["body"])), 1)

    def test_budget_thresholds_are_told_to_the_accounts_endpoint(self):
        admin = self.gw.admin_key
        status, _, acct = self.gw.json("POST", "/admin/accounts",
                                       {"name": "budgeted", "grant": 10, "tier": "vip"}, key=admin)
        status, _, k = self.gw.json("POST", "/admin/keys",
                                    {"name": "b", "account_id": acct["id"]}, key=admin)
        key = k["key"]
        status, _, patched = self.gw.json("PATCH", "/admin/keys/" + k["id"],
                                          {"budgets": {"daily": "2"}}, key=admin)
        self.assertEqual(status, 200, patched)
        status, _, none = self.gw.json("GET", "/v1/webhooks/endpoint", key=key)
        self.assertEqual((status, none["url"]), (200, None))
        for bad in ({"url": "ftp://x"}, {"url": 5}, {}, {"url": "http://a b"}):
            status, hdrs, err = self.gw.json("PUT", "/v1/webhooks/endpoint", bad, key=key)
            self.assertOpenAIError(status, hdrs, err, 400, code="invalid_value", param="url")
        status, _, ep = self.gw.json("PUT", "/v1/webhooks/endpoint",
                                     {"url": self.hook.url + "/budget"}, key=key)
        self.assertEqual((status, ep["url"], ep["events"]),
                         (200, self.hook.url + "/budget", ["budget.threshold"]))
        self.assertEqual(self.gw.json("GET", "/v1/webhooks/endpoint", key=key)[2]["url"],
                         self.hook.url + "/budget")
        secret = self.secret(key)["secret"]
        # One credit of a two-credit daily budget: the 50% threshold.
        status, _, doc = self.gw.json("POST", "/v1/images/generations",
                                      {"prompt": "spend", "model": "quick", "size": "64x64"},
                                      key=key)
        self.assertEqual(status, 200, doc)
        [req] = self.hook.got(1)
        self.assertEqual(req["path"], "/budget")
        self.assertEqual(len(verify(secret, req["headers"], req["body"])), 1)
        event = json.loads(req["body"])
        self.assertEqual(event["type"], "budget.threshold")
        data = event["data"]
        self.assertEqual((data["account_id"], data["subject"], data["threshold"], data["spent"],
                          data["budget"]), (acct["id"], "key:" + k["id"], 50, 1, 2))
        # Once per threshold and period; removed, nothing more is sent.
        status, _, gone = self.gw.json("DELETE", "/v1/webhooks/endpoint", key=key)
        self.assertEqual((status, gone["url"]), (200, None))
        status, _, doc = self.gw.json("POST", "/v1/images/generations",
                                      {"prompt": "spend more", "model": "quick", "size": "64x64"},
                                      key=key)
        self.assertEqual(status, 200, doc)
        time.sleep(0.5)
        self.assertEqual(len(self.hook.requests), 1)

    def test_accounts_see_their_own(self):
        _, a = self.account(10)
        _, b = self.account(10)
        self.assertNotEqual(self.secret(a)["secret"], self.secret(b)["secret"])
        self.submit(a, webhook_url=self.hook.url + "/a")
        [d] = self.settled(a)
        self.assertEqual(self.deliveries(b), [])
        status, hdrs, err = self.gw.json("POST", "/v1/webhooks/deliveries/%s/redeliver" % d["id"],
                                         key=b)
        self.assertOpenAIError(status, hdrs, err, 404, code="delivery_not_found", param="id")
        for query, param in (("limit=0", "limit"), ("limit=x", "limit")):
            status, hdrs, err = self.gw.json("GET", "/v1/webhooks/deliveries?" + query, key=a)
            self.assertOpenAIError(status, hdrs, err, 400, code="invalid_value", param=param)


if __name__ == "__main__":
    unittest.main()
