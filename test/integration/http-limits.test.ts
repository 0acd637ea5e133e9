import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as connectTls } from "node:tls";
import { afterEach, describe, expect, it, onTestFailed } from "vitest";
import { eventually } from "../helpers/prom.js";
import type { HttpLimits } from "../../src/config/server-config.js";
import { inlineSecret } from "../../src/config/secret.js";
import { buildServer } from "../../src/server/app.js";
import { buildHouse } from "../../src/wiring.js";
import { GitLabWorld, startGitLabSimulator, type GitLabSimulator } from "../../src/simulator/gitlab/index.js";
import { GitLabWebhookSource } from "../../src/sources/gitlab/webhook-source.js";

const SECRET = "limits-webhook-secret";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The real server on a loopback port, with short limits; `/metrics` answers `exposition`. */
async function serve(
  limits: HttpLimits,
  exposition: Buffer = Buffer.from("up 1\n"),
  tls?: { cert: string; key: string },
  webhook: { maxBodyBytes: number; maxInflightBytes: number } = { maxBodyBytes: 1 << 20, maxInflightBytes: 64 << 20 },
): Promise<number> {
  const { state } = buildHouse({ kubernetes: false });
  const app = buildServer({
    metricsBody: async () => [exposition],
    metrics: state.health,
    health: { sources: () => [] },
    webhooks: { source: new GitLabWebhookSource(state.jobs, state.pipelines, state.projects, { keepHot: () => {}, placeJobsSoon: () => {} }), secret: inlineSecret("GITLAB_WEBHOOK_SECRET", SECRET), ...webhook },
    limits,
    ...(tls ? { web: { bearerToken: null, basicAuth: null, tls } } : {}),
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  cleanups.push(() => app.close());
  return (app.server.address() as AddressInfo).port;
}

/** A raw client: what it received, and when the server closed it (ms after it connected). */
function client(port: number, tls = false) {
  const socket: Socket = tls ? connectTls({ port, host: "127.0.0.1", rejectUnauthorized: false }) : connect(port, "127.0.0.1");
  const openedAt = Date.now();
  let received = "";
  let closedAfterMs: number | null = null;
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) =>
    socket.on("close", () => {
      closedAfterMs = Date.now() - openedAt;
      resolve(closedAfterMs);
    }),
  );
  cleanups.push(() => socket.destroy());
  return { socket, closed, received: () => received, closedAfterMs: () => closedAfterMs };
}

/** Sends `byte` every `everyMs` until the socket closes: a slowloris. */
function trickle(socket: Socket, byte: string, everyMs: number): void {
  const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write(byte)), everyMs);
  cleanups.push(() => clearInterval(timer));
}

const webhookHead = (length: number) =>
  `POST /webhooks/gitlab HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Gitlab-Event: Job Hook\r\nX-Gitlab-Token: ${SECRET}\r\nContent-Length: ${length}\r\n\r\n`;

const short: HttpLimits = { maxConnections: 64, headersTimeoutMs: 500, requestTimeoutMs: 1000, idleTimeoutMs: 1000 };

