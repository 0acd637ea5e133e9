import { describe, expect, it } from "vitest";
import { helpText, summary } from "../../../src/config/help.js";
import { SETTINGS } from "../../../src/config/settings.js";

describe("--help", () => {
  const text = helpText(SETTINGS, "9.8.7");
  const lines = text.split("\n");

  it("names the version and the options", () => {
    expect(lines[0]).toBe("gitlab-ci-k8s-exporter 9.8.7: Prometheus exporter for GitLab CI on Kubernetes.");
    for (const option of ["--config FILE", "-h, --help", "-V, --version"]) expect(text).toContain(option);
  });

  it("lists every setting once, with its default and values, then its first sentence", () => {
    for (const spec of SETTINGS) {
      const heading = lines.filter((line) => line === `  ${spec.name}` || line.startsWith(`  ${spec.name}=`) || line.startsWith(`  ${spec.name} (`));
      expect(heading, spec.name).toHaveLength(1);
      if ("default" in spec) expect(heading[0]).toContain(`${spec.name}=${spec.default}`);
      const description = lines[lines.indexOf(heading[0]!) + 1]!;
      expect(description).toBe(`      ${summary(spec.description)}`);
      expect(description.trim().length, spec.name).toBeGreaterThan(10);
    }
    expect(text).toContain("  GITLAB_READ_PATH=auto (auto | instance | sweep | rest)");
    expect(text).toContain("  GITLAB_POLL_INTERVAL_SECONDS=30\n      How often projects with live jobs (hot projects) are polled.\n");
  });

  it("keeps a description's first sentence, as plain text, past abbreviations", () => {
    expect(summary("Base URL of the GitLab instance, e.g. `https://gitlab.example.com` (without `/api/v4`).")).toBe("Base URL of the GitLab instance, e.g. https://gitlab.example.com (without /api/v4).");
    expect(summary("Watch the Kubernetes API. `false` runs the GitLab side only.")).toBe("Watch the Kubernetes API.");
    expect(summary("Cap on series. Label sets beyond it are dropped.")).toBe("Cap on series.");
    expect(summary("No full stop at all")).toBe("No full stop at all");
  });
});
