import { afterEach, describe, expect, it } from "vitest";
import { GitLabWorld } from "../../src/simulator/gitlab/index.js";
import { freePort } from "../helpers/exporter-process.js";
import { startStack, TOKEN, type Stack } from "../helpers/stack.js";

/** The log lines at warn and above, parsed, once one matches `until`. */
async function warningsUntil(logs: string[], until: (line: { msg: string }) => boolean, timeoutMs = 10_000): Promise<{ msg: string; [field: string]: unknown }[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const warnings = logs.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.level >= 40);
    if (warnings.some(until) || Date.now() > deadline) return warnings;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("GitLab failures in the log, against the simulated GitLab", () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  function world(): GitLabWorld {
    const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
    world.addProject("acme/api");
    return world;
  }

  it("a wrong token: the host, the group and the token setting with its scope, and no token", async () => {
    const logs: string[] = [];
    stack = await startStack({ world: world(), logs, env: { GITLAB_TOKEN: "glpat-wrong-token-value", GITLAB_GROUPS: "acme" } });
    const host = new URL(stack.gitlab.url).host;
    const warnings = await warningsUntil(logs, (line) => line.msg.includes("401"));
    expect(warnings[0]).toMatchObject({
      source: "gitlab",
      gitlab: host,
      group: "acme",
      status: 401,
      msg: `GitLab at ${host} refused the token (401) reading group "acme": GITLAB_TOKEN (or GITLAB_TOKEN_FILE) is wrong, expired or revoked; give it a valid token with the read_api scope`,
    });
    for (const secret of ["glpat-wrong-token-value", TOKEN]) expect(logs.join("")).not.toContain(secret);
  });

  it("a group the token cannot see and a listed project that does not exist: each named, with its setting", async () => {
    const logs: string[] = [];
    stack = await startStack({ world: world(), logs, env: { GITLAB_GROUPS: "acme,acme-typo", GITLAB_PROJECTS: "acme/missing" } });
    const host = new URL(stack.gitlab.url).host;
    const warnings = await warningsUntil(logs, (line) => line.msg.includes("acme/missing"));
    const group = warnings.find((line) => line.group === "acme-typo");
    expect(group?.msg).toBe(
      `GitLab at ${host} has no group "acme-typo" this token can see (404): check its full path in GITLAB_GROUPS (as in the group's URL, e.g. acme/platform); the token's user, or the group access token, must be a member with at least the Reporter role (GitLab answers 404 for a group the token cannot see); skipped until the next discovery`,
    );
    const project = warnings.find((line) => line.project === "acme/missing");
    expect(project?.msg).toMatch(new RegExp(`^GitLab at ${host} has no project "acme/missing" this token can see \\(404\\): check the path .* in GITLAB_PROJECTS`));
    // The group that exists is read without a word.
    expect(warnings.some((line) => line.group === "acme")).toBe(false);
  });

  it("a GitLab nothing answers at: the host and the setting to check", async () => {
    const logs: string[] = [];
    const port = await freePort();
    stack = await startStack({ world: world(), logs, env: { GITLAB_URL: `http://127.0.0.1:${port}`, GITLAB_GROUPS: "acme" } });
    const warnings = await warningsUntil(logs, (line) => line.msg.includes("ECONNREFUSED"));
    expect(warnings[0]).toMatchObject({
      gitlab: `127.0.0.1:${port}`,
      msg: `GitLab at 127.0.0.1:${port} could not be reached reading group "acme" (ECONNREFUSED): nothing listens there; check the scheme and port in GITLAB_URL and that GitLab is up`,
    });
  });
});
