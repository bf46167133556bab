#!/usr/bin/env python3
"""A fake image provider speaking the OpenAI Images protocol, for tests.
Standard library only; independent of the code under test.

It records every request it receives and answers from a script of planned
replies, so a test can make it misbehave on command:

    POST /__script   [{"status": 500}, {"status": 429, "headers": {"Retry-After": "1"}},
                      {"delay": 2}, {"reset": true}, {"raw": "not json"},
                      {"urls": true}, {"url": "http://10.0.0.1/x.png"}, {"status": 200}]
    GET  /__requests  → [{"method", "path", "headers", "body", "peer"}, ...]
    GET  /__images    → [{"path", "local"}, ...]: every /img/ fetch, and the
                      address it arrived at
    GET  /__errors    → tracebacks of the fake's own failures since the last
                      call (a client leaving midway is not one)
    POST /__reset     forget requests, image fetches and script

With no script left, a generation succeeds with n base64 PNGs (or URLs to
its own /img/<n>.png when the planned reply says "urls"). /img/<n>.png?side=S
serves a noisy S×S PNG (large, incompressible), and &chunked=1 sends it with
chunked transfer encoding. "peer" is the client's port: requests that share
it came over one kept-alive connection.

usage: fake_provider.py [--any]  (prints "listening on PORT" and serves until
killed; on 127.0.0.1, or with --any on every IPv4 and IPv6 address)"""
import base64
import json
import email.parser
import email.policy
import hashlib
import random
import socket
import struct
import sys
import urllib.parse
import threading
import time
import traceback
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def png(width=8, height=8, shade=0, noise=False):
    """A valid RGB PNG whose pixels depend on shade; noise makes them
    seeded random bytes, which do not compress (a large answer)."""
    if noise:
        rng = random.Random(shade)
        rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    else:
        rows = b"".join(b"\x00" + b"".join(bytes([(x * 31 + y * 7 + shade) % 256,
                                                  (shade * 5) % 256, 128]) for x in range(width))
                        for y in range(height))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) +
            chunk(b"IEND", b""))


