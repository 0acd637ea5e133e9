import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startDemoPrometheus } from "../../src/demo/prometheus.js";
import { eventually } from "../helpers/prom.js";

/** `npm run demo -- --prometheus`: Debian's Prometheus with rules/ as they are, scraping the demo's exporter. */
let exporter: Server;
let exporterUrl: string;

beforeAll(async () => {
  // A stand-in for the exporter: one pending job.
  exporter = createServer((_request, response) => response.end("# TYPE gitlab_ci_jobs_pending gauge\ngitlab_ci_jobs_pending 1\n"));
  exporterUrl = await new Promise<string>((resolve) => exporter.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(exporter.address() as { port: number }).port}`)));
});

afterAll(async () => {
  await new Promise((resolve) => exporter?.close(resolve));
});

describe("the demo's Prometheus", () => {
  it("loads every rule group of rules/, scrapes the exporter as the mixin's job, and leaves nothing behind", async () => {
    const prometheus = await startDemoPrometheus(exporterUrl);
    try {
      expect(prometheus.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const committed = await Promise.all(["gitlab-ci-alerts.yaml", "gitlab-ci-rules.yaml"].map(async (file) => parse(await readFile(new URL(`../../rules/${file}`, import.meta.url), "utf8")) as { groups: Array<{ name: string }> }));
      const rules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as { data: { groups: Array<{ name: string; file: string }> } };
      expect(rules.data.groups.map((g) => g.name).sort()).toEqual(committed.flatMap((f) => f.groups.map((g) => g.name)).sort());
      const up = await eventually(async () => {
        const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=gitlab_ci_jobs_pending`)).json()) as { data: { result: Array<{ metric: Record<string, string> }> } };
        if (body.data.result.length === 0) throw new Error("not scraped yet");
        return body.data.result;
      }, 20_000, 200);
      expect(up[0]!.metric).toMatchObject({ job: "gitlab-ci-k8s-exporter" });
    } finally {
      await prometheus.stop();
    }
    expect(existsSync(prometheus.dir)).toBe(false);
  }, 60_000);

  it("says in one line when Prometheus is not installed", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await expect(startDemoPrometheus(exporterUrl)).rejects.toThrow(/^prometheus is not installed \(on Debian: apt-get install prometheus\)$/);
    } finally {
      process.env.PATH = path;
    }
  });
});
