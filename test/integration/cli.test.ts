import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import packageJson from "../../package.json" with { type: "json" };
import { SETTINGS } from "../../src/config/settings.js";
import { exporterBundle } from "../helpers/exporter-process.js";

const root = new URL("../../", import.meta.url).pathname;
/** A home without ~/.kube/config, so that no developer's cluster is found by default. */
const home = mkdtempSync(join(tmpdir(), "cli-home-"));
const scratch = mkdtempSync(join(tmpdir(), "cli-files-"));
const BASE = { GITLAB_URL: "https://gitlab.example.com", GITLAB_TOKEN: "secret-token-value", GITLAB_PROJECTS: "a/b", LISTEN_ADDRESS: "127.0.0.1:0" };

/** The command, compiled from `src/cli.ts`, in its own process with exactly `env` (and PATH and HOME). */
async function runCli(env: Record<string, string>, args: string[] = [], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = await exporterBundle();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { PATH: process.env.PATH ?? "", HOME: home, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`cli did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Exit code 2, one line on stderr that names `setting` (and matches `expected`), nothing on stdout, no secret. */
function expectOneLine(result: { code: number | null; stdout: string; stderr: string }, setting: string, expected?: RegExp): void {
  expect(result.code, result.stderr + result.stdout).toBe(2);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^invalid configuration: ${setting}[= ]`));
  if (expected) expect(lines[0]).toMatch(expected);
  expect(result.stdout).toBe("");
  expect(result.stderr).not.toContain("secret-token-value");
}

describe("gitlab-ci-k8s-exporter command", () => {
  it("refuses to start on a bad setting, naming it in one line", async () => {
    const result = await runCli({ GITLAB_URL: "not a url", GITLAB_TOKEN: "secret-token-value", GITLAB_PROJECTS: "a/b" });
    expectOneLine(result, "GITLAB_URL", /GITLAB_URL="not a url"/);
  });

  it("refuses to start when a required setting is missing", async () => {
    const result = await runCli({ GITLAB_URL: "https://gitlab.example.com", GITLAB_PROJECTS: "a/b" });
    expectOneLine(result, "GITLAB_TOKEN", /GITLAB_TOKEN is not set/);
  });

  it("names a bad --config file", async () => {
    const result = await runCli({}, ["--config", "/nonexistent/config.yaml"]);
    expectOneLine(result, "CONFIG_FILE");
  });

  it.each(["METRICS_BEARER_TOKEN", "GITLAB_WEBHOOK_SECRET_FILE"])("refuses a blank %s in one line", async (name) => {
    const result = await runCli({ ...BASE, [name]: "   " });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([`invalid configuration: ${name} is set but blank: expected a non-empty value, or the setting removed`]);
    expect(result.stdout).toBe("");
  });

  it("refuses a GITLAB_URL with user:password@ without printing either", async () => {
    const result = await runCli({ GITLAB_URL: "https://deploy-user:hunter2-password@gitlab.example.com", GITLAB_TOKEN: "secret-token-value", GITLAB_PROJECTS: "a/b" });
    expectOneLine(result, "GITLAB_URL", /GITLAB_URL="https:\/\/\*\*\*@gitlab\.example\.com"/);
    for (const secret of ["deploy-user", "hunter2"]) expect(result.stderr + result.stdout).not.toContain(secret);
  });

  it("refuses an argument it does not know rather than ignoring it", async () => {
    const result = await runCli(BASE, ["--confg", "settings.yaml"]);
    expectOneLine(result, "unknown argument", /^invalid configuration: unknown argument "--confg": expected --config FILE, --help \(-h\) or --version \(-V\)$/);
  });

  it("refuses auto-sharding without the pod's namespace, in one line, exit 2", async () => {
    const kubeconfig = join(scratch, "shard-kubeconfig");
    writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:9\n    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n");
    const result = await runCli({ ...BASE, KUBECONFIG: kubeconfig, SHARD: "auto", TOTAL_SHARDS: "auto", POD_NAME: "exporter-1" });
    expectOneLine(result, "POD_NAMESPACE", /^invalid configuration: POD_NAMESPACE is not set/);
  });
});

describe("--help and --version", () => {
  it.each(["--help", "-h"])("%s lists every setting with its default and exits 0, with no setting given", async (flag) => {
    const result = await runCli({}, [flag]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^gitlab-ci-k8s-exporter \d+\.\d+\.\d+: /);
    for (const spec of SETTINGS) expect(result.stdout).toContain(`\n  ${"default" in spec ? `${spec.name}=${spec.default}` : spec.name}`);
    expect(result.stdout).not.toContain("GITLAB_URL is not set");
  });

  it.each(["--version", "-V"])("%s prints the version and exits 0, with no setting given", async (flag) => {
    const result = await runCli({}, [flag]);
    expect(result).toEqual({ code: 0, stdout: `${packageJson.version}\n`, stderr: "" });
  });
});

