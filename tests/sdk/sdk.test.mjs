// The official OpenAI SDK pointed at imagegate's /v1: what users run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, { toFile } from "openai";

const bin = process.env.IMAGEGATE_BIN;
let proc, dataDir, client, baseURL, adminKey;
let stderr = "";

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "ig-sdk-"));
  proc = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data", dataDir, "--workers", "1"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, IMAGEGATE_ADMIN_KEY: "", IMAGEGATE_SECRET: "" },
  });
  proc.stderr.on("data", (chunk) => (stderr += chunk));
  const port = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("no ready line: " + out)), 10000);
    proc.stdout.on("data", (chunk) => {
      out += chunk;
      const key = out.match(/\b(ig_[0-9A-Za-z]{43})\b/);
      if (key) adminKey = key[1];
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  baseURL = `http://127.0.0.1:${port}/v1`;
  client = new OpenAI({ apiKey: adminKey, baseURL, maxRetries: 0 });
});

after(() => {
  if (proc.exitCode === null) proc.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

test("images.generate returns OpenAI's shape with a fetchable url", async () => {
  const res = await client.images.generate({ prompt: "a lighthouse at dusk", size: "256x256" });
  assert.equal(typeof res.created, "number");
  assert.equal(res.data.length, 1);
  assert.match(res.data[0].url, /^http:\/\/127\.0\.0\.1:\d+\/v1\/files\/[0-9a-f]{64}\.png\?/);
  const img = await fetch(res.data[0].url);
  assert.equal(img.status, 200);
  assert.equal(img.headers.get("content-type"), "image/png");
  const bytes = new Uint8Array(await img.arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.equal(res._metadata.provider_used, "local");
});

test("b64_json with n, model alias and extra fields", async () => {
  const res = await client.images.generate({
    model: "local",
    prompt: "three moons",
    n: 3,
    size: "128x128",
    response_format: "b64_json",
    output_format: "webp",
    seed: 11,
  });
  assert.equal(res.data.length, 3);
  const first = Buffer.from(res.data[0].b64_json, "base64");
  assert.equal(first.subarray(8, 12).toString(), "WEBP");
  assert.notEqual(res.data[0].b64_json, res.data[1].b64_json);
  assert.deepEqual(res._metadata.seeds, [11, 12, 13]);
});

test("models.list and models.retrieve", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes("local/procedural"));
  const m = await client.models.retrieve("local/procedural");
  assert.equal(m.id, "local/procedural");
  assert.equal(m.object, "model");
});

test("errors surface as the SDK's typed errors", async () => {
  await assert.rejects(
    client.images.generate({ prompt: "x", model: "no-such-model" }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === "model_not_found",
  );
  await assert.rejects(
    client.images.generate({ prompt: "x", size: "9x9" }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === "size",
  );
  const bad = new OpenAI({ apiKey: "ig_wrong", baseURL, maxRetries: 0 });
  await assert.rejects(
    bad.images.generate({ prompt: "x" }),
    (e) => e instanceof OpenAI.AuthenticationError && e.code === "invalid_api_key",
  );
});

test("stream: true yields partial and completed events", async () => {
  const stream = await client.images.generate({
    prompt: "a paper lantern",
    size: "128x128",
    stream: true,
    partial_images: 2,
  });
  const types = [];
  let last;
  for await (const event of stream) {
    types.push(event.type);
    last = event;
  }
  assert.deepEqual(types, [
    "image_generation.partial_image",
    "image_generation.partial_image",
    "image_generation.completed",
  ]);
  assert.equal(Buffer.from(last.b64_json, "base64").subarray(1, 4).toString(), "PNG");
});

test("images.edit and images.createVariation upload through the SDK", async () => {
  const gen = await client.images.generate({
    prompt: "a stone bridge",
    size: "128x96",
    response_format: "b64_json",
  });
  const png = Buffer.from(gen.data[0].b64_json, "base64");
  const edited = await client.images.edit({
    model: "local",
    image: await toFile(png, "bridge.png", { type: "image/png" }),
    prompt: "the bridge in snow",
    n: 2,
    response_format: "b64_json",
  });
  assert.equal(edited.data.length, 2);
  assert.equal(edited.size, "128x96");
  assert.equal(edited._metadata.operation, "edit");
  // Several images go as image[]; the local renderer takes one and says so.
  await assert.rejects(
    client.images.edit({
      image: [await toFile(png, "a.png"), await toFile(png, "b.png")],
      prompt: "x",
    }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === "image",
  );
  const varied = await client.images.createVariation({
    image: await toFile(png, "bridge.png", { type: "image/png" }),
  });
  assert.equal(varied.data.length, 1);
  assert.match(varied.data[0].url, /\/v1\/files\/[0-9a-f]{64}\.png\?/);
});

// Last (tests run in order): what the gateway itself said of the session.
// Seed 004's Node example (async job + polling), as it is written but for
// the host, the key and a shorter poll interval: create a job with an
// Idempotency-Key, poll until state == "succeeded", return output[0].url.
async function generateImage(job, base, key) {
  const create = await fetch(`${base}/images/jobs`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${key}`,
      "Content-Type": "application/json",
      "Idempotency-Key": job.idempotencyKey,
    },
    body: JSON.stringify({
      prompt: job.prompt,
      negative_prompt: job.negativePrompt,
      size: job.size || "1024x1024",
      guidance: 7,
      steps: 28,
      seed: job.seed ?? undefined,
      webhook_url: process.env.WEBHOOK_URL, // optional if you prefer polling
    }),
  }).then((r) => r.json());
  const jobId = create.id;
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const status = await fetch(`${base}/images/jobs/${jobId}`, {
      headers: { Authorization: `Bearer ${key}` },
    }).then((r) => r.json());
    if (status.state === "succeeded") {
      return status.output[0].url; // or .b64
    }
    if (status.state === "failed") throw new Error(status.error?.message || "Generation failed");
  }
  throw new Error("Timeout waiting for image generation");
}

test("seed 004's Node job example runs unchanged", async () => {
  const job = {
    idempotencyKey: "node-job-1",
    prompt: "a lighthouse in fog",
    negativePrompt: "blurry",
    size: "256x256",
    seed: 7,
  };
  const url = await generateImage(job, baseURL, adminKey);
  const img = await fetch(url);
  assert.equal(img.status, 200);
  const bytes = new Uint8Array(await img.arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  // Sent again with its Idempotency-Key: the same job, not a second one.
  const again = await generateImage(job, baseURL, adminKey);
  assert.equal(new URL(again).pathname, new URL(url).pathname);
  const list = await fetch(`${baseURL}/images/jobs`, {
    headers: { Authorization: `Bearer ${adminKey}` },
  }).then((r) => r.json());
  assert.equal(list.data.filter((j) => j.prompt === job.prompt).length, 1);
});

test("the gateway logged no error and exits 0 on SIGTERM", async () => {
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  proc.kill("SIGTERM");
  const { code, signal } = await exited;
  assert.equal(signal, null, stderr.slice(-3000));
  assert.equal(code, 0, stderr.slice(-3000));
  for (const marker of ["ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"])
    assert.ok(!stderr.includes(marker), stderr.slice(-6000));
  const errors = stderr.split("\n").filter((l) => l.includes('"level":"error"'));
  assert.deepEqual(errors, []);
  assert.match(stderr, /stopped cleanly/);
});