describe("slow clients", () => {
  it("cuts a client that trickles its headers at the headers timeout, with 408", async () => {
    const port = await serve(short);
    const slow = client(port);
    slow.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    trickle(slow.socket, "X", 50);
    await sleep(400);
    expect(slow.closedAfterMs()).toBeNull();
    const after = await slow.closed;
    // The limit, plus at most one check interval (a quarter of the limit here) and some slack.
    expect(after).toBeGreaterThanOrEqual(450);
    expect(after).toBeLessThan(1200);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it("cuts a client that trickles a webhook body at the request timeout, with 408", async () => {
    const port = await serve(short);
    const slow = client(port);
    slow.socket.write(webhookHead(10_000));
    trickle(slow.socket, " ", 50);
    await sleep(800);
    expect(slow.closedAfterMs()).toBeNull();
    const after = await slow.closed;
    expect(after).toBeGreaterThanOrEqual(950);
    expect(after).toBeLessThan(1800);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it("takes a whole webhook sent at a steady pace within the request timeout", async () => {
    const port = await serve(short);
    const body = JSON.stringify({ object_kind: "build" }).padEnd(400, " ");
    const steady = client(port);
    steady.socket.write(webhookHead(body.length));
    for (let i = 0; i < body.length; i += 100) {
      steady.socket.write(body.slice(i, i + 100));
      await sleep(100);
    }
    await sleep(200);
    // Answered (whatever the payload's verdict), not timed out.
    expect(steady.received()).toMatch(/^HTTP\/1\.1 [24]\d\d/);
    expect(steady.received()).not.toMatch(/^HTTP\/1\.1 408/);
  });

  it("closes a kept-alive connection after the idle timeout", async () => {
    const port = await serve(short);
    const idle = client(port);
    idle.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await sleep(700);
    expect(idle.received()).toMatch(/^HTTP\/1\.1 200/);
    expect(idle.closedAfterMs()).toBeNull();
    // Node gives a kept-alive socket up to a second beyond the limit, so that a client sending just
    // as it expires is not cut mid-request.
    expect(await idle.closed).toBeLessThan(2600);
  });

  it("closes a connection whose client stops reading its scrape, after the idle timeout, on a kept-alive request too", async () => {
    const port = await serve(short, Buffer.alloc(32 * 2 ** 20, "a"));
    const stalled = client(port);
    stalled.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await sleep(100);
    stalled.socket.pause();
    stalled.socket.write("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    // A paused socket does not see its end: the client reads again once the limit has passed.
    await sleep(2500);
    stalled.socket.resume();
    await stalled.closed;
    // It got what the kernel's buffers held, then the end: the server gave up on it.
    expect(stalled.received().length).toBeLessThan(32 * 2 ** 20);
  });
});

describe("webhook bodies in flight", () => {
  const MiB = 1 << 20;
  /** A Job Hook for an unwatched project, padded with JSON whitespace to `bytes`. */
  const body = (bytes: number) => JSON.stringify({ object_kind: "build", build_id: 1, build_status: "success", project_id: 77 }).padEnd(bytes, " ");
  /** Writes the whole request and waits until the server has taken every byte, as GitLab writes before it reads. */
  const send = (socket: Socket, request: string) => new Promise<void>((resolve, reject) => socket.write(request, (error) => (error ? reject(error) : resolve())));
  const answers = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})[\s\S]*?\r\n\r\n(\{[^}]*\})/g)].map((m) => `${m[1]} ${(JSON.parse(m[2]!) as { status: string }).status}`);

  it("answers 202 unread past GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES, drains the body so the connection goes on, and reads again once bodies are answered", async () => {
    const port = await serve({ ...short, headersTimeoutMs: 10_000, requestTimeoutMs: 20_000, idleTimeoutMs: 20_000 }, undefined, undefined, { maxBodyBytes: 4 * MiB, maxInflightBytes: 8 * MiB });
    // Two deliveries of 4 MiB under way, a quarter sent: the whole budget is held.
    const held = [client(port), client(port)];
    const heldBody = body(4 * MiB);
    for (const delivery of held) await send(delivery.socket, webhookHead(heldBody.length) + heldBody.slice(0, MiB));
    await sleep(200);

    // A third writes its 4 MiB whole before reading, twice on one connection.
    const third = client(port);
    const started = Date.now();
    await send(third.socket, webhookHead(heldBody.length) + heldBody);
    await send(third.socket, webhookHead(heldBody.length) + heldBody);
    await eventually(() => expect(answers(third.received())).toEqual(["202 shed", "202 shed"]), 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(third.closedAfterMs()).toBeNull();
    // Chunked, of no declared length: cut off when it outgrows the room, the rest drained all the same.
    const chunked = client(port);
    const chunkedRequest = () =>
      webhookHead(0).replace("Content-Length: 0", "Transfer-Encoding: chunked") +
      Array.from({ length: 8 }, (_, i) => body(MiB / 2).slice(0, i === 0 ? MiB / 2 : MiB / 2)).map((chunk) => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("") +
      "0\r\n\r\n";
    await send(chunked.socket, chunkedRequest());
    await send(chunked.socket, chunkedRequest());
    await eventually(() => expect(answers(chunked.received())).toEqual(["202 shed", "202 shed"]), 5_000);

    // The held ones finish and are answered; the budget is free again for the third connection.
    for (const delivery of held) await send(delivery.socket, heldBody.slice(MiB));
    for (const delivery of held) await eventually(() => expect(answers(delivery.received())).toEqual(["200 ignored"]), 5_000);
    await send(third.socket, webhookHead(heldBody.length) + heldBody);
    await eventually(() => expect(answers(third.received())).toEqual(["202 shed", "202 shed", "200 ignored"]), 5_000);
    // Too large for GITLAB_WEBHOOK_MAX_BODY_BYTES, declared or found out while read: acknowledged, and drained too.
    const tooLarge = client(port);
    const oversized = body(5 * MiB);
    await send(tooLarge.socket, webhookHead(oversized.length) + oversized);
    await send(tooLarge.socket, chunkedRequest().replace("0\r\n\r\n", "") + `${oversized.length.toString(16)}\r\n${oversized}\r\n0\r\n\r\n`);
    await eventually(() => expect(answers(tooLarge.received())).toEqual(["200 too_large", "200 too_large"]), 5_000);
  });
});

describe("the connection cap", () => {
  it("keeps /healthz and /readyz answering within 1 s while slow clients fill it", async () => {
    const port = await serve({ ...short, maxConnections: 16, requestTimeoutMs: 60_000, headersTimeoutMs: 60_000, idleTimeoutMs: 60_000 });
    const slow = Array.from({ length: 60 }, (_, i) => {
      const c = client(port);
      // Half send headers and trickle a body, half trickle their headers.
      const sendsBody = i % 2 === 0;
      c.socket.write(sendsBody ? webhookHead(10_000) : "GET /healthz HTTP/1.1\r\nX-Slow: ");
      trickle(c.socket, sendsBody ? " " : "x", 200);
      return c;
    });
    const stillOpen = () => slow.filter((c) => c.closedAfterMs() === null).length;
    const settled = Date.now() + 3000;
    while (stillOpen() > 16 && Date.now() < settled) await sleep(50);
    expect(stillOpen()).toBeLessThanOrEqual(16);
    // Those still sending headers were closed first, oldest first; the newest is still there.
    expect(slow[1]!.closedAfterMs()).not.toBeNull();
    expect(slow[59]!.closedAfterMs()).toBeNull();
    for (const path of ["/healthz", "/readyz", "/healthz"]) {
      const startedAt = Date.now();
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
      expect(response.status).toBe(200);
      expect(Date.now() - startedAt).toBeLessThan(1000);
    }
  });

  it.each([
    { over: "HTTP", tls: false },
    { over: "HTTPS", tls: true },
  ])("closes a newcomer rather than a response in progress when every connection is being answered, over $over", async ({ tls }) => {
    // Limits that TLS handshakes on a busy machine stay well inside.
    const port = await serve({ maxConnections: 4, headersTimeoutMs: 5000, requestTimeoutMs: 10_000, idleTimeoutMs: 60_000 }, Buffer.alloc(32 * 2 ** 20, "a"), tls ? selfSigned() : undefined);
    const readers = Array.from({ length: 4 }, () => {
      const c = client(port, tls);
      // It stops reading once its answer has begun (a paused TLS socket would not finish its handshake).
      c.socket.once("data", () => c.socket.pause());
      c.socket.write("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      return c;
    });
    const answered = Date.now() + 10_000;
    while (readers.some((c) => c.received() === "") && Date.now() < answered) await sleep(20);
    const late = client(port, tls);
    late.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect(await Promise.race([late.closed, sleep(5000).then(() => "still open")])).toBeLessThan(2000);
    expect(late.received()).toBe("");
    // The scrapes in progress were left alone: each is whole once read.
    for (const reader of readers) reader.socket.resume();
    const deadline = Date.now() + 10_000;
    while (readers.some((c) => c.received().length < 32 * 2 ** 20) && Date.now() < deadline) await sleep(20);
    for (const reader of readers) expect(reader.received().length).toBeGreaterThan(32 * 2 ** 20);
  }, 60_000);
});

/** A certificate for 127.0.0.1, made for the test. */
function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "limits-tls-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1", "-days", "1"], { stdio: "ignore" });
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
}

