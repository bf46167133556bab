"""Idempotency-Key: the first answer to a key is replayed to every retry
of the same request (status, the cost headers, body) for 24 hours, scoped
to the account, without calling a provider or charging again; another
body answers 422, a request still running 409; a request refused as
invalid is not remembered; admin grants are granted once."""
import threading

from harness import Gateway, GatewayTest
from test_providers import CONFIG, Fake, FakeTest


class Idempotency(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG, env={"OPENAI_API_KEY": "sk-test",
                                             "OPENAI_BASE_URL": cls.fake.base + "/v1"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def tenant(self, grant="1000"):
        admin = self.gw.admin_key
        status, _, a = self.gw.json("POST", "/admin/accounts", {"grant": grant}, key=admin)
        status, _, k = self.gw.json("POST", "/admin/keys", {"name": "i", "account_id": a["id"]},
                                    key=admin)
        return a["id"], k["key"]

    def gen(self, key, idem, **fields):
        fields.setdefault("prompt", "once only")
        fields.setdefault("model", "dall-e-2")
        fields.setdefault("size", "1024x1024")
        headers = {"Idempotency-Key": idem} if idem is not None else {}
        status, hdrs, raw = self.gw.request("POST", "/v1/images/generations", fields,
                                            headers=headers, key=key)
        return status, hdrs, raw

    def balance(self, key):
        return self.gw.json("GET", "/v1/credits", key=key)[2]["balance"]

    def test_a_retry_gets_the_first_answer_and_pays_once(self):
        _, key = self.tenant()
        self.fake.script([{}, {}])
        first = self.gen(key, "order-1")
        self.assertEqual(first[0], 200, first[2])
        after_first = self.balance(key)
        self.assertEqual(after_first, 1000 - 21.6)
        again = self.gen(key, "order-1")
        self.assertEqual(again[0], 200)
        self.assertEqual(again[2], first[2], "the same body, byte for byte")
        self.assertEqual(again[1]["idempotent-replayed"], "true")
        self.assertEqual(again[1]["x-imagegate-cost"], first[1]["x-imagegate-cost"])
        self.assertNotIn("idempotent-replayed", first[1])
        self.assertEqual(len(self.fake.requests()), 1, "the provider was called once")
        self.assertEqual(self.balance(key), after_first, "charged once")
        # Another key is another request.
        self.assertEqual(self.gen(key, "order-2")[0], 200)
        self.assertEqual(len(self.fake.requests()), 2)

    def test_another_body_is_422_and_keys_are_per_account(self):
        _, key = self.tenant()
        _, other = self.tenant()
        self.fake.script([{}, {}])
        self.assertEqual(self.gen(key, "k")[0], 200)
        status, hdrs, raw = self.gen(key, "k", prompt="something else")
        import json
        self.assertOpenAIError(status, hdrs, json.loads(raw), 422, "idempotency_key_reused",
                               "Idempotency-Key")
        self.assertEqual(self.gen(other, "k")[0], 200, "the same key in another account")
        self.assertEqual(len(self.fake.requests()), 2)

    def test_fifty_at_once_make_one_call_and_one_charge(self):
        _, key = self.tenant()
        self.fake.script([{"delay": 0.5}] * 50)
        results, lock, barrier = [], threading.Lock(), threading.Barrier(50)

        def one():
            barrier.wait()
            r = self.gen(key, "burst")
            with lock:
                results.append(r)

        threads = [threading.Thread(target=one) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [r for r in results if r[0] == 200]
        busy = [r for r in results if r[0] == 409]
        self.assertEqual(len(ok) + len(busy), 50, [r[0] for r in results])
        self.assertGreaterEqual(len(ok), 1)
        self.assertEqual(len({r[2] for r in ok}), 1, "every 200 is the same answer")
        import json
        for r in busy:
            self.assertOpenAIError(r[0], r[1], json.loads(r[2]), 409, "idempotency_key_in_use",
                                   "Idempotency-Key")
            self.assertEqual(r[1]["retry-after"], "1")
        self.assertEqual(len(self.fake.requests()), 1, "one upstream call")
        self.assertEqual(self.balance(key), 1000 - 21.6, "one charge")
        # After the first has answered, a retry gets its answer.
        late = self.gen(key, "burst")
        self.assertEqual((late[0], late[2]), (200, ok[0][2]))

    def test_invalid_requests_are_not_remembered(self):
        _, key = self.tenant()
        self.fake.script([{}])
        self.assertEqual(self.gen(key, "fix-me", n=99)[0], 400)
        status, _, raw = self.gen(key, "fix-me")
        self.assertEqual(status, 200, raw)

    def test_bad_keys_and_streams(self):
        _, key = self.tenant()
        import json
        for idem in ("", "x" * 256, "with space", "tab\there"):
            status, hdrs, raw = self.gen(key, idem)
            self.assertOpenAIError(status, hdrs, json.loads(raw), 400, "invalid_idempotency_key",
                                   "Idempotency-Key")
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=10)
        body = json.dumps({"prompt": "x", "model": "local", "size": "64x64"}).encode()
        c.putrequest("POST", "/v1/images/generations")
        for name, value in (("Authorization", "Bearer " + key),
                            ("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))),
                            ("Idempotency-Key", "a"), ("Idempotency-Key", "b")):
            c.putheader(name, value)
        c.endheaders(body)
        r = c.getresponse()
        doc = json.loads(r.read())
        c.close()
        self.assertEqual((r.status, doc["error"]["code"]), (400, "invalid_idempotency_key"))
        status, hdrs, raw = self.gen(key, "s", stream=True, model="local", size="64x64")
        self.assertOpenAIError(status, hdrs, json.loads(raw), 400, "unsupported_parameter",
                               "stream")
        self.assertEqual(self.gen(key, "x" * 255, model="local", size="64x64")[0], 200,
                         "255 characters are allowed")

    def test_an_edit_resent_with_another_boundary_is_the_same_request(self):
        from harness import multipart
        from test_edits import image_file
        _, key = self.tenant()
        answers = []
        for boundary in ("firstboundary1234", "secondboundary5678"):
            ctype, body = multipart([("prompt", "an edit"), ("model", "local")],
                                    [image_file()], boundary=boundary)
            answers.append(self.gw.request("POST", "/v1/images/edits", body,
                                           {"Content-Type": ctype, "Idempotency-Key": "edit-1"},
                                           key=key))
        self.assertEqual(answers[0][0], 200, answers[0][2][:300])
        self.assertEqual((answers[1][0], answers[1][2]), (200, answers[0][2]))
        self.assertEqual(answers[1][1]["idempotent-replayed"], "true")
        ctype, body = multipart([("prompt", "another edit"), ("model", "local")],
                                [image_file()], boundary="thirdboundary")
        status, _, raw = self.gw.request("POST", "/v1/images/edits", body,
                                         {"Content-Type": ctype, "Idempotency-Key": "edit-1"},
                                         key=key)
        self.assertEqual(status, 422, raw)

    def test_admin_grants_are_granted_once(self):
        acct, key = self.tenant(grant="0")
        admin = self.gw.admin_key
        body = {"amount": 5, "reason": "once"}
        for _ in range(3):
            status, hdrs, raw = self.gw.request("POST", "/admin/accounts/%s/credits" % acct, body,
                                                headers={"Idempotency-Key": "grant-7"},
                                                key=admin)
            self.assertEqual(status, 200, raw)
        self.assertEqual(self.balance(key), 5)
        self.assertEqual(hdrs.get("idempotent-replayed"), "true")


class IdempotencyAcrossRestarts(FakeTest):
    def test_the_answer_outlives_the_process(self):
        import shutil
        import tempfile
        data = tempfile.mkdtemp(prefix="ig-data-")
        self.addCleanup(shutil.rmtree, data, True)
        env = {"IMAGEGATE_ADMIN_KEY": "admin-key-for-the-idempotency-test"}
        with Gateway(data_dir=data, env=env) as gw:
            first = gw.request("POST", "/v1/images/generations",
                               {"prompt": "kept", "size": "64x64"},
                               headers={"Idempotency-Key": "restart"}, key=gw.admin_key)
            self.assertEqual(first[0], 200)
        with Gateway(data_dir=data, env=env) as gw:
            again = gw.request("POST", "/v1/images/generations",
                               {"prompt": "kept", "size": "64x64"},
                               headers={"Idempotency-Key": "restart"}, key=gw.admin_key)
            self.assertEqual((again[0], again[2]), (200, first[2]))
            self.assertEqual(again[1]["idempotent-replayed"], "true")
