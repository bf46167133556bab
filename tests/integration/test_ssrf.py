"""The address policy end to end, inside a network namespace that has only
loopback (`unshare -rnm`), so nothing can leave the host: an address the
policy wrongly allowed fails as unreachable (or, where the namespace's
loopback carries it, reaches the image server, which records it), and a
refused one fails with the policy's own message.

The test methods run this file again inside a fresh namespace
(`--inside SCENARIO`), where it adds addresses to lo, binds a hosts file
of its own over /etc/hosts (names that resolve privately), starts the
fakes and the gateway, and prints what happened as JSON for the test to
judge."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# Addresses the namespace's loopback carries: special-purpose ones (also
# "this host's own interface", as on the machine of the issue), public-
# looking ones that are this host's own, and one the operator allow-lists.
ON_LO = ["192.0.2.2/32", "198.18.0.1/32", "192.0.0.170/32", "1.2.3.4/32", "203.0.113.5/32",
         "2001:db8::2/128", "2606:4700:10::6/128"]
HOSTS = """127.0.0.1 localhost
::1 localhost
192.0.2.2 private.test
1.2.3.4 own.test
169.254.169.254 metadata.test
100.100.100.200 alibaba-metadata.test
"""

SPECIAL = "a private or special-purpose address"
OWN = "an address of this host"
METADATA = "a cloud metadata service"

# (URL host[:port] part, what the policy must say; None: allowed). {p} is
# the image server's port.
CASES = [
    ("192.0.2.2:{p}", "192.0.2.2: " + SPECIAL),
    ("198.18.0.1:{p}", "198.18.0.1: " + SPECIAL),
    ("192.0.0.170:{p}", "192.0.0.170: " + SPECIAL),
    ("192.88.99.1:{p}", "192.88.99.1: " + SPECIAL),
    ("198.51.100.7:{p}", "198.51.100.7: " + SPECIAL),
    ("255.255.255.255:{p}", "255.255.255.255: " + SPECIAL),
    ("127.0.0.1:{p}", "127.0.0.1: " + SPECIAL),
    ("[2001:db8::2]:{p}", "2001:db8::2: " + SPECIAL),
    ("[64:ff9b::7f00:1]:{p}", "64:ff9b::7f00:1: " + SPECIAL),
    ("[2002:7f00:1::1]:{p}", "2002:7f00:1::1: " + SPECIAL),
    ("[::ffff:127.0.0.1]:{p}", "::ffff:127.0.0.1: " + SPECIAL),
    ("[100::1]:{p}", "100::1: " + SPECIAL),
    ("private.test:{p}", "192.0.2.2: " + SPECIAL),
    ("1.2.3.4:{p}", "1.2.3.4: " + OWN),
    ("own.test:{p}", "1.2.3.4: " + OWN),
    ("[2606:4700:10::6]:{p}", "2606:4700:10::6: " + OWN),
    ("169.254.169.254", "169.254.169.254: " + METADATA),
    ("metadata.test", "169.254.169.254: " + METADATA),
    ("[fd00:ec2::254]", "fd00:ec2::254: " + METADATA),
]
KEY = "sk-never-printed-7731"
UNREACHABLE = "8.8.8.8:{p}"  # allowed, and nowhere in the namespace
ALLOWED = "203.0.113.5:{p}"  # allow-listed, and on lo: served


def run_inside(scenario, timeout=120):
    """Runs a scenario of this file in a fresh namespace; its JSON."""
    r = subprocess.run(["unshare", "-rnm", sys.executable, os.path.abspath(__file__), "--inside",
                        scenario], capture_output=True, timeout=timeout, env=os.environ.copy())
    if r.returncode != 0:
        raise AssertionError("scenario %s failed (exit %d):\n%s\n%s" % (
            scenario, r.returncode, r.stdout.decode()[-3000:], r.stderr.decode()[-3000:]))
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


# ---- inside the namespace ----

def namespace_setup():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for a in ON_LO:
        subprocess.run(["ip", "addr", "add", a, "dev", "lo"], check=True)
    fd, hosts = tempfile.mkstemp(prefix="ig-hosts-")
    os.write(fd, HOSTS.encode())
    os.close(fd)
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    links = [name for _, name in socket.if_nameindex()]
    up = subprocess.run(["ip", "-o", "link", "show", "up"], capture_output=True,
                        check=True).stdout.decode()
    return {"interfaces": links, "up": [line.split(":")[1].strip() for line in up.splitlines()]}


def downloads(builtin_http):
    from harness import Gateway
    from test_providers import Fake
    info = namespace_setup()
    provider, images = Fake(), Fake(any_address=True)
    config = """