def parse_form(content_type, body):
    """multipart/form-data as {name: [part]}, each part {"value"} for text or
    {"filename", "type", "size", "sha256"} for a file (email package)."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    form = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            item = {"filename": part.get_filename(), "type": part.get_content_type(),
                    "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        else:
            item = {"value": data.decode()}
        form.setdefault(name, []).append(item)
    return form


class State:
    lock = threading.Lock()
    requests = []
    images = []
    errors = []  # tracebacks of the fake's own failures
    script = []
    jobs = {}  # BFL job id -> {"polls": n, "plan": {...}}
    inflight = 0
    max_inflight = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        try:
            self.send_response(status)
        except (BrokenPipeError, ConnectionResetError):
            return
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway gave up on us (a deadline test)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def record(self, method, body=b""):
        entry = {"method": method, "path": self.path,
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": body.decode(errors="replace"), "peer": self.client_address[1]}
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            entry["form"] = parse_form(ctype, body)
        with State.lock:
            State.requests.append(entry)
        return entry

    # ---- Black Forest Labs: submit, then poll polling_url ----
    #   plan keys: "pending" (polls answered Pending, default 2), "final"
    #   ("Ready" default, or "Error", "Content Moderated", …), "poll_fail" (a
    #   list of HTTP statuses for the first polls), "status"/"detail" to fail
    #   the submit itself.
    def bfl_submit(self, body, plan):
        if plan.get("status", 200) != 200:
            return self.send(plan["status"], {"detail": plan.get("detail", "planned failure")})
        with State.lock:
            job = "job%d" % (len(State.jobs) + 1)
            State.jobs[job] = {"polls": 0, "plan": plan}
        host = self.headers.get("Host")
        self.send(200, {"id": job, "polling_url": "http://%s/v1/get_result?id=%s" % (host, job)})

    def bfl_poll(self):
        job = self.path.split("id=")[-1]
        with State.lock:
            j = State.jobs.get(job)
            if j:
                j["polls"] += 1
                n, plan = j["polls"], j["plan"]
        if not j:
            return self.send(200, {"id": job, "status": "Task not found"})
        fails = plan.get("poll_fail", [])
        if n <= len(fails):
            return self.send(fails[n - 1], {"detail": "planned poll failure"})
        if n <= len(fails) + plan.get("pending", 2):
            return self.send(200, {"id": job, "status": "Pending", "progress": 0.5})
        final = plan.get("final", "Ready")
        if final != "Ready":
            return self.send(200, {"id": job, "status": final})
        host = self.headers.get("Host")
        self.send(200, {"id": job, "status": "Ready",
                        "result": {"sample": "http://%s/img/7.png?sig=abc" % host,
                                   "seed": 1234, "prompt": "x"}})

    # ---- AUTOMATIC1111: images[] base64 and seeds inside the info string ----
    # OpenRouter (shared/providers.md section 12): images through chat
    # completions, as data URIs in choices[0].message.images. Plan keys:
    # "status" (an error answer), "text_only" (a message without images).
    def openrouter(self, body, plan):
        status = plan.get("status", 200)
        if status != 200:
            return self.send(status, {"error": {"code": status,
                                                "message": plan.get("message", "planned failure")}})
        message = {"role": "assistant", "content": plan.get("text", "Here is your image.")}
        if not plan.get("text_only"):
            data = base64.b64encode(png(16, 16, 3)).decode()
            message["images"] = [{"type": "image_url",
                                  "image_url": {"url": "data:image/png;base64," + data}}]
        self.send(200, {"id": "gen-1", "object": "chat.completion", "created": int(time.time()),
                        "model": json.loads(body or b"{}").get("model"),
                        "choices": [{"index": 0, "finish_reason": "stop", "message": message}]})

    def a1111(self, body, plan):
        if plan.get("status", 200) != 200:
            return self.send(plan["status"], {"error": "RuntimeError", "detail": "planned failure",
                                              "body": "", "errors": "planned failure"})
        if plan.get("delay"):
            time.sleep(plan["delay"])
        req = json.loads(body)
        n = int(req.get("batch_size", 1))
        seed = int(req.get("seed", -1))
        seed = 777 if seed < 0 else seed
        info = json.dumps({"seed": seed, "all_seeds": [seed + i for i in range(n)]})
        w, h = plan.get("size", [16, 16])
        self.send(200, {"images": [base64.b64encode(png(w, h, seed + i)).decode()
                                   for i in range(n)], "parameters": req, "info": info})

    # ---- Stability v2beta: multipart in, image bytes (or JSON) out ----
    def stability(self, body, plan):
        status = plan.get("status", 200)
        if status != 200:
            return self.send(status, {"id": "e1", "name": plan.get("name", "bad_request"),
                                      "errors": [plan.get("message", "planned failure")]})
        finish = "CONTENT_FILTERED" if plan.get("filtered") else "SUCCESS"
        img = png(16, 16, 42)
        if plan.get("json"):
            return self.send(200, {"image": base64.b64encode(img).decode(),
                                   "finish_reason": finish, "seed": 4242},
                             "application/json; type=image/png")
        self.send(200, img, "image/png", {"finish-reason": finish, "seed": "4242"})

    # ---- fal queue: submit, status (202 while queued), result ----
    #   plan keys: "pending" (status polls answered IN_QUEUE, default 2),
    #   "nsfw" (flag the images), "data_uri" (inline images).
    def fal_submit(self, plan):
        if plan.get("status", 200) != 200:
            return self.send(plan["status"], {"detail": plan.get("detail", "planned failure")})
        with State.lock:
            job = "fal%d" % (len(State.jobs) + 1)
            State.jobs[job] = {"polls": 0, "plan": plan}
        base = "http://%s/fal-ai/flux/requests/%s" % (self.headers.get("Host"), job)
        self.send(200, {"request_id": job, "status": "IN_QUEUE", "status_url": base + "/status",
                        "response_url": base, "cancel_url": base + "/cancel"})

    def fal_get(self):
        parts = self.path.split("/")
        job = parts[4]
        with State.lock:
            j = State.jobs.get(job)
            if j and self.path.endswith("/status"):
                j["polls"] += 1
        if not j:
            return self.send(404, {"detail": "Request not found"})
        base = "http://%s/fal-ai/flux/requests/%s" % (self.headers.get("Host"), job)
        if self.path.endswith("/status"):
            if j["polls"] <= j["plan"].get("pending", 2):
                return self.send(202, {"status": "IN_QUEUE", "queue_position": 1,
                                       "response_url": base, "status_url": base + "/status"})
            return self.send(200, {"status": "COMPLETED", "response_url": base,
                                   "status_url": base + "/status", "logs": []})
        n = j["plan"].get("n", 1)
        host = self.headers.get("Host")
        if j["plan"].get("data_uri"):
            images = [{"url": "data:image/png;base64," + base64.b64encode(png(16, 16, i)).decode()}
                      for i in range(n)]
        else:
            images = [{"url": "http://%s/img/%d.png" % (host, i + 1), "content_type": "image/png"}
                      for i in range(n)]
        self.send(200, {"images": images, "seed": 99,
                        "has_nsfw_concepts": [bool(j["plan"].get("nsfw"))] * n})

    # ---- Replicate predictions: created, polled through urls.get ----
    #   plan keys: "sync" (succeeded at once), "pending" (polls processing,
    #   default 2), "fail" (end failed with this error), "status" (HTTP error),
    #   "poll_fail" (a list of HTTP statuses for the first polls).
    def replicate_create(self, plan):
        if plan.get("status", 200) != 200:
            return self.send(plan["status"], {"title": "planned", "detail": "planned failure",
                                              "status": plan["status"]})
        with State.lock:
            pid = "pred%d" % (len(State.jobs) + 1)
            State.jobs[pid] = {"polls": 0, "plan": plan}
        self.send(201, self.prediction(pid, "succeeded" if plan.get("sync") else "starting"))

    def prediction(self, pid, status):
        host = self.headers.get("Host")
        plan = State.jobs[pid]["plan"]
        p = {"id": pid, "status": status, "output": None, "error": None,
             "urls": {"get": "http://%s/v1/predictions/%s" % (host, pid),
                      "cancel": "http://%s/v1/predictions/%s/cancel" % (host, pid)}}
        if status == "succeeded":
            p["output"] = ["http://%s/img/%d.png" % (host, i + 1)
                           for i in range(plan.get("n", 1))]
        if status == "failed":
            p["error"] = plan["fail"]
        if status == "processing":  # a progress bar in the logs, as models print them
            p["logs"] = "%d%%|#####     | %d/20" % (min(95, 25 * State.jobs[pid]["polls"]),
                                                  State.jobs[pid]["polls"])
        return p

    def replicate_get(self):
        pid = self.path.split("/")[3]
        with State.lock:
            j = State.jobs.get(pid)
            if j:
                j["polls"] += 1
        if not j:
            return self.send(404, {"title": "Not found", "detail": "no prediction", "status": 404})
        fails = j["plan"].get("poll_fail", [])
        if j["polls"] <= len(fails):
            return self.send(fails[j["polls"] - 1], {"title": "planned poll failure",
                                                    "detail": "planned", "status": 502})
        if j["polls"] <= len(fails) + j["plan"].get("pending", 2):
            return self.send(200, self.prediction(pid, "processing"))
        if j["plan"].get("fail"):
            return self.send(200, self.prediction(pid, "failed"))
        self.send(200, self.prediction(pid, "succeeded"))

    # ---- Leonardo: create, then poll generations_by_pk ----
    #   plan keys: "pending" (default 1), "final" (COMPLETE or FAILED), "nsfw".
    def leonardo_create(self, body, plan):
        if plan.get("status", 200) != 200:
            return self.send(plan["status"], {"error": "planned failure", "code": "x"})
        req = json.loads(body)
        with State.lock:
            gid = "leo-%d" % (len(State.jobs) + 1)
            State.jobs[gid] = {"polls": 0, "plan": plan, "n": req.get("num_images", 1)}
        self.send(200, {"sdGenerationJob": {"generationId": gid, "apiCreditCost": 8}})

    def leonardo_get(self):
        gid = self.path.rsplit("/", 1)[-1]
        with State.lock:
            j = State.jobs.get(gid)
            if j:
                j["polls"] += 1
        if not j:
            return self.send(404, {"error": "not found"})
        if j["polls"] <= j["plan"].get("pending", 1):
            return self.send(200, {"generations_by_pk": {"id": gid, "status": "PENDING",
                                                         "generated_images": []}})
        final = j["plan"].get("final", "COMPLETE")
        host = self.headers.get("Host")
        images = [{"id": "i%d" % i, "url": "http://%s/img/%d.png" % (host, i + 1),
                   "nsfw": bool(j["plan"].get("nsfw"))} for i in range(j["n"])]
        self.send(200, {"generations_by_pk": {"id": gid, "status": final, "seed": 321,
                                              "generated_images": images}})

    # ---- OpenAI streaming (stream: true): partial events, then completed ----
    #   plan keys: "stream_break" (reset after the partials), "stream_error"
    #   (an error event instead of the completed one, with that code).
    def openai_stream(self, partials, plan, prefix="image_generation"):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def event(name, doc):
            self.wfile.write(("event: %s\ndata: %s\n\n" % (name, json.dumps(doc))).encode())
            self.wfile.flush()

        for i in range(partials):
            event(prefix + ".partial_image", {
                "type": prefix + ".partial_image", "partial_image_index": i,
                "b64_json": base64.b64encode(png(16, 16, 100 + i)).decode()})
            time.sleep(0.05)
        if plan.get("stream_break"):
            self.connection.shutdown(2)
            return
        if plan.get("stream_error"):
            return event("error", {"type": "error", "error": {
                "message": "planned stream error", "code": plan["stream_error"]}})
        event(prefix + ".completed", {"type": prefix + ".completed",
                                      "b64_json": base64.b64encode(png(16, 16, 200)).decode(),
                                      "usage": {"total_tokens": 1}})

    # ---- OpenAI edits and variations: multipart in, b64 images out ----
    def openai_form(self, form, plan):
        status = plan.get("status", 200)
        if status != 200 or form is None or not (form.get("image") or form.get("image[]")):
            return self.send(status if status != 200 else 400, {"error": {
                "message": "planned failure" if status != 200 else "image is required",
                "type": "invalid_request_error", "param": None, "code": None}})
        if form.get("stream", [{}])[0].get("value") == "true":
            partials = int(form.get("partial_images", [{"value": "0"}])[0]["value"])
            return self.openai_stream(partials, plan, "image_edit")
        n = int(form.get("n", [{"value": "1"}])[0]["value"])
        self.send(200, {"created": int(time.time()), "data": [
            {"b64_json": base64.b64encode(png(16, 16, 50 + i)).decode()} for i in range(n)]})

    def do_PUT(self):
        self.record("PUT")
        self.send(202, {"status": "CANCELLATION_REQUESTED"})

    def do_GET(self):
        if self.path.startswith("/api/rest/v1/generations/"):
            self.record("GET")
            return self.leonardo_get()
        if self.path.startswith("/fal-ai/flux/requests/"):
            self.record("GET")
            return self.fal_get()
        if self.path.startswith("/v1/predictions/"):
            self.record("GET")
            return self.replicate_get()
        if self.path.startswith("/v1/get_result"):
            self.record("GET")
            return self.bfl_poll()
        if self.path == "/__requests":
            with State.lock:
                return self.send(200, State.requests)
        if self.path == "/__stats":
            with State.lock:
                return self.send(200, {"max_inflight": State.max_inflight})
        if self.path == "/__errors":
            with State.lock:
                errors, State.errors = State.errors, []
            return self.send(200, errors)
        if self.path == "/__images":
            with State.lock:
                return self.send(200, State.images)
        if self.path.startswith("/img/"):
            with State.lock:
                State.images.append({"path": self.path, "local": self.connection.getsockname()[0]})
            shade = int(self.path.split("/")[-1].split("?")[0].split(".")[0] or 0)
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            if "side" not in query:
                return self.send(200, png(16, 16, shade), "image/png")
            side = int(query["side"][0])
            data = png(side, side, shade, noise=True)
            if "chunked" not in query:
                return self.send(200, data, "image/png")
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 5000):
                piece = data[i:i + 5000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/gone/"):
            return self.send(404, {"error": "expired"})
        if self.path.startswith("/notimage/"):
            return self.send(200, b"<html>not an image</html>", "text/html")
        self.send(404, {"error": {"message": "no such path", "type": "invalid_request_error",
                                  "param": None, "code": None}})

    def do_POST(self):
        body = self.read_body()
        if self.path == "/__script":
            with State.lock:
                State.script = json.loads(body)
            return self.send(200, {"ok": True})
        if self.path == "/__reset":
            with State.lock:
                State.script = []
                State.requests = []
                State.images = []
                State.jobs = {}
                State.max_inflight = 0
            return self.send(200, {"ok": True})
        entry = self.record("POST", body)
        with State.lock:
            plan = State.script.pop(0) if State.script else {}
        if self.path.startswith("/v1/flux"):
            return self.bfl_submit(body, plan)
        if self.path.startswith("/fal-ai/") and "/requests/" not in self.path:
            return self.fal_submit(plan)
        if self.path.startswith("/v1/models/") or self.path == "/v1/predictions":
            return self.replicate_create(plan)
        if self.path.startswith("/v1/predictions/") and self.path.endswith("/cancel"):
            return self.send(200, {"status": "canceled"})
        if self.path == "/api/rest/v1/generations":
            return self.leonardo_create(body, plan)
        if self.path in ("/sdapi/v1/txt2img", "/sdapi/v1/img2img"):
            return self.a1111(body, plan)
        if self.path.startswith("/v2beta/stable-image/generate/"):
            return self.stability(body, plan)
        if self.path == "/api/v1/chat/completions":
            return self.openrouter(body, plan)
        with State.lock:
            State.inflight += 1
            State.max_inflight = max(State.max_inflight, State.inflight)
        try:
            if plan.get("delay"):
                time.sleep(plan["delay"])
        finally:
            with State.lock:
                State.inflight -= 1
        if plan.get("reset"):
            self.connection.shutdown(2)
            self.close_connection = True
            return
        if "raw" in plan:
            return self.send(plan.get("status", 200), plan["raw"])
        if self.path.endswith(("/images/edits", "/images/variations")):
            return self.openai_form(entry.get("form"), plan)
        if plan.get("truncate") or plan.get("slow_body"):
            # A success whose body is cut short (Content-Length promises more
            # than is sent) or arrives a few bytes at a time.
            n = int(json.loads(body).get("n", 1))
            full = json.dumps({"created": 1, "data": [
                {"b64_json": base64.b64encode(png(16, 16, i + 1)).decode()} for i in range(n)]
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(full)))
            self.end_headers()
            if plan.get("truncate"):
                self.wfile.write(full[: len(full) // 2])
                self.wfile.flush()
                self.connection.shutdown(2)
                self.close_connection = True
                return
            for i in range(0, len(full), 256):
                self.wfile.write(full[i:i + 256])
                self.wfile.flush()
                time.sleep(plan["slow_body"])
            return
        status = plan.get("status", 200)
        if status != 200:
            err = plan.get("error") or {"message": "planned failure %d" % status,
                                        "type": "server_error", "param": None, "code": None}
            return self.send(status, {"error": err}, headers=plan.get("headers"))
        try:
            req = json.loads(body)
        except ValueError:
            return self.send(400, {"error": {"message": "bad json", "type": "invalid_request_error",
                                             "param": None, "code": None}})
        if req.get("stream"):
            return self.openai_stream(int(req.get("partial_images", 0)), plan)
        n = int(req.get("n", 1))
        host = self.headers.get("Host")
        data = []
        for i in range(n):
            if "url" in plan:
                data.append({"url": plan["url"]})
            elif plan.get("urls"):
                data.append({"url": "http://%s/img/%d.png" % (host, i + 1)})
            else:
                side = plan.get("side", 16)  # "side": a larger, incompressible image
                data.append({"b64_json": base64.b64encode(
                                 png(side, side, i + 1, noise="side" in plan)).decode(),
                             "revised_prompt": "revised: " + req.get("prompt", "")})
        self.send(200, {"created": int(time.time()), "data": data})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Tests race hundreds of requests: socketserver's default backlog of 5
    # drops connects, which then wait for the kernel's SYN retry (1 s, 3 s).
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # A client (the gateway) that leaves a connection it gave up on is
        # part of what is tested, not an error of the fake's. Anything else
        # is a bug in the fake: kept for /__errors (the test that caused it
        # fails) and printed.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return
        with State.lock:
            State.errors.append(traceback.format_exc())
        super().handle_error(request, client_address)


class DualStackServer(Server):
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    if "--any" in sys.argv[1:]:
        server = DualStackServer(("::", 0), Handler)
    else:
        server = Server(("127.0.0.1", 0), Handler)
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
