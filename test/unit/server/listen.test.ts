import { createServer, type Server } from "node:net";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config/errors.js";
import { listenOn } from "../../../src/server/listen.js";

describe("listening on LISTEN_ADDRESS", () => {
  let taken: Server | undefined;
  afterEach(async () => {
    const server = taken;
    taken = undefined;
    if (server?.listening) await new Promise((resolve) => server.close(resolve));
  });

  it("listens on a free address and says where", async () => {
    const app = Fastify();
    const url = await listenOn(app, { host: "127.0.0.1", port: 0 });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await app.close();
  });

  it("turns a taken port into a ConfigError naming LISTEN_ADDRESS, and closes the server", async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken!.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    const app = Fastify();
    const error = await listenOn(app, { host: "127.0.0.1", port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe("LISTEN_ADDRESS");
    expect((error as ConfigError).message).toBe(
      `invalid configuration: LISTEN_ADDRESS="127.0.0.1:${port}": expected a free port, but another process listens there (EADDRINUSE): stop it or choose another port`,
    );
    // Closed: closing again is a no-op rather than a hang, and the app no longer listens.
    expect(app.server.listening).toBe(false);
  });

  it("names an address of another machine", async () => {
    const error = await listenOn(Fastify(), { host: "192.0.2.1", port: 0 }).catch((e: unknown) => e);
    expect((error as ConfigError).setting).toBe("LISTEN_ADDRESS");
    expect((error as ConfigError).message).toContain('LISTEN_ADDRESS="192.0.2.1:0": expected an address of this machine (EADDRNOTAVAIL)');
  });

  it("brackets an IPv6 host as it is written", async () => {
    taken = createServer();
    const listening = await new Promise<boolean>((resolve) => {
      taken!.once("error", () => resolve(false));
      taken!.listen(0, "::1", () => resolve(true));
    });
    if (!listening) return; // no IPv6 loopback here
    const port = (taken.address() as { port: number }).port;
    const error = await listenOn(Fastify(), { host: "::1", port }).catch((e: unknown) => e);
    expect((error as ConfigError).message).toContain(`LISTEN_ADDRESS="[::1]:${port}"`);
  });

  it("passes on what is not the address's fault", async () => {
    const app = Fastify();
    app.addHook("onReady", async () => {
      throw new Error("a plugin failed");
    });
    await expect(listenOn(app, { host: "127.0.0.1", port: 0 })).rejects.toThrow("a plugin failed");
  });
});