breaker:
  failure_threshold: 0
upstream:
  max_attempts: 1
  deadline_ms: 4000
  builtin_http: %s
  allow_networks: "203.0.113.0/24"
""" % ("true" if builtin_http else "false")
    gw = Gateway(config=config, env={"OPENAI_API_KEY": "sk-test",
                                     "OPENAI_BASE_URL": provider.base + "/v1"})
    out = dict(info, cases={})
    try:
        for host, _ in CASES + [(UNREACHABLE, None), (ALLOWED, None)]:
            url = "http://%s/img/1.png" % host.format(p=images.port)
            provider.script([{"url": url}])
            status, _, doc = gw.json("POST", "/v1/images/generations",
                                     {"model": "dall-e-2", "prompt": "x",
                                      "response_format": "b64_json"}, key=gw.admin_key)
            msg = doc.get("error", {}).get("message") if isinstance(doc, dict) else None
            out["cases"][host] = {"status": status, "message": msg,
                                  "provider_requests": len(provider.requests())}
        out["images"] = images.call("/__images")
        out["fake_errors"] = provider.errors() + images.errors()
        out["exit"] = gw.stop()
    finally:
        gw.cleanup()  # a sanitizer report fails the scenario
        provider.stop()
        images.stop()
    return out


def start_refused():
    """A configured api_base that resolves to a metadata service stops the
    start, naming where it was written."""
    from harness import BIN
    info = namespace_setup()
    out = dict(info, runs={})
    runs = {
        "env": ({"OPENAI_BASE_URL": "http://169.254.169.254/v1", "OPENAI_API_KEY": KEY}, None),
        "literal6": ({}, "models:\n  - name: m\n    deployments:\n      - provider: openai\n"
                         "        model: dall-e-2\n        api_base: \"http://[fd00:ec2::254]/v1\"\n"),
        "name": ({}, "# a comment line\nmodels:\n  - name: m\n    deployments:\n"
                     "      - provider: openai\n        model: dall-e-2\n"
                     "        api_base: http://alibaba-metadata.test:8080/v1\n"),
        "fine": ({}, "models:\n  - name: m\n    deployments:\n      - provider: openai\n"
                     "        model: dall-e-2\n        api_base: http://private.test:9/v1\n"),
    }
    for name, (env, config) in runs.items():
        cmd = [BIN, "serve", "--listen", "127.0.0.1:0", "--data", tempfile.mkdtemp()]
        path = None
        if config:
            fd, path = tempfile.mkstemp(prefix="ig-cfg-", suffix=".yaml")
            os.write(fd, config.encode())
            os.close(fd)
            cmd += ["--config", path]
        full_env = {k: v for k, v in os.environ.items()
                    if not k.endswith(("_API_KEY", "_BASE_URL"))}
        full_env.update(env)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
        first = p.stdout.readline().decode()
        while "listening on" not in first and first:
            first = p.stdout.readline().decode()
        started = "listening on" in first
        if started:
            p.terminate()
        _, err = p.communicate(timeout=20)
        out["runs"][name] = {"started": started, "exit": p.returncode, "stderr": err.decode(),
                             "config": path}
    return out


def webhooks():
    """Jobs whose webhook_url names each address: deliveries to special-
    purpose addresses, this host's own and the metadata services are
    refused by the policy; the allow-listed one is delivered."""
    from harness import Gateway, wait_for
    from test_webhooks import Receiver
    info = namespace_setup()
    hook = Receiver(host="::", family=socket.AF_INET6)
    gw = Gateway(config="""
webhooks:
  allow_networks: "203.0.113.0/24"
  retry_delays_ms: "60000"
  timeout_ms: 2000
