/**
 * deploy/keda/scaledobject.yaml. There is no published model of KEDA's types to validate against,
 * so the fields it relies on are checked against KEDA's own definitions, cited where they are
 * read (kedacore/keda: apis/keda/v1alpha1/scaledobject_types.go, scaletriggers_types.go,
 * pkg/scalers/prometheus_scaler.go), and its query is run by promtool over sample series.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../mixin/render.js";
import { exporterFamilies } from "../../scripts/docs/reference.js";
import { metricNames } from "../mixin/promql-names.js";

const run = promisify(execFile);

/** The tags of the runner the example scales, as its comments and README state them. */
const RUNNER_TAGS = ["kubernetes", "spot"];
const EXPORTER_JOB = "gitlab-ci-k8s-exporter";

interface ScaledObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: Record<string, unknown> & {
    scaleTargetRef: Record<string, unknown>;
    minReplicaCount?: number;
    maxReplicaCount?: number;
    idleReplicaCount?: number;
    fallback?: Record<string, unknown>;
    triggers: Array<Record<string, unknown> & { type: string; metadata: Record<string, unknown>; metricType?: string }>;
  };
}

const scaledObject = parse(await readFile(path.join(ROOT, "deploy/keda/scaledobject.yaml"), "utf8")) as ScaledObject;
const trigger = scaledObject.spec.triggers[0]!;
const query = String(trigger.metadata.query);

