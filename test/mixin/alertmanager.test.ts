import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { evaluateMixin, ROOT } from "../../mixin/render.js";

const run = promisify(execFile);
const CONFIG = path.join(ROOT, "deploy/alertmanager/alertmanager.yml");

async function receivers(labels: Record<string, string>): Promise<string> {
  const args = ["config", "routes", "test", `--config.file=${CONFIG}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
  return (await run("amtool", args)).stdout.trim();
}

describe("the example Alertmanager configuration", () => {
  it("passes amtool check-config", async () => {
    const { stdout } = await run("amtool", ["check-config", CONFIG]);
    expect(stdout).toContain("SUCCESS");
  });

  it("pages the CI/CD team for every critical alert of the mixin, chats the warnings and keeps info apart", async () => {
    const mixin = await evaluateMixin();
    const alerts = mixin.alerts.groups.flatMap((g) => g.rules) as Array<{ alert: string; labels: { severity: string } }>;
    const expected = { critical: "cicd-team-pager,cicd-team-chat", warning: "cicd-team-chat", info: "cicd-team-chat-info" } as const;
    for (const { alert, labels } of alerts) {
      expect(await receivers({ alertname: alert, severity: labels.severity, job: "gitlab-ci-k8s-exporter" }), alert).toBe(expected[labels.severity as keyof typeof expected]);
    }
    expect(await receivers({ alertname: "Watchdog", severity: "none" })).toBe("default");
  });
});
