import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { evaluateMixin, ROOT } from "../../mixin/render.js";

const run = promisify(execFile);
const CONFIG = path.join(ROOT, "deploy/alertmanager/alertmanager.yml");

type Labels = Record<string, string>;

/** An Alertmanager matcher such as `alertname =~ "GitLabCI.+"`: regular expressions are anchored. */
function matches(matcher: string, labels: Labels): boolean {
  const [, name, op, quoted] = /^\s*(\w+)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*$/.exec(matcher) ?? [];
  if (!name || !op || !quoted) throw new Error(`cannot read matcher ${matcher}`);
  const value = JSON.parse(quoted) as string;
  const actual = labels[name] ?? "";
  const regex = new RegExp(`^(?:${value})$`);
  return { "=": actual === value, "!=": actual !== value, "=~": regex.test(actual), "!~": !regex.test(actual) }[op]!;
}

interface InhibitRule {
  source_matchers: string[];
  target_matchers: string[];
  equal?: string[];
}

/** The alerts among `targets` that `source` inhibits under the rules. */
function inhibitedBy(rules: InhibitRule[], source: Labels, targets: Labels[]): string[] {
  return targets
    .filter((target) =>
      rules.some(
        (rule) =>
          rule.source_matchers.every((m) => matches(m, source)) &&
          rule.target_matchers.every((m) => matches(m, target)) &&
          (rule.equal ?? []).every((label) => (source[label] ?? "") === (target[label] ?? "")),
      ),
    )
    .map((target) => target.alertname!);
}

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

  it("inhibits for an absent exporter exactly what it inhibits for an exporter that is down", async () => {
    const config = parse(await readFile(CONFIG, "utf8")) as { inhibit_rules: InhibitRule[] };
    const mixin = await evaluateMixin();
    const job = "gitlab-ci-k8s-exporter";
    const alerts = mixin.alerts.groups.flatMap((g) => g.rules).map((r) => ({ alertname: String(r.alert), severity: String((r.labels as Labels).severity), job }));
    const down = inhibitedBy(config.inhibit_rules, { alertname: "GitLabCIExporterDown", severity: "critical", job }, alerts);
    const absent = inhibitedBy(config.inhibit_rules, { alertname: "GitLabCIExporterAbsent", severity: "critical", job }, alerts);
    expect(down).toContain("GitLabCIPendingJobsHigh");
    expect(down).toContain("GitLabCIJobPodsCannotGetNodes");
    expect(down).toContain("GitLabCIExporterGitLabSyncStale");
    expect(down).not.toContain("GitLabCIExporterDown");
    expect(down).not.toContain("GitLabCIExporterAbsent");
    expect(absent).toEqual(down);
    // A stale pod watch holds back the alert on waiting pods it would raise, and nothing else.
    expect(inhibitedBy(config.inhibit_rules, { alertname: "GitLabCIExporterKubernetesWatchStale", severity: "warning", job }, alerts)).toEqual(["GitLabCIJobPodsCannotGetNodes"]);
    // Another exporter's alerts are not inhibited.
    expect(inhibitedBy(config.inhibit_rules, { alertname: "GitLabCIExporterAbsent", severity: "critical", job: "other" }, alerts)).toEqual([]);
  });
});
