"""The CLI against a running gateway: generate, keys, accounts, exit codes."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, Gateway, GatewayTest


class Cli(GatewayTest):
    def run_cli(self, *args, key=None, env_extra=None):
        env = dict(os.environ)
        env.pop("IMAGEGATE_API_KEY", None)
        env.pop("IMAGEGATE_ADMIN_KEY", None)
        env["IMAGEGATE_URL"] = "http://127.0.0.1:%d" % self.gw.port
        if key:
            env["IMAGEGATE_API_KEY"] = key
        env.update(env_extra or {})
        return subprocess.run([BIN] + list(args), capture_output=True, env=env, timeout=60)

    def test_generate_writes_files(self):
        out = tempfile.mkdtemp()
        r = self.run_cli("generate", "a quiet lake", "-n", "2", "--size", "96x64", "--seed", "3",
                         "--format", "jpeg", "-o", out, key=self.gw.admin_key)
        self.assertEqual(r.returncode, 0, r.stderr)
        paths = r.stdout.decode().split()
        self.assertEqual(len(paths), 2)
        for p in paths:
            self.assertTrue(p.startswith(out) and p.endswith(".jpeg"), p)
            with open(p, "rb") as f:
                self.assertEqual(f.read(3), b"\xff\xd8\xff")

    def test_generate_exit_codes(self):
        r = self.run_cli("generate", "x")
        self.assertEqual(r.returncode, 2, "no key is a usage error")
        r = self.run_cli("generate", "x", key="ig_wrong")
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"invalid_api_key", r.stderr)
        r = self.run_cli("generate", "x", "--size", "9x9", key=self.gw.admin_key)
        self.assertEqual(r.returncode, 4)
        self.assertIn(b"param size", r.stderr)
        r = self.run_cli("generate", "x", "--server", "http://127.0.0.1:1", key=self.gw.admin_key)
        self.assertEqual(r.returncode, 6)
        r = self.run_cli("generate", key=self.gw.admin_key)
        self.assertEqual(r.returncode, 2)
        r = self.run_cli("generate", "x", "--nope", key=self.gw.admin_key)
        self.assertEqual(r.returncode, 2)
        r = self.run_cli("generate", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"--seed", r.stdout)

    def test_keys_create_list_revoke(self):
        admin = {"IMAGEGATE_ADMIN_KEY": self.gw.admin_key}
        r = self.run_cli("keys", "create", "cli-key", env_extra=admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        key = r.stdout.decode().strip()
        self.assertRegex(key, r"^ig_[0-9A-Za-z]{43}$")
        kid = r.stderr.decode().split()[1]
        r = self.run_cli("keys", "list", env_extra=admin)
        self.assertEqual(r.returncode, 0)
        self.assertIn(kid.encode(), r.stdout)
        self.assertNotIn(key.encode(), r.stdout)
        r = self.run_cli("generate", "x", "--size", "64x64", "-o", tempfile.mkdtemp(), key=key)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli("keys", "revoke", kid, env_extra=admin)
        self.assertEqual(r.returncode, 0)
        r = self.run_cli("generate", "x", key=key)
        self.assertEqual(r.returncode, 3)
        r = self.run_cli("keys", "revoke", kid, env_extra=admin)
        self.assertEqual(r.returncode, 4)
        r = self.run_cli("keys", "create", "x", "--scopes", "root", env_extra=admin)
        self.assertEqual(r.returncode, 4)
        r = self.run_cli("keys", "frobnicate", env_extra=admin)
        self.assertEqual(r.returncode, 2)

    def test_accounts_and_credits(self):
        admin = {"IMAGEGATE_ADMIN_KEY": self.gw.admin_key}
        r = self.run_cli("accounts", "create", "acme", "--grant", "100", env_extra=admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        acct, word, balance = r.stdout.decode().split()
        self.assertTrue(acct.startswith("acct_"))
        self.assertEqual((word, balance), ("balance", "100"))
        r = self.run_cli("accounts", "grant", acct, "50.5", "--reason", "top-up",
                         env_extra=admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().split(), [acct, "balance", "150.500"])
        r = self.run_cli("accounts", "list", env_extra=admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), acct + r"\s+managed\s+150.500\s+acme")
        r = self.run_cli("keys", "create", "app", "--account", acct, env_extra=admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("in account " + acct, r.stderr.decode())
        key = r.stdout.decode().strip()
        status, _, c = self.gw.json("GET", "/v1/credits", key=key)
        self.assertEqual((status, c["account_id"], c["balance"]), (200, acct, 150.5))
        for args, code in ((("accounts", "grant", "acct_nope", "1"), 4),
                           (("accounts", "grant", acct, "abc"), 4),
                           (("accounts", "create", "x", "--tier", "platinum"), 4),
                           (("keys", "create", "x", "--account", "acct_nope"), 4),
                           (("accounts", "frobnicate"), 2),
                           (("accounts", "grant", acct), 2)):
            with self.subTest(args=args):
                r = self.run_cli(*args, env_extra=admin)
                self.assertEqual(r.returncode, code, r.stderr)
        r = self.run_cli("accounts", "list", key="ig_wrong")
        self.assertEqual(r.returncode, 3)

    def test_credits_usage_and_history(self):
        admin = {"IMAGEGATE_ADMIN_KEY": self.gw.admin_key}
        r = self.run_cli("accounts", "create", "histo", "--grant", "10", env_extra=admin)
        acct = r.stdout.decode().split()[0]
        r = self.run_cli("credits", "grant", acct, "2.5", "--reason", "cli", env_extra=admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().split(), [acct, "balance", "12.500"])
        r = self.run_cli("keys", "create", "h", "--account", acct, env_extra=admin)
        key = r.stdout.decode().strip()
        for prompt in ("first", "second"):
            status, _, doc = self.gw.json("POST", "/v1/images/generations",
                                          {"prompt": prompt, "size": "256x256"}, key=key)
            self.assertEqual(status, 200, doc)
        r = self.run_cli("history", "--limit", "1", key=key)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(lines[0].split(), ["ID", "MODEL", "STATUS", "COST", "CREATED"])
        self.assertRegex(lines[1], r"^gen_\w+\s+local/procedural\s+succeeded\s+0\s+\d+$")
        self.assertTrue(lines[2].startswith("more: --cursor gen_"), lines)
        r = self.run_cli("history", "--cursor", lines[2].split()[-1], key=key)
        self.assertEqual(len(r.stdout.decode().splitlines()), 2, "the older one, alone")
        r = self.run_cli("credits", "show", key=key)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(acct + " tier managed balance 12.500 open holds 0", r.stdout.decode())
        r = self.run_cli("usage", "--account", acct, "--group-by", "model", env_extra=admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertRegex(out, r"local/procedural\s+2\s+2\s+0\s+0")
        self.assertRegex(out, r"total\s+2\s+2\s+0\s+0")
        r = self.run_cli("usage", "--group-by", "account", "--json", env_extra=admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        groups = {g["group"] for g in json.loads(r.stdout)["data"]}
        self.assertIn(acct, groups)
        for args, code, env in ((("usage", "--group-by", "colour"), 4, admin),
                                (("usage", "--start", "2026-13-01"), 4, admin),
                                (("usage",), 3, {"IMAGEGATE_API_KEY": key}),
                                (("history", "--status", "maybe"), 4, {"IMAGEGATE_API_KEY": key}),
                                (("credits", "grant", acct), 2, admin),
                                (("usage", "extra"), 2, admin)):
            with self.subTest(args=args):
                r = self.run_cli(*args, env_extra=env)
                self.assertEqual(r.returncode, code, r.stderr)

    def test_admin_key_rotation(self):
        """The last admin key cannot be revoked (409 last_admin_key, the key
        still works); rotating is `keys create --admin`, then revoking the
        old one; the new key survives a restart and is then the last."""
        data = tempfile.mkdtemp(prefix="ig-data-")
        self.addCleanup(shutil.rmtree, data, True)
        with Gateway(data_dir=data) as gw:
            old = gw.admin_key
            env = {"IMAGEGATE_URL": "http://127.0.0.1:%d" % gw.port}
            r = self.run_cli("keys", "revoke", "key_admin", key=old, env_extra=env)
            self.assertEqual(r.returncode, 4, r.stderr)
            self.assertIn(b"HTTP 409, last_admin_key", r.stderr)
            status, hdrs, doc = gw.json("DELETE", "/admin/keys/key_admin", key=old)
            self.assertOpenAIError(status, hdrs, doc, 409, "last_admin_key", "id")
            self.assertEqual(doc["error"]["type"], "invalid_request_error")
            self.assertEqual(gw.json("GET", "/admin/keys", key=old)[0], 200, "still works")
            r = self.run_cli("keys", "create", "ops", "--admin", "--scopes", "admin", key=old,
                             env_extra=env)
            self.assertEqual(r.returncode, 2, "--admin and --scopes together")
            r = self.run_cli("keys", "create", "ops", "--admin", key=old, env_extra=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            new = r.stdout.decode().strip()
            new_id = r.stderr.decode().split()[1]
            status, _, doc = gw.json("GET", "/admin/keys", key=new)
            self.assertEqual(status, 200)
            listed = {k["id"]: k for k in doc["data"]}
            self.assertEqual(listed[new_id]["scopes"], ["generate", "admin"])
            r = self.run_cli("keys", "revoke", "key_admin", key=new, env_extra=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            status, hdrs, doc = gw.json("GET", "/admin/keys", key=old)
            self.assertOpenAIError(status, hdrs, doc, 401, "invalid_api_key", None)
            status, hdrs, doc = gw.json("DELETE", "/admin/keys/" + new_id, key=new)
            self.assertOpenAIError(status, hdrs, doc, 409, "last_admin_key", "id")
        with Gateway(data_dir=data) as gw:
            self.assertIsNone(gw.admin_key, "no new admin key is printed")
            self.assertEqual(gw.json("GET", "/admin/keys", key=new)[0], 200)
            status, hdrs, doc = gw.json("GET", "/admin/keys", key=old)
            self.assertOpenAIError(status, hdrs, doc, 401, "invalid_api_key", None)

    def test_unknown_command(self):
        r = self.run_cli("frobnicate")
        self.assertEqual(r.returncode, 2)
        r = self.run_cli("version")
        self.assertEqual(r.stdout, b"imagegate 0.1.0\n")


if __name__ == "__main__":
    unittest.main()