""")
    out = dict(info, cases={})
    try:
        urls = {}
        for host, _ in CASES + [(UNREACHABLE, None), (ALLOWED, None)]:
            url = "http://%s/hook" % host.format(p=hook.port)
            status, _, job = gw.json("POST", "/v1/images/jobs",
                                     {"prompt": "x", "size": "64x64", "webhook_url": url},
                                     key=gw.admin_key)
            assert status == 202, job
            urls[url] = host

        def attempted():
            s, _, d = gw.json("GET", "/v1/webhooks/deliveries?limit=100", key=gw.admin_key)
            return d["data"] if len(d["data"]) == len(urls) and all(
                x["attempts"] >= 1 or x["status"] != "pending" for x in d["data"]) else None
        for d in wait_for(attempted, 60, interval=0.1, what="every delivery to be attempted"):
            out["cases"][urls[d["url"]]] = {"status": d["status"], "error": d["last_error"],
                                            "attempts": d["attempts"]}
        out["received"] = [r["local"].replace("::ffff:", "") for r in hook.requests]
        out["exit"] = gw.stop()
    finally:
        gw.cleanup()
        hook.stop()
    return out


def inside(scenario):
    if scenario == "webhooks":
        result = webhooks()
    elif scenario == "downloads-h1":
        result = downloads(True)
    elif scenario == "downloads-curl":
        result = downloads(False)
    elif scenario == "start":
        result = start_refused()
    else:
        raise SystemExit("unknown scenario " + scenario)
    print(json.dumps(result))


# ---- the tests, outside ----

class AddressPolicyInANamespace(unittest.TestCase):
    def check_downloads(self, r):
        self.assertEqual(r["up"], ["lo"], "the namespace has loopback only")
        self.assertEqual(r["exit"], 0)
        self.assertEqual(r["fake_errors"], [])
        for host, got in r["cases"].items():
            self.assertEqual(got["provider_requests"], 1, "%s: %s" % (host, got))
        for host, want in CASES:
            with self.subTest(host=host):
                got = r["cases"][host]
                self.assertEqual(got["status"], 502, got)
                self.assertIn("could not be downloaded: refused to connect to " + want,
                              got["message"])
        got = r["cases"][UNREACHABLE]
        self.assertEqual(got["status"], 502, got)
        self.assertNotIn("refused to connect", got["message"],
                         "allowed by the policy, and unreachable in the namespace")
        self.assertEqual(r["cases"][ALLOWED]["status"], 200, r["cases"][ALLOWED])
        # Only the allow-listed address reached the image server, although
        # the namespace's loopback carries every address of ON_LO.
        self.assertEqual([i["local"].replace("::ffff:", "") for i in r["images"]],
                         ["203.0.113.5"])

    def test_builtin_client(self):
        self.check_downloads(run_inside("downloads-h1"))

    def test_libcurl(self):
        self.check_downloads(run_inside("downloads-curl"))

    def test_webhook_deliveries(self):
        r = run_inside("webhooks")
        self.assertEqual(r["up"], ["lo"])
        self.assertEqual(r["exit"], 0)
        for host, want in CASES:
            with self.subTest(host=host):
                got = r["cases"][host]
                self.assertEqual((got["status"], got["attempts"]), ("failed", 1), got)
                self.assertIn("refused to connect to " + want, got["error"])
        got = r["cases"][UNREACHABLE]
        self.assertNotIn("refused to connect", got["error"] or "",
                         "allowed by the policy, and unreachable in the namespace")
        self.assertEqual(r["cases"][ALLOWED]["status"], "delivered", r["cases"][ALLOWED])
        self.assertEqual(r["received"], ["203.0.113.5"],
                         "only the allow-listed address reached the receiver")

    def test_a_metadata_api_base_is_refused_at_start(self):
        r = run_inside("start")
        self.assertEqual(r["up"], ["lo"])
        runs = r["runs"]
        for name, where, addr in (("env", "OPENAI_BASE_URL", "169.254.169.254"),
                                  ("literal6", "%s:6" % runs["literal6"]["config"],
                                   "fd00:ec2::254"),
                                  ("name", "%s:7" % runs["name"]["config"], "100.100.100.200")):
            with self.subTest(name=name):
                run = runs[name]
                self.assertFalse(run["started"], run["stderr"])
                self.assertNotEqual(run["exit"], 0)
                self.assertIn("%s: api_base " % where, run["stderr"])
                self.assertIn("resolves to %s, a cloud metadata service" % addr, run["stderr"])
                self.assertNotIn(KEY, run["stderr"], "the key is not printed")
        self.assertTrue(runs["fine"]["started"],
                        "a private api_base is the operator's to choose: " +
                        runs["fine"]["stderr"])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        inside(sys.argv[2])
    else:
        unittest.main()
