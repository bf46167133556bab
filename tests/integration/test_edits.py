"""POST /v1/images/edits and /v1/images/variations against the local
renderer: multipart parsing, masks honoured pixel for pixel, every
rejection in the OpenAI error shape, the upload limit, streaming edits."""
import base64
import json
import random
import socket
import unittest

from harness import (GatewayTest, b64_image, decode_png, encode_png, multipart, post_form,
                     recv_all, split_responses)

W = H = 96


def picture(x, y):
    return ((x * 5) % 256, (y * 3) % 256, 200)


INPUT = encode_png(W, H, picture)
# Left half transparent (edit there), right half opaque (keep).
MASK = encode_png(W, H, lambda x, y: (0, 0, 0, 0 if x < W // 2 else 255), alpha=True)


def image_file(data=INPUT, name="image", filename="in.png", ctype="image/png"):
    return (name, filename, ctype, data)


class Edits(GatewayTest):
    config = "limits:\n  max_upload_bytes: 300000\n"

    def edit(self, fields=(), files=None, path="/v1/images/edits"):
        fields = list(fields)
        if path.endswith("edits") and not any(k == "prompt" for k, _ in fields):
            fields.append(("prompt", "a blue ocean"))
        return post_form(self.gw, path, fields, [image_file()] if files is None else files)

    def test_mask_replaces_only_the_transparent_area(self):
        status, _, doc = self.edit([("response_format", "b64_json"), ("seed", "9")],
                                   [image_file(), image_file(MASK, "mask", "mask.png")])
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["_metadata"]["operation"], "edit")
        self.assertEqual(doc["size"], "%dx%d" % (W, H), "an edit keeps the input's size")
        w, h, ch, rows = decode_png(b64_image(doc))
        self.assertEqual((w, h, ch), (W, H, 3))
        changed_left = kept_right = 0
        for y in range(H):
            for x in range(W):
                px = tuple(rows[y][x * 3:x * 3 + 3])
                if x >= W // 2:
                    kept_right += px == picture(x, y)
                else:
                    changed_left += px != picture(x, y)
        self.assertEqual(kept_right, (W // 2) * H, "opaque mask pixels come back untouched")
        self.assertGreater(changed_left, (W // 2) * H * 0.9, "transparent pixels are repainted")

    def test_edit_without_mask_and_stored_copy(self):
        status, _, doc = self.edit([("strength", "0.5")])
        self.assertEqual(status, 200, doc)
        url = doc["data"][0]["url"]
        path = url[url.index("/v1/files/"):]
        status, hdrs, data = self.gw.request("GET", path)
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["content-type"], "image/png")
        w, h, _, rows = decode_png(data)
        self.assertEqual((w, h), (W, H))
        self.assertNotEqual(rows[10][:30], b"".join(bytes(picture(x, 10)) for x in range(10)))
        # The same edit twice, seeded, is the same picture; the prompt matters.
        a = self.edit([("seed", "3"), ("response_format", "b64_json")])[2]
        b = self.edit([("seed", "3"), ("response_format", "b64_json")])[2]
        c = self.edit([("seed", "3"), ("response_format", "b64_json"), ("prompt", "red fire")])[2]
        pa, pb, pc = (decode_png(b64_image(d))[3] for d in (a, b, c))
        self.assertEqual(pa, pb)
        self.assertNotEqual(pa, pc)

    def test_variations(self):
        status, _, doc = self.edit([("n", "2"), ("response_format", "b64_json")],
                                   path="/v1/images/variations")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["_metadata"]["operation"], "variation")
        imgs = [b64_image(doc, i) for i in range(2)]
        self.assertNotEqual(imgs[0], imgs[1])
        for img in imgs:
            self.assertEqual(decode_png(img)[:2], (W, H))
        status, hdrs, doc = self.edit([("prompt", "x")], path="/v1/images/variations")
        self.assertOpenAIError(status, hdrs, doc, 400, "unknown_parameter", "prompt")
        status, hdrs, doc = self.edit([], [image_file(), image_file(MASK, "mask", "m.png")],
                                      path="/v1/images/variations")
        self.assertOpenAIError(status, hdrs, doc, 400, "unknown_parameter", "mask")

    def test_models_say_what_they_edit(self):
        status, _, m = self.gw.json("GET", "/v1/models/local", key=self.gw.admin_key)
        self.assertEqual(status, 200)
        self.assertEqual(m["imagegate"]["operations"], ["generation", "edit", "variation"])
        self.assertEqual(m["imagegate"]["edits"],
                         {"max_input_images": 1, "mask": True, "strength": True})

    def test_field_rejections(self):
        not_alpha = encode_png(W, H, lambda x, y: (0, 0, 0))
        small_mask = encode_png(W // 2, H, lambda x, y: (0, 0, 0, 0), alpha=True)
        cases = [
            ([], [], 400, "missing_required_parameter", "image"),
            ([("prompt", " ")], None, 400, "invalid_value", "prompt"),
            ([], [image_file(b"GIF89a not what we take")], 400, "invalid_image_format", "image"),
            ([], [image_file(b"")], 400, "invalid_image_format", "image"),
            # A header that parses over damaged data: found before anything runs.
            ([], [image_file(INPUT[:len(INPUT) // 2])], 400, "invalid_image_format", "image"),
            ([], [image_file(), image_file(MASK[:60] + bytes(40) + MASK[100:], "mask")], 400,
             "invalid_image_format", "mask"),
            ([], [image_file(), image_file(not_alpha, "mask")], 400, "invalid_image_format",
             "mask"),
            ([], [image_file(), image_file(small_mask, "mask")], 400, "invalid_value", "mask"),
            ([], [image_file(), image_file(MASK, "mask"), image_file(MASK, "mask")], 400,
             "invalid_value", "mask"),
            ([], [image_file(), image_file(name="image[]")], 400, "invalid_value", "image"),
            ([], [image_file(), image_file(name="extra")], 400, "unknown_parameter", "extra"),
            ([("size", "128x128")], None, 400, "invalid_value", "size"),
            ([("n", "two")], None, 400, "invalid_type", "n"),
            ([("n", "[1]")], None, 400, "invalid_type", "n"),
            ([("n", "11")], None, 400, "invalid_value", "n"),
            ([("strength", "1.5")], None, 400, "invalid_value", "strength"),
            ([("colour", "red")], None, 400, "unknown_parameter", "colour"),
            ([("n", "1"), ("n", "2")], None, 400, "invalid_value", "n"),
            ([("input_fidelity", "high")], None, 400, "unsupported_parameter", "input_fidelity"),
            ([("model", "no-such-model")], None, 404, "model_not_found", "model"),
            ([("image", "not a file")], [], 400, "invalid_image_format", "image"),
        ]
        for fields, files, want, code, param in cases:
            with self.subTest(fields=fields, files=[f[0] for f in files or []]):
                status, hdrs, doc = self.edit(fields, files)
                self.assertOpenAIError(status, hdrs, doc, want, code, param)
        big = encode_png(3000, 3000, lambda x, y: (0, 0, 0))
        status, hdrs, doc = self.edit([], [image_file(big)])
        self.assertOpenAIError(status, hdrs, doc, 400, "invalid_value", "image")

    def test_body_rejections(self):
        key = self.gw.admin_key
        status, hdrs, doc = self.gw.json("POST", "/v1/images/edits", {"prompt": "x"}, key=key)
        self.assertOpenAIError(status, hdrs, doc, 415, "unsupported_media_type", None)
        ctype, body = multipart([("prompt", "x")], [image_file()])
        for bad_ct in ("multipart/form-data", "multipart/form-data; boundary=elsewhere"):
            status, hdrs, data = self.gw.request("POST", "/v1/images/edits", body,
                                                 {"Content-Type": bad_ct}, key=key)
            doc = json.loads(data)
            self.assertOpenAIError(status, hdrs, doc, 400, "invalid_multipart", None)
        status, hdrs, data = self.gw.request("POST", "/v1/images/edits", b"garbage",
                                             {"Content-Type": ctype}, key=key)
        self.assertOpenAIError(status, hdrs, json.loads(data), 400, "invalid_multipart", None)
        # No key, no parse: the upload is refused before anything is read into it.
        status, hdrs, data = self.gw.request("POST", "/v1/images/edits", body,
                                             {"Content-Type": ctype})
        self.assertOpenAIError(status, hdrs, json.loads(data), 401, "missing_api_key", None)

    def test_upload_limit(self):
        # limits.max_upload_bytes is 300000 here; JSON bodies keep their own 1 MiB.
        noise = bytes((i * 7919) % 251 for i in range(320000))
        ctype, body = multipart([("prompt", "x")], [image_file(noise)])
        status, hdrs, data = self.gw.request("POST", "/v1/images/edits", body,
                                             {"Content-Type": ctype}, key=self.gw.admin_key)
        self.assertOpenAIError(status, hdrs, json.loads(data), 413, "request_too_large", None)
        self.assertIn("300000", json.loads(data)["error"]["message"])
        # The gateway is none the worse: the next upload works.
        status, _, doc = self.edit()
        self.assertEqual(status, 200, doc)
        # A generation body of 400 KB is within max_body_bytes (1 MiB) and is read.
        status, _, doc = self.gw.json("POST", "/v1/images/generations",
                                      {"prompt": "x" * 400000}, key=self.gw.admin_key)
        self.assertEqual((status, doc["error"]["param"]), (400, "prompt"))

    def test_mutated_forms_are_answered_not_crashed(self):
        # A seeded mutation of a good form (flipped, cut and inserted bytes,
        # stray boundaries and nested multipart headers): every answer is a
        # 200 or a 400 in the OpenAI shape, never a 5xx, and the run under
        # ASan/UBSan (make test's second pass) stays clean.
        small = encode_png(64, 64, lambda x, y: (x, y, 3))
        mask = encode_png(64, 64, lambda x, y: (0, 0, 0, x * 4), alpha=True)
        ctype, body = multipart([("prompt", "x"), ("n", "1")],
                                [image_file(small), image_file(mask, "mask", "m.png")])
        rng = random.Random(7)
        inserts = [b"\r\n", b"--", b"--igtestboundary7MA4YWxkTrZu0gW", b"\r\n\r\n", b"\x00",
                   b"Content-Type: multipart/mixed; boundary=q\r\n", b'"', b";"]
        seen = set()
        for _ in range(150):
            b = bytearray(body)
            for _ in range(rng.randint(1, 12)):
                pos, op = rng.randrange(len(b)), rng.random()
                if op < 0.4:
                    b[pos] = rng.randrange(256)
                elif op < 0.7:
                    del b[pos:pos + rng.randint(1, 40)]
                else:
                    b[pos:pos] = rng.choice(inserts)
            status, hdrs, data = self.gw.request("POST", "/v1/images/edits", bytes(b),
                                                 {"Content-Type": ctype}, key=self.gw.admin_key)
            seen.add(status)
            self.assertIn(status, (200, 400), data[:300])
            if status == 400:
                self.assertOpenAIError(status, hdrs, json.loads(data), 400,
                                       json.loads(data)["error"]["code"],
                                       json.loads(data)["error"]["param"])
        self.assertIn(400, seen)
        status, _, doc = self.edit()
        self.assertEqual(status, 200, doc)

    def test_streaming_edit(self):
        ctype, body = multipart([("prompt", "green hills"), ("stream", "true"),
                                 ("partial_images", "2")], [image_file(), image_file(MASK, "mask")])
        s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=20)
        s.sendall(b"POST /v1/images/edits HTTP/1.0\r\nAuthorization: Bearer " +
                  self.gw.admin_key.encode() + b"\r\nContent-Type: " + ctype.encode() +
                  b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        data = recv_all(s)
        s.close()
        head, _, stream = data.partition(b"\r\n\r\n")
        self.assertIn(b"text/event-stream", head)
        names = [line.split(b": ", 1)[1] for line in stream.split(b"\n")
                 if line.startswith(b"event: ")]
        self.assertEqual(names, [b"image_edit.partial_image"] * 2 + [b"image_edit.completed"])
        last = json.loads(stream.strip().split(b"\n")[-1].split(b": ", 1)[1])
        w, h, _, rows = decode_png(base64.b64decode(last["b64_json"]))
        self.assertEqual((w, h), (W, H))
        self.assertEqual(rows[5][-3:], bytes(picture(W - 1, 5)), "the mask holds in streams too")


class ImageLimits(GatewayTest):
    """image_too_large: an upload past limits.max_input_pixels (here the
    least, 4096: 64x64), judged from its header before it is decoded."""
    config = "limits:\n  max_input_pixels: 4096\n"

    def test_pixels(self):
        ok = encode_png(64, 64, picture)
        wide = encode_png(65, 64, picture)
        alpha = encode_png(80, 80, lambda x, y: (0, 0, 0, 0), alpha=True)
        for files, param, size in (([image_file(wide)], "image", "65x64"),
                                   ([image_file(ok), image_file(alpha, "mask")], "mask", "80x80")):
            with self.subTest(param=param):
                status, hdrs, doc = post_form(self.gw, "/v1/images/edits",
                                              [("prompt", "x")], files)
                self.assertOpenAIError(status, hdrs, doc, 400, "image_too_large", param)
                self.assertIn(size, doc["error"]["message"])
                self.assertIn("4096", doc["error"]["message"])
        status, _, doc = post_form(self.gw, "/v1/images/edits", [("prompt", "x")],
                                   [image_file(ok)])
        self.assertEqual(status, 200, doc)


class UploadsNeedAKey(GatewayTest):
    config = "limits:\n  max_body_bytes: 100000\n  max_upload_bytes: 2000000\n"

    def test_only_a_known_key_gets_its_body_read(self):
        noise = bytes((i * 7919) % 251 for i in range(500000))
        ctype, body = multipart([("prompt", "x")], [image_file(noise)])
        # No key, and an unknown key (twice: the second from the negative
        # cache): 401 from the headers alone, before a byte of the body is
        # sent, and the connection closes.
        for key in (None, "ig_" + "x" * 43, "ig_" + "x" * 43):
            with self.subTest(key=key):
                s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=5)
                s.sendall(b"POST /v1/images/edits HTTP/1.1\r\nHost: x\r\nContent-Type: " +
                          ctype.encode() + b"\r\nContent-Length: %d\r\n" % len(body) +
                          (b"Authorization: Bearer " + key.encode() + b"\r\n" if key else b"") +
                          b"\r\n")
                data = recv_all(s)
                s.close()
                [(status, h, doc)] = split_responses(data)
                self.assertOpenAIError(status, h, json.loads(doc), 401,
                                       "invalid_api_key" if key else "missing_api_key", None)
                self.assertEqual(h["connection"], "close")
        # A good key gets the upload limit: the body is read and judged.
        status, h, data = self.gw.request("POST", "/v1/images/edits", body,
                                          {"Content-Type": ctype}, key=self.gw.admin_key)
        self.assertOpenAIError(status, h, json.loads(data), 400, "invalid_image_format", "image")


if __name__ == "__main__":
    unittest.main()
