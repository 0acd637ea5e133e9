import { describe, expect, it } from "vitest";
import { buildServer } from "../../../src/server/app.js";
import { SelfHealth } from "../../../src/state/self-health.js";
import type { SourceHealth } from "../../../src/server/health.js";

function server(sources: SourceHealth[], now: number) {
  return buildServer({ metricsBody: async () => [], metrics: new SelfHealth(), health: { sources: () => sources, now: () => now } });
}

describe("/readyz", () => {
  it("is 503 until every source finished its first sync", async () => {
    const app = server([{ name: "gitlab", synced: false, lastSuccessMs: null, staleAfterMs: 1000 }], 5000);
    const response = await app.inject({ url: "/readyz" });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ status: "starting", sources: [{ name: "gitlab", synced: false, stale: true }] });
    await app.close();
  });

  it("stays 200 but reports a source that went stale after its first sync", async () => {
    const fresh = server([{ name: "gitlab", synced: true, lastSuccessMs: 4500, staleAfterMs: 1000 }], 5000);
    expect((await fresh.inject({ url: "/readyz" })).json()).toMatchObject({ status: "ready", sources: [{ stale: false }] });
    const stale = server([{ name: "gitlab", synced: true, lastSuccessMs: 1000, staleAfterMs: 1000 }], 5000);
    const response = await stale.inject({ url: "/readyz" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: "stale", sources: [{ stale: true, lastSuccess: new Date(1000).toISOString() }] });
    await Promise.all([fresh.close(), stale.close()]);
  });

  it("is 503 \"stopping\" once the process is stopping, synced or not, while /healthz and /metrics still answer, each closing its connection", async () => {
    let stopping = false;
    const sources = [{ name: "gitlab", synced: true, lastSuccessMs: 4500, staleAfterMs: 1000 }];
    const app = buildServer({ metricsBody: async () => [Buffer.from("up 1\n")], metrics: new SelfHealth(), health: { sources: () => sources, now: () => 5000, stopping: () => stopping } });
    const before = await app.inject({ url: "/readyz" });
    expect(before.statusCode).toBe(200);
    expect(before.headers.connection).not.toBe("close");
    stopping = true;
    const after = await app.inject({ url: "/readyz" });
    expect(after.statusCode).toBe(503);
    expect(after.json()).toMatchObject({ status: "stopping", sources: [{ name: "gitlab", synced: true, stale: false }] });
    for (const url of ["/healthz", "/metrics"]) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers.connection, url).toBe("close");
    }
    await app.close();
  });
});
