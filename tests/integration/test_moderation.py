"""Moderation: the operator's categories of PCRE2 patterns and words,
checked on the prompt and the negative prompt before anything is counted
or reserved; a block answers 400 content_policy_violation naming the
category, costs nothing, never reaches a provider, and is recorded in the
audit trail (without the text). A provider's refusal lands in the same
shape and record. A rule that does not compile stops the start."""
import os
import subprocess
import tempfile

from harness import BIN, Gateway, GatewayTest, wait_for
from test_providers import CONFIG, Fake, FakeTest

RULES = r"""
moderation:
  categories:
    - name: violence
      patterns: ["blood\\s*bath", "\\bbehead(ing|ed)?\\b"]
      words: [gore, massacre]
    - name: spam
      words: ["buy now", "c++"]
"""


class Moderation(FakeTest):
    assertOpenAIError = GatewayTest.assertOpenAIError

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake()
        cls.gw = Gateway(config=CONFIG + RULES, env={"OPENAI_API_KEY": "sk-test",
                                                     "OPENAI_BASE_URL": cls.fake.base + "/v1"})
        admin = cls.gw.admin_key
        status, _, cls.acct = cls.gw.json("POST", "/admin/accounts", {"grant": "100"}, key=admin)
        status, _, cls.key = cls.gw.json("POST", "/admin/keys",
                                         {"name": "m", "account_id": cls.acct["id"]}, key=admin)

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.fake.stop()

    def gen(self, **fields):
        fields.setdefault("model", "dall-e-2")
        fields.setdefault("size", "1024x1024")
        return self.gw.json("POST", "/v1/images/generations", fields, key=self.key["key"])

    def audit(self, action):
        status, _, doc = self.gw.json("GET", "/admin/audit?action=" + action,
                                      key=self.gw.admin_key)
        self.assertEqual(status, 200, doc)
        return doc["data"]

    def test_blocks_name_the_category_and_cost_nothing(self):
        self.fake.script([])
        before = self.gw.json("GET", "/v1/credits", key=self.key["key"])[2]["balance"]
        cases = [({"prompt": "A BloodBath at dawn"}, "violence", "prompt"),
                 ({"prompt": "the beheading of a statue"}, "violence", "prompt"),
                 ({"prompt": "so much Gore"}, "violence", "prompt"),
                 ({"prompt": "learn C++ today"}, "spam", "prompt"),
                 ({"prompt": "a quiet lake", "negative_prompt": "buy now banners",
                   "model": "local"}, "spam", "negative_prompt")]
        for body, category, field in cases:
            status, hdrs, doc = self.gen(**body)
            self.assertOpenAIError(status, hdrs, doc, 400, "content_policy_violation", field)
            self.assertIn("category: %s" % category, doc["error"]["message"])
            self.assertNotIn("x-imagegate-cost", hdrs)
        self.assertEqual(self.fake.requests(), [], "nothing blocked reached the provider")
        status, _, credits = self.gw.json("GET", "/v1/credits", key=self.key["key"])
        self.assertEqual((credits["balance"], credits["open_holds"]), (before, 0))
        entries = self.audit("moderation.block")
        self.assertGreaterEqual(len(entries), len(cases))
        latest = entries[0]
        self.assertEqual(latest["detail"]["category"], "spam")
        self.assertEqual(latest["detail"]["field"], "negative_prompt")
        self.assertEqual((latest["actor"], latest["account_id"]),
                         (self.key["id"], self.acct["id"]))
        self.assertTrue(latest["target"].startswith("gen_"), latest)
        for e in entries:
            self.assertNotIn("banners", str(e), "the audit keeps no prompt text")

    def test_words_match_whole_words_only(self):
        self.fake.script([{}, {}])
        for prompt in ["a gorey tale", "bloodless bath", "the massacres' memorial stone"]:
            status, _, doc = self.gen(prompt=prompt)
            if prompt.startswith("the massacres"):
                self.assertEqual(status, 200, "'massacres' is not the word 'massacre'")
            else:
                self.assertEqual(status, 200, doc)

    def test_a_provider_refusal_has_the_same_shape_and_record(self):
        self.fake.script([{"status": 400, "error": {
            "message": "Your request was rejected as a result of our safety system.",
            "type": "invalid_request_error", "param": None, "code": "content_policy_violation"}}])
        status, hdrs, doc = self.gen(prompt="an innocent teapot")
        self.assertOpenAIError(status, hdrs, doc, 400, "content_policy_violation", "prompt")
        wait_for(lambda: self.audit("provider.refusal"), what="the refusal's audit entry")
        entry = self.audit("provider.refusal")[0]
        self.assertEqual(entry["detail"], {"provider": "openai", "model": "openai/dall-e-2"})
        status, _, credits = self.gw.json("GET", "/v1/credits", key=self.key["key"])
        self.assertEqual(credits["open_holds"], 0, "the refusal's hold was released")


class ModerationConfig(GatewayTest):
    def check_refused(self, rules, words):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "c.yaml")
            with open(path, "w") as f:
                f.write(rules)
            r = subprocess.run([BIN, "serve", "--config", path, "--listen", "127.0.0.1:0",
                                "--data", os.path.join(d, "data")],
                               capture_output=True, text=True, timeout=20)
            self.assertNotEqual(r.returncode, 0)
            for w in words:
                self.assertIn(w, r.stderr)

    def test_a_bad_rule_stops_the_start_naming_where(self):
        self.check_refused("moderation:\n  categories:\n    - name: bad\n"
                           "      patterns: [\"(unclosed\"]\n",
                           ["c.yaml:3", "bad", "does not compile"])
        self.check_refused("moderation:\n  categories:\n    - patterns: [x]\n",
                           ["c.yaml:3", "name"])
        self.check_refused("moderation:\n  categories:\n    - name: empty\n",
                           ["neither patterns nor words"])
        self.check_refused("moderation:\n  lists: []\n", ["unknown field 'lists'"])