// ScaledObjectSpec, ScaleTarget and Fallback (scaledobject_types.go): the CRD's structural schema
// drops unknown fields silently, so a misspelt one would be lost without an error.
const SPEC_FIELDS = ["scaleTargetRef", "pollingInterval", "initialCooldownPeriod", "cooldownPeriod", "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "advanced", "triggers", "fallback"];
const INT32_FIELDS = ["pollingInterval", "initialCooldownPeriod", "cooldownPeriod", "idleReplicaCount", "minReplicaCount", "maxReplicaCount"];
const SCALE_TARGET_FIELDS = ["name", "apiVersion", "kind", "envSourceContainerName"];
const FALLBACK_BEHAVIORS = ["static", "currentReplicas", "currentReplicasIfHigher", "currentReplicasIfLower"];
// ScaleTriggers (scaletriggers_types.go).
const TRIGGER_FIELDS = ["type", "name", "useCachedMetrics", "metadata", "authenticationRef", "metricType"];
// prometheusMetadata (prometheus_scaler.go): the keys the scaler reads; serverAddress, query and
// threshold have no default.
const PROMETHEUS_KEYS = ["serverAddress", "query", "queryParameters", "threshold", "activationThreshold", "namespace", "customHeaders", "ignoreNullValues", "unsafeSsl", "awsRegion", "timeout", "identityOwner", "authModes"];

const unknownKeys = (object: Record<string, unknown>, known: string[]) => Object.keys(object).filter((key) => !known.includes(key));
const isInt32 = (value: unknown) => Number.isInteger(value) && (value as number) >= 0 && (value as number) < 2 ** 31;

describe("the KEDA ScaledObject", () => {
  it("uses only fields KEDA's ScaledObject defines, with their types", () => {
    expect(scaledObject).toMatchObject({ apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject" });
    expect(scaledObject.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(unknownKeys(scaledObject.spec, SPEC_FIELDS)).toEqual([]);
    for (const field of INT32_FIELDS.filter((f) => f in scaledObject.spec)) expect(isInt32(scaledObject.spec[field]), field).toBe(true);
    expect(unknownKeys(scaledObject.spec.scaleTargetRef, SCALE_TARGET_FIELDS)).toEqual([]);
    expect(scaledObject.spec.scaleTargetRef).toMatchObject({ apiVersion: "apps/v1", kind: "Deployment", name: expect.any(String) });
    expect(scaledObject.spec.triggers).toHaveLength(1);
    expect(unknownKeys(trigger, TRIGGER_FIELDS)).toEqual([]);
  });

  it("keeps replica bounds and fallback as KEDA validates them", () => {
    // CheckReplicaCountBoundsAreValid: min <= max (max defaults to 100), idle < min.
    const { minReplicaCount = 0, maxReplicaCount = 100, idleReplicaCount, fallback } = scaledObject.spec;
    expect(minReplicaCount).toBeLessThanOrEqual(maxReplicaCount);
    if (idleReplicaCount !== undefined) expect(idleReplicaCount).toBeLessThan(minReplicaCount);
    // CheckFallbackValid: both numbers >= 0, and a trigger with the AverageValue target (the default).
    expect(fallback).toBeDefined();
    expect(unknownKeys(fallback!, ["failureThreshold", "replicas", "behavior"])).toEqual([]);
    expect(isInt32(fallback!.failureThreshold) && (fallback!.failureThreshold as number) > 0).toBe(true);
    expect(isInt32(fallback!.replicas)).toBe(true);
    if (fallback!.behavior !== undefined) expect(FALLBACK_BEHAVIORS).toContain(fallback!.behavior);
    expect(trigger.metricType ?? "AverageValue").toBe("AverageValue");
  });

  it("gives the Prometheus scaler string metadata it parses: address, query, float thresholds", () => {
    expect(trigger.type).toBe("prometheus");
    const metadata = trigger.metadata;
    // metadata is map[string]string: a YAML number or boolean there fails to decode.
    for (const [key, value] of Object.entries(metadata)) expect(typeof value, key).toBe("string");
    expect(unknownKeys(metadata, PROMETHEUS_KEYS)).toEqual([]);
    expect(() => new URL(String(metadata.serverAddress))).not.toThrow();
    for (const key of ["threshold", "activationThreshold"]) expect(Number.isFinite(Number.parseFloat(String(metadata[key]))), key).toBe(true);
    expect(Number(metadata.threshold)).toBeGreaterThan(0);
    // An empty result must be an error (the fallback), not a silent zero.
    expect(metadata.ignoreNullValues).toBe("false");
  });

  it("reads only families the exporter exports, from the job the mixin's rules select", () => {
    const exported = new Set(exporterFamilies().map((f) => f.name));
    expect(metricNames(query).filter((name) => name !== "up" && !exported.has(name))).toEqual([]);
    const jobs = [...query.matchAll(/\bjob="([^"]*)"/g)].map((m) => m[1]);
    expect(jobs.length).toBeGreaterThan(0);
    expect(new Set(jobs)).toEqual(new Set([EXPORTER_JOB]));
  });

  it("matches the tag sets the runner can take: every non-empty subset of its tags, sorted and joined", () => {
    const subsets = (tags: string[]): string[] =>
      Array.from({ length: 2 ** tags.length - 1 }, (_, mask) => [...tags].sort().filter((_, bit) => ((mask + 1) >> bit) & 1).join(","));
    const regexes = [...query.matchAll(/\btags=~"([^"]*)"/g)].map((m) => m[1]!);
    expect(regexes).toHaveLength(2);
    for (const regex of regexes) expect(new Set(regex.split("|"))).toEqual(new Set(subsets(RUNNER_TAGS)));
  });
});

/** One promtool promql_expr_test of the query at 1m over the given series. */
function exprTest(series: Array<[string, number]>, expected: number | null) {
  return {
    interval: "1m",
    input_series: series.map(([name, value]) => ({ series: name, values: `${value}x2` })),
    promql_expr_test: [{ expr: query, eval_time: "1m", exp_samples: expected === null ? [] : [{ labels: "{}", value: expected }] }],
  };
}

const up = (instance: string, value: number): [string, number] => [`up{job="${EXPORTER_JOB}", instance="${instance}"}`, value];
const jobs = (family: string, instance: string, project: string, tags: string, value: number): [string, number] => [
  `gitlab_ci_jobs_${family}{job="${EXPORTER_JOB}", instance="${instance}", project="${project}", tags="${tags}"}`,
  value,
];

describe("the ScaledObject's query, run by promtool", () => {
  it("sums the runner's pending and running jobs once, 0 when none, and nothing while the exporter is down", async () => {
    const tests = [
      // Counted: kubernetes (seen by both pods of a rollout, once), kubernetes,spot, running spot.
      // Not counted: gpu, gpu,kubernetes (the runner lacks gpu), untagged.
      exprTest(
        [
          up("a", 1),
          up("b", 1),
          jobs("pending", "a", "acme/api", "kubernetes", 3),
          jobs("pending", "b", "acme/api", "kubernetes", 3),
          jobs("pending", "a", "acme/web", "kubernetes,spot", 2),
          jobs("running", "a", "acme/web", "spot", 4),
          jobs("pending", "a", "acme/api", "gpu", 7),
          jobs("pending", "a", "acme/api", "gpu,kubernetes", 4),
          jobs("pending", "a", "acme/web", "", 5),
        ],
        9,
      ),
      exprTest([up("a", 1), jobs("pending", "a", "acme/api", "gpu", 7)], 0),
      exprTest([up("a", 0), jobs("pending", "a", "acme/api", "kubernetes", 3)], null),
      exprTest([jobs("pending", "a", "acme/api", "kubernetes", 3)], null),
    ];
    const dir = await mkdtemp(path.join(tmpdir(), "keda-query-"));
    try {
      const file = path.join(dir, "scaledobject-query.test.yaml");
      await writeFile(file, stringify({ rule_files: [], evaluation_interval: "1m", tests }, { lineWidth: 0 }));
      const { stdout } = await run("promtool", ["test", "rules", file]);
      expect(stdout).toContain("SUCCESS");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
