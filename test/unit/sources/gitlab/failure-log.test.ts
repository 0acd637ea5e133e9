import { describe, expect, it } from "vitest";
import { failureLog, GitLabFailure } from "../../../../src/sources/gitlab/failure-log.js";
import { GitLabRequestError } from "../../../../src/sources/gitlab/request-error.js";

const HOST = "gitlab.example.com";
const http = (status: number, detail = "") => new GitLabRequestError(`GET /groups/:id/projects: HTTP ${status}${detail}`, status, "http", "/groups/:id/projects", HOST);
const network = (code: string) => new GitLabRequestError(`GET /projects/:id/jobs: ${code}`, undefined, "network", "/projects/:id/jobs", HOST, code);

describe("GitLab failure log lines", () => {
  it("a refused token names the host, what was read, and the token setting and scope", () => {
    const { msg, fields } = failureLog(http(401, " (401 Unauthorized)"), { group: "acme/platform" });
    expect(msg).toBe(
      'GitLab at gitlab.example.com refused the token (401) reading group "acme/platform": GITLAB_TOKEN (or GITLAB_TOKEN_FILE) is wrong, expired or revoked; give it a valid token with the read_api scope',
    );
    expect(fields).toEqual({ group: "acme/platform", gitlab: HOST, status: 401, endpoint: "/groups/:id/projects", err: "GET /groups/:id/projects: HTTP 401 (401 Unauthorized)" });
  });

  it("a token without read_api is told apart from one without access", () => {
    expect(failureLog(http(403, " (insufficient_scope)"), { task: "discovery" }).msg).toContain("refused the token (403, insufficient_scope) during the discovery: the token lacks the read_api scope");
    expect(failureLog(http(403), { group: "acme" }).msg).toBe(
      'GitLab at gitlab.example.com refused the token access to group "acme" (403): the token\'s user, or the group access token, must be a member with at least the Reporter role',
    );
  });

  it("a group or project not found points at its setting and at membership", () => {
    const group = failureLog(http(404), { group: "acme/platfrom" }).msg;
    expect(group).toMatch(/^GitLab at gitlab\.example\.com has no group "acme\/platfrom" this token can see \(404\): check its full path in GITLAB_GROUPS/);
    expect(group).toContain("member with at least the Reporter role");
    const listed = failureLog(http(404), { listedProject: "acme/api" });
    expect(listed.msg).toMatch(/has no project "acme\/api" this token can see \(404\): check the path .* in GITLAB_PROJECTS/);
    expect(listed.fields.project).toBe("acme/api");
  });

  it("a watched project that went away is named by its path", () => {
    const { msg, fields } = failureLog(http(404), { project: "acme/api" });
    expect(msg).toBe("GitLab at gitlab.example.com has no project acme/api this token can see (404): the project was deleted or moved, or the token lost access to it");
    expect(fields.project).toBe("acme/api");
  });

  it.each([
    ["ENOTFOUND", "the host name in GITLAB_URL does not resolve"],
    ["EAI_AGAIN", "the host name in GITLAB_URL does not resolve"],
    ["ECONNREFUSED", "nothing listens there; check the scheme and port in GITLAB_URL"],
    ["SELF_SIGNED_CERT_IN_CHAIN", "NODE_EXTRA_CA_CERTS"],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "NODE_EXTRA_CA_CERTS"],
    ["ECONNRESET", "check GITLAB_URL and that the exporter may reach it (proxy, firewall, network policy)"],
  ])("a network error (%s) names the host and what to check", (code, hint) => {
    const { msg, fields } = failureLog(network(code), { project: "acme/api" });
    expect(msg).toContain(`GitLab at gitlab.example.com could not be reached reading project acme/api (${code}): `);
    expect(msg).toContain(hint);
    expect(fields.gitlab).toBe(HOST);
  });

  it("a timeout, a 429, a 5xx and an HTML page each get their hint", () => {
    const timeout = new GitLabRequestError("GET /projects/:id/jobs: no complete response within 30000 ms", undefined, "timeout", "/projects/:id/jobs", HOST);
    expect(failureLog(timeout, { project: "a/b" }).msg).toContain("sent no complete answer in time reading project a/b: GitLab is slow or overloaded, or a proxy holds the request; raise GITLAB_REQUEST_TIMEOUT_SECONDS");
    expect(failureLog(http(429), { task: "sweep" }).msg).toContain("kept answering 429 (rate limited) during the sweep");
    expect(failureLog(http(429), { task: "sweep" }).msg).toContain("GITLAB_MAX_REQUESTS_PER_SECOND");
    expect(failureLog(http(502), { group: "acme" }).msg).toBe('GitLab at gitlab.example.com answered 502 reading group "acme": GitLab, or a proxy in front of it, is failing (GET /groups/:id/projects: HTTP 502)');
    const html = new GitLabRequestError("GET /groups/:id/projects: expected JSON, got text/html", 200, "protocol", "/groups/:id/projects", HOST);
    expect(failureLog(html, { group: "acme" }).msg).toContain("GITLAB_URL may point at a login portal, a proxy or another site");
  });

  it("a failure thrown up with its subject keeps it; anything else is told as it is", () => {
    expect(failureLog(new GitLabFailure({ group: "acme" }, http(401)), { task: "discovery" }).fields.group).toBe("acme");
    expect(failureLog(new GitLabFailure({ group: "acme" }, http(401)), { task: "discovery" }).msg).toContain('reading group "acme"');
    expect(failureLog(new Error("boom"), { task: "hot poll" })).toEqual({ msg: "GitLab failed during the hot poll: boom", fields: { task: "hot poll", gitlab: undefined, status: undefined, endpoint: undefined, err: "boom" } });
    expect(failureLog(new GitLabRequestError("GET /x: odd", 200, "protocol", "/x"), { project: "a/b" }).msg).toBe("GitLab failed reading project a/b: GET /x: odd");
  });
});
