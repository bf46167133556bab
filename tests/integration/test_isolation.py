"""Tenants are isolated on every endpoint: two accounts with generate
keys, each seeing only its own generations, usage and credits; a generate
key reaches no admin route; an image is reached only through its signed
URL, whoever holds the key."""
import unittest
import urllib.parse

from harness import GatewayTest


class Isolation(GatewayTest):
    def setUp(self):
        admin = self.gw.admin_key
        self.keys = {}
        for name in ("a", "b"):
            status, _, acct = self.gw.json("POST", "/admin/accounts",
                                           {"name": name, "grant": 10}, key=admin)
            self.assertEqual(status, 201, acct)
            status, _, k = self.gw.json("POST", "/admin/keys",
                                        {"name": name, "account_id": acct["id"]}, key=admin)
            self.keys[name] = (acct["id"], k["id"], k["key"])

    def test_every_endpoint_answers_for_its_own_account_only(self):
        a_acct, a_kid, a = self.keys["a"]
        b_acct, b_kid, b = self.keys["b"]
        status, _, doc = self.gw.json("POST", "/v1/images/generations",
                                      {"prompt": "a's own", "size": "64x64"}, key=a)
        self.assertEqual(status, 200, doc)
        gid = doc["_metadata"]["generation_id"]
        url = urllib.parse.urlsplit(doc["data"][0]["url"])

        # History and usage: a's generation is invisible to b.
        self.assertEqual(self.gw.json("GET", "/v1/generations/" + gid, key=a)[0], 200)
        status, _, doc = self.gw.json("GET", "/v1/generations/" + gid, key=b)
        self.assertEqual((status, doc["error"]["code"]), (404, "generation_not_found"))
        self.assertEqual(self.gw.json("GET", "/v1/generations", key=b)[2]["data"], [])
        self.assertEqual(self.gw.json("GET", "/v1/usage", key=b)[2]["totals"]["generations"], 0)
        self.assertEqual(self.gw.json("GET", "/v1/usage", key=a)[2]["totals"]["generations"], 1)
        # Jobs: a's job is invisible to b, and b cannot cancel it.
        status, _, job = self.gw.json("POST", "/v1/images/jobs",
                                      {"prompt": "a's job", "size": "64x64"}, key=a)
        self.assertEqual(status, 202, job)
        for method, path in (("GET", ""), ("GET", "/events"), ("POST", "/cancel")):
            status, _, doc = self.gw.json(method, "/v1/images/jobs/" + job["id"] + path, key=b)
            self.assertEqual((status, doc["error"]["code"]), (404, "job_not_found"))
        self.assertEqual(self.gw.json("GET", "/v1/images/jobs", key=b)[2]["data"], [])
        self.assertEqual(self.gw.json("GET", "/v1/images/jobs", key=a)[2]["data"][0]["id"],
                         job["id"])
        # Credits are each one's own.
        for key, acct in ((a, a_acct), (b, b_acct)):
            for path in ("/v1/credits", "/api/v1/llm/credits"):
                status, _, c = self.gw.json("GET", path, key=key)
                self.assertEqual((status, c["account_id"]), (200, acct))
        # No admin route for a generate key, whichever account it names.
        admin_calls = [("GET", "/admin/keys", None), ("POST", "/admin/keys", {"name": "x"}),
                       ("DELETE", "/admin/keys/" + a_kid, None),
                       ("GET", "/admin/accounts", None),
                       ("POST", "/admin/accounts", {"name": "x"}),
                       ("PATCH", "/admin/accounts/" + a_acct, {"tier": "vip"}),
                       ("POST", "/admin/accounts/%s/credits" % b_acct, {"amount": 1000}),
                       ("PATCH", "/admin/keys/" + b_kid, {"limits": {"concurrent": 0}}),
                       ("GET", "/admin/usage", None),
                       ("GET", "/admin/audit", None)]
        for method, path, body in admin_calls:
            with self.subTest(method=method, path=path):
                status, _, doc = self.gw.json(method, path, body, key=b)
                self.assertEqual((status, doc["error"]["code"]), (403, "insufficient_scope"))
        self.assertEqual(self.gw.json("GET", "/v1/credits", key=b)[2]["balance"], 10,
                         "b could not grant itself credits")
        self.assertIn(gid, [g["id"] for g in self.gw.json("GET", "/v1/generations", key=a)[2]
                            ["data"]], "a's key was not revoked by b")
        # BYOK keys: each account's own; another's provider key is a 404.
        status, _, doc = self.gw.json("POST", "/v1/byok/keys",
                                      {"provider": "openai", "api_key": "sk-a-only"}, key=a)
        self.assertEqual(status, 201, doc)
        for path in ("/v1/byok/keys", "/api/v1/llm/byok/keys"):
            self.assertEqual(self.gw.json("GET", path, key=b)[2]["data"], [])
            self.assertEqual(len(self.gw.json("GET", path, key=a)[2]["data"]), 1)
        status, _, doc = self.gw.json("DELETE", "/v1/byok/keys/openai", key=b)
        self.assertEqual((status, doc["error"]["code"]), (404, "byok_key_not_found"))
        self.assertEqual(len(self.gw.json("GET", "/v1/byok/keys", key=a)[2]["data"]), 1,
                         "b could not delete a's key")
        # Budgets and alerts in credits and usage are each one's own.
        self.assertEqual(self.gw.json("GET", "/v1/credits", key=b)[2]["budgets"], [])
        self.assertEqual(self.gw.json("GET", "/v1/usage", key=b)[2]["alerts"], [])
        # The image: through its signed URL only; a key does not stand in.
        self.assertEqual(self.gw.request("GET", url.path + "?" + url.query)[0], 200)
        status, _, doc = self.gw.json("GET", url.path, key=b)
        self.assertEqual((status, doc["error"]["code"]), (403, "invalid_signature"))


if __name__ == "__main__":
    unittest.main()
