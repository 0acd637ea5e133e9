import type { Dice } from "./random.js";

/** What a simulated fleet looks like: where projects live and what their pipelines contain. */

const GROUPS = ["acme/platform", "acme/web", "acme/data/pipelines", "tools", "infra/terraform"];
const SERVICES = ["api", "worker", "frontend", "billing", "search", "auth", "gateway", "reports", "ingest", "scheduler"];

/** `count` project paths spread over a few groups and nested subgroups, the same for the same count. */
export function generateProjectPaths(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${GROUPS[i % GROUPS.length]}/${SERVICES[i % SERVICES.length]}-${Math.floor(i / SERVICES.length)}`);
}

const JOB_NAMES: Readonly<Record<string, readonly string[]>> = {
  build: ["build", "build-image", "compile", "package"],
  test: ["unit-test", "lint", "integration-test", "security-scan", "e2e"],
  deploy: ["deploy-review", "deploy-staging"],
};

export interface PlannedJob {
  readonly name: string;
  readonly stage: string;
}

/**
 * A pipeline of about `meanJobs` jobs (1 to 2·mean−1, uniformly): one build job, tests, and
 * sometimes a deploy, in stage order.
 */
export function planPipeline(dice: Dice, meanJobs: number): PlannedJob[] {
  const count = 1 + dice.int(Math.max(1, Math.round(2 * meanJobs - 1)));
  const deploy = count >= 3 && dice.chance(0.5);
  const jobs: PlannedJob[] = [{ name: dice.pick(JOB_NAMES.build!), stage: "build" }];
  const tests = shuffle(dice, JOB_NAMES.test!);
  for (let i = 0; jobs.length < count - (deploy ? 1 : 0); i++) {
    const base = tests[i % tests.length]!;
    jobs.push({ name: i < tests.length ? base : `${base} ${Math.floor(i / tests.length) + 1}`, stage: "test" });
  }
  if (deploy) jobs.push({ name: dice.pick(JOB_NAMES.deploy!), stage: "deploy" });
  return jobs;
}

export function shuffle<T>(dice: Dice, items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = dice.int(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