const root = new URL("../../", import.meta.url).pathname;

/** The CLI in its own process, ready, with the webhook on and default limits. */
async function startCli(): Promise<{ port: number; child: ChildProcess; exited: Promise<{ code: number | null; signal: string | null }>; output: () => string }> {
  const world = new GitLabWorld();
  const project = world.addProject("acme/api");
  world.createJob(project.id, { name: "build", tags: ["docker"], status: "pending" });
  const sim: GitLabSimulator = await startGitLabSimulator({ world, token: "cli-token" });
  cleanups.push(() => sim.close());
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", GITLAB_URL: sim.url, GITLAB_TOKEN: "cli-token", GITLAB_GROUPS: "acme", GITLAB_WEBHOOK_SECRET: SECRET, GITLAB_POLL_INTERVAL_SECONDS: "0.2", GITLAB_MAX_REQUESTS_PER_SECOND: "100", LISTEN_ADDRESS: `127.0.0.1:${port}`, KUBE_ENABLED: "false", LOG_LEVEL: "info", SHUTDOWN_GRACE_SECONDS: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  cleanups.push(() => child.kill("SIGKILL"));
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  onTestFailed(() => console.error(`exporter output:\n${output || "(none)"}`));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false)) return { port, child, exited, output: () => output };
    await sleep(100);
  }
  throw new Error(`exporter did not become ready\n${output}`);
}

/** A body trickler, a header trickler and an idle kept-alive connection: none may hold the exit. */
async function slowClients(port: number) {
  const body = client(port);
  body.socket.write(webhookHead(10_000));
  trickle(body.socket, " ", 100);
  const head = client(port);
  head.socket.write("GET /metrics HTTP/1.1\r\n");
  trickle(head.socket, "X", 100);
  const idle = client(port);
  idle.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  await sleep(300);
  expect(idle.received()).toMatch(/^HTTP\/1\.1 200/);
  return [body, head, idle];
}

describe.each(["SIGTERM", "SIGHUP"] as const)("%s", (signal) => {
  it("exits 0 at once, closing slow and idle clients, after a graceful shutdown", async () => {
    const { port, child, exited, output } = await startCli();
    const clients = await slowClients(port);
    const signalledAt = Date.now();
    child.kill(signal);
    expect(await exited).toEqual({ code: 0, signal: null });
    // Well inside the 5 s grace that a single slow client used to use up.
    expect(Date.now() - signalledAt).toBeLessThan(2500);
    for (const c of clients) expect(c.closedAfterMs()).not.toBeNull();
    expect(output()).toContain(`"signal":"${signal}"`);
    expect(output()).toContain('"msg":"shutting down"');
  });
});
