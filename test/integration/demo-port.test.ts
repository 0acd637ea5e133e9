import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_PORT } from "../../src/config/settings.js";

const root = new URL("../../", import.meta.url).pathname;

/** `npm run demo`, as a newcomer runs it, in its own process group so that it stops whole. */
function runDemo(env: Record<string, string>): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const { DEMO_PORT: _unset, ...inherited } = process.env;
  const child = spawn("npm", ["run", "demo"], { cwd: root, env: { ...inherited, LOG_LEVEL: "silent", ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Listens on `port` of 127.0.0.1; null when another process holds it already (then it is taken all the same). */
async function hold(port: number): Promise<Server | null> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => (error.code === "EADDRINUSE" ? resolve(null) : reject(error)));
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
}

describe("npm run demo with its port taken", () => {
  const held: Server[] = [];
  let demo: ReturnType<typeof runDemo> | undefined;
  afterEach(async () => {
    if (demo && demo.child.exitCode === null) {
      process.kill(-demo.child.pid!, "SIGTERM");
      await demo.exited;
    }
    demo = undefined;
    await Promise.all(held.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it(`listens on another port when ${DEFAULT_PORT} is taken, and says so in one line`, async () => {
    const server = await hold(DEFAULT_PORT);
    if (server) held.push(server);
    demo = runDemo({});
    await until(() => /exporter metrics: +http:\/\/127\.0\.0\.1:\d+\/metrics/.test(demo!.stdout()) || demo!.child.exitCode !== null, 90_000);
    const url = /exporter metrics: +(http:\/\/127\.0\.0\.1:(\d+))\/metrics/.exec(demo.stdout());
    expect(url, demo.stdout() + demo.stderr()).not.toBeNull();
    expect(Number(url![2])).not.toBe(DEFAULT_PORT);
    expect(demo.stderr().trimEnd().split("\n")).toEqual([`demo: port ${DEFAULT_PORT} is taken, so the exporter listens on ${url![1]} instead (set DEMO_PORT to choose its port)`]);
    expect((await fetch(`${url![1]}/metrics`)).status).toBe(200);
  }, 120_000);

  it("stops with one line naming DEMO_PORT, exit code 2, when the port it was given is taken", async () => {
    const server = (await hold(0))!;
    held.push(server);
    const { port } = server.address() as { port: number };
    demo = runDemo({ DEMO_PORT: String(port) });
    expect(await demo.exited).toBe(2);
    expect(demo.stderr().trimEnd().split("\n")).toEqual([
      `demo: invalid configuration: DEMO_PORT="${port}": expected a free port, but another process listens there (EADDRINUSE): stop it or choose another port`,
    ]);
  }, 120_000);

  it("stops with one line naming DEMO_PORT when it is no port", async () => {
    demo = runDemo({ DEMO_PORT: "98630" });
    expect(await demo.exited).toBe(2);
    expect(demo.stderr().trimEnd().split("\n")).toEqual(['demo: invalid configuration: DEMO_PORT="98630": expected a port number from 0 to 65535 (0: any free port)']);
  }, 120_000);
});