describe("settings found wrong while starting exit 2 in one line too", () => {
  const file = (name: string, text: string) => {
    const path = join(scratch, name);
    writeFileSync(path, text);
    return path;
  };
  const kubeconfig = (name: string, cluster: string) =>
    file(name, ["apiVersion: v1", "kind: Config", `clusters: [{name: c, cluster: {${cluster}}}]`, "users: [{name: u, user: {token: t}}]", "contexts: [{name: x, context: {cluster: c, user: u}}]", "current-context: x"].join("\n"));

  it.skipIf(existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token"))("no Kubernetes configuration anywhere names KUBE_ENABLED", async () => {
    expectOneLine(await runCli(BASE), "KUBE_ENABLED", /or KUBE_ENABLED=false to run without Kubernetes$/);
  });

  it.each([
    ["a kubeconfig that is not YAML", () => file("broken-kubeconfig", "clusters: [\n"), /expected a readable kubeconfig file/],
    ["a kubeconfig that does not exist", () => join(scratch, "absent-kubeconfig"), /expected a readable kubeconfig file \(ENOENT/],
    ["a kubeconfig naming a missing CA file", () => kubeconfig("no-ca", "server: 'https://127.0.0.1:6443', certificate-authority: /nonexistent/ca.crt"), /certificate-authority file, "\/nonexistent\/ca\.crt" \(ENOENT\)$/],
    ["a kubeconfig with plain http and TLS verification on", () => kubeconfig("plain-http", "server: 'http://127.0.0.1:6443'"), /or insecure-skip-tls-verify: true for plain http:\/\/$/],
  ])("%s names KUBECONFIG", async (_, path, expected) => {
    expectOneLine(await runCli({ ...BASE, KUBECONFIG: path() }), "KUBECONFIG", expected);
  });

  it("a price table that does not fit names KUBE_NODE_PRICES_FILE and what is wrong in it", async () => {
    const prices = file("prices.yaml", "currency: USD\ninstanceTypes:\n  c5a.2xlarge: { ondemand: 0.308, spot: 0.1201 }\n");
    const result = await runCli({ ...BASE, KUBE_ENABLED: "false", KUBE_NODE_PRICES_FILE: prices });
    expectOneLine(result, "KUBE_NODE_PRICES_FILE", /^invalid configuration: KUBE_NODE_PRICES_FILE=".*prices\.yaml": expected a price table with currency and instanceTypes: instanceTypes\["c5a\.2xlarge"\]/);
    expect(result.stderr).toContain('"ondemand"');
  });

  it("an unreadable token file names GITLAB_TOKEN_FILE", async () => {
    const { GITLAB_TOKEN: _token, ...withoutToken } = BASE;
    expectOneLine(await runCli({ ...withoutToken, GITLAB_TOKEN_FILE: "/nonexistent/token", KUBE_ENABLED: "false" }), "GITLAB_TOKEN_FILE", /expected a readable file \(ENOENT\)$/);
    const directory = join(scratch, "token-dir");
    mkdirSync(directory, { recursive: true });
    expectOneLine(await runCli({ ...withoutToken, GITLAB_TOKEN_FILE: directory, KUBE_ENABLED: "false" }), "GITLAB_TOKEN_FILE", /expected a readable file \(EISDIR\)$/);
  });

  describe("TLS files", () => {
    beforeAll(() => {
      for (const name of ["a", "b"]) {
        execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(scratch, `${name}.key`), "-out", join(scratch, `${name}.crt`), "-subj", `/CN=${name}`, "-days", "1"], { stdio: "ignore" });
      }
    });

    it("a key of another certificate names TLS_KEY_FILE", async () => {
      const result = await runCli({ ...BASE, KUBE_ENABLED: "false", TLS_CERT_FILE: join(scratch, "a.crt"), TLS_KEY_FILE: join(scratch, "b.key") });
      expectOneLine(result, "TLS_KEY_FILE", /expected the private key of TLS_CERT_FILE's certificate/);
    });

    it("a certificate OpenSSL cannot read names TLS_CERT_FILE", async () => {
      const cert = file("garbage.crt", "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
      expectOneLine(await runCli({ ...BASE, KUBE_ENABLED: "false", TLS_CERT_FILE: cert, TLS_KEY_FILE: join(scratch, "a.key") }), "TLS_CERT_FILE", /expected a PEM certificate \(PEM routines: /);
    });
  });

  describe("a LISTEN_ADDRESS another process listens on", () => {
    let taken: Server;
    beforeAll(async () => {
      taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    });
    afterAll(() => new Promise((resolve) => taken.close(resolve)));

    it("names LISTEN_ADDRESS and exits 2", async () => {
      const { port } = taken.address() as { port: number };
      const result = await runCli({ ...BASE, KUBE_ENABLED: "false", LISTEN_ADDRESS: `127.0.0.1:${port}` });
      expectOneLine(result, "LISTEN_ADDRESS", new RegExp(`^invalid configuration: LISTEN_ADDRESS="127\\.0\\.0\\.1:${port}": expected a free port, but another process listens there \\(EADDRINUSE\\)`));
    });
  });
});
