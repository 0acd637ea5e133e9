import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { parse } from "yaml";

const root = new URL("../../", import.meta.url).pathname;

export interface ExporterProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Exit code, or the signal's name when a signal ended the process. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the process wrote, stdout and stderr interleaved. */
  output(): string;
  /** SIGKILL unless already gone; waits for the exit. */
  kill(): Promise<void>;
}

/** A port free right now on 127.0.0.1, for the exporter to listen on. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let bundle: Promise<string> | undefined;
/**
 * `src/cli.ts` compiled once into one ES module under `.tmp/` (its packages stay imports, found in
 * the project's node_modules), as the production build runs it: a process starts in a fraction
 * of the time and memory `tsx` needs to compile on the fly, so the suite measures the exporter,
 * not the compiler. One file per test process, so that test files running at once never read a
 * bundle another is writing.
 */
export function exporterBundle(): Promise<string> {
  bundle ??= import("esbuild").then(async ({ build }) => {
    const outdir = `${root}.tmp/cli-bundles/${process.pid}`;
    // Split as tsc's output is: what cli.ts imports only once the configuration loaded is loaded only then.
    await build({ entryPoints: { cli: `${root}src/cli.ts` }, bundle: true, splitting: true, platform: "node", format: "esm", target: "node20", packages: "external", outdir, outExtension: { ".js": ".mjs" }, logLevel: "error" });
    return `${outdir}/cli.mjs`;
  });
  return bundle;
}

/**
 * The real CLI in its own process, compiled from `src/cli.ts`, with exactly `env` (and PATH):
 * nothing leaks in from the test runner's environment.
 */
export async function spawnExporter(env: Record<string, string>, options: { port?: number } = {}): Promise<ExporterProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [await exporterBundle()], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", LISTEN_ADDRESS: `127.0.0.1:${port}`, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  // Bounded: a process that logs without end must not take the test runner's memory with it.
  const keep = (chunk: Buffer) => {
    if (output.length < 4 * 2 ** 20) output += chunk.toString();
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    child,
    exited,
    output: () => output,
    async kill() {
      if (!gone) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Waits until `path` answers 200, or throws with the process output. */
export async function waitFor(exporter: ExporterProcess, path: "/healthz" | "/readyz", timeoutMs = 20_000): Promise<void> {
  let exited = false;
  void exporter.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    const ok = await fetch(`${exporter.url}${path}`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`exporter ${path} did not answer 200${exited ? " (the process exited)" : ""}\n${exporter.output().slice(-4000)}`);
}

/** The memory limit of the exporter's container in the Deployment the project ships, in bytes. */
export function deploymentMemoryLimitBytes(): number {
  const manifest = parse(readFileSync(`${root}deploy/kubernetes/base/deployment.yaml`, "utf8")) as {
    spec: { template: { spec: { containers: Array<{ resources?: { limits?: { memory?: string } } }> } } };
  };
  const memory = manifest.spec.template.spec.containers[0]?.resources?.limits?.memory;
  const match = /^(\d+)(Ki|Mi|Gi)$/.exec(memory ?? "");
  if (!match) throw new Error(`unexpected memory limit in the Deployment: ${memory}`);
  return Number(match[1]) * { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] as "Ki" | "Mi" | "Gi"];
}
