import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { GitLabWorld } from "../../src/simulator/gitlab/index.js";
import { KubeWorld, startKubeSimulator, type KubeSimulator } from "../../src/simulator/kube/index.js";
import { startStack, waitReady, type Stack } from "./stack.js";

export interface KubeStack {
  readonly kubeWorld: KubeWorld;
  readonly kube: KubeSimulator;
  readonly stack: Stack;
  close(): Promise<void>;
}

/**
 * The exporter wired to a simulated GitLab (group `acme` with `projects`, no jobs, in `world` when
 * given) and a simulated Kubernetes API.
 */
export async function startKubeStack(
  env: Record<string, string> = {},
  kubeWorld = new KubeWorld(),
  options: { projects?: readonly string[]; world?: GitLabWorld } = {},
): Promise<KubeStack> {
  const kube = await startKubeSimulator({ world: kubeWorld, bookmarkIntervalMs: 200 });
  const dir = await mkdtemp(path.join(tmpdir(), "kube-stack-"));
  const kubeconfig = path.join(dir, "kubeconfig");
  await writeFile(kubeconfig, kube.kubeconfig());
  const world = options.world ?? new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
  world.addGroup("acme");
  for (const project of options.projects ?? []) world.addProject(project);
  const stack = await startStack({ world, kubeconfig, env: { GITLAB_GROUPS: "acme", ...env } });
  await waitReady(stack);
  return {
    kubeWorld,
    kube,
    stack,
    async close() {
      await stack.close();
      await kube.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
