"""stream=true: OpenAI's server-sent events for partial images, from the
local renderer, over chunked HTTP/1.1 (and close-delimited HTTP/1.0)."""
import base64
import json
import socket
import unittest

from harness import GatewayTest, recv_all


def dechunk(body):
    out, rest = b"", body
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            return out, rest[2:]
        out, rest = out + rest[:n], rest[n + 2:]
    raise AssertionError("no terminating chunk")


def events(text):
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


class Streaming(GatewayTest):
    def raw_stream(self, fields, version=b"1.1", extra=b""):
        body = json.dumps(fields).encode()
        req = (b"POST /v1/images/generations HTTP/" + version + b"\r\nHost: x\r\n"
               b"Authorization: Bearer " + self.gw.admin_key.encode() +
               b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) +
               body + extra)
        s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=20)
        s.sendall(req)
        return s

    def test_partials_then_completed(self):
        s = self.raw_stream({"prompt": "a red kite over hills", "size": "256x192", "seed": 8,
                             "stream": True, "partial_images": 3},
                            extra=b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = recv_all(s)
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"HTTP/1.1 200 OK", head)
        self.assertIn(b"Content-Type: text/event-stream", head)
        self.assertIn(b"Transfer-Encoding: chunked", head)
        stream, after = dechunk(body)
        evs = events(stream.decode())
        self.assertEqual([e for e, _ in evs], ["image_generation.partial_image"] * 3 +
                         ["image_generation.completed"])
        self.assertEqual([d["partial_image_index"] for _, d in evs[:3]], [0, 1, 2])
        images = [base64.b64decode(d["b64_json"]) for _, d in evs]
        self.assertEqual(len(set(images)), 4, "each partial adds to the picture")
        for img in images:
            self.assertTrue(img.startswith(b"\x89PNG"))
        done = evs[-1][1]
        self.assertEqual((done["size"], done["output_format"]), ("256x192", "png"))
        self.assertTrue(done["_metadata"]["generation_id"].startswith("gen_"))
        # Keep-alive survives the stream: the pipelined healthz was answered.
        self.assertIn(b"HTTP/1.1 200 OK", after)
        self.assertIn(b'{"status":"ok"}', after)
        # The streamed generation was stored and recorded, its final image
        # byte for byte.
        rec = self.gw.stored(done["_metadata"]["generation_id"])
        self.assertEqual(rec["status"], "succeeded")
        self.assertEqual(rec["images"], [images[-1]])
        # The final image is the same picture a plain request gives.
        status, _, plain = self.gw.generate(prompt="a red kite over hills", size="256x192",
                                            seed=8, response_format="b64_json")
        a = base64.b64decode(plain["data"][0]["b64_json"])
        self.assertEqual(a[a.index(b"IDAT"):], images[-1][images[-1].index(b"IDAT"):])

    def test_no_partials_and_http10(self):
        s = self.raw_stream({"prompt": "x", "size": "64x64", "stream": True}, version=b"1.0")
        data = recv_all(s)
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"HTTP/1.0 200 OK", head)
        self.assertNotIn(b"Transfer-Encoding", head)
        evs = events(body.decode())
        self.assertEqual([e for e, _ in evs], ["image_generation.completed"])

    def test_stream_rejections(self):
        for fields, param in (({"stream": True, "n": 2}, "n"),
                              ({"partial_images": 2}, "partial_images"),
                              ({"stream": True, "partial_images": 4}, "partial_images"),
                              ({"stream": "yes"}, "stream")):
            with self.subTest(fields=fields):
                fields.update(prompt="x", size="64x64")
                status, hdrs, doc = self.gw.json("POST", "/v1/images/generations", fields,
                                                 key=self.gw.admin_key)
                self.assertOpenAIError(status, hdrs, doc, 400, None, param)

    def test_client_leaving_mid_stream(self):
        s = self.raw_stream({"prompt": "gone", "size": "1024x1024", "stream": True,
                             "partial_images": 3})
        s.recv(100)
        s.close()
        self.assertEqual(self.gw.request("GET", "/healthz")[0], 200)
        self.assertEqual(self.gw.generate(size="64x64")[0], 200)


if __name__ == "__main__":
    unittest.main()
