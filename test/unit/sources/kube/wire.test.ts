import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULT_BUILDER_IMAGES } from "../../../../src/domain/builder.js";
import { RUNNER_JOB_POD_KEYS } from "../../../../src/domain/job-pod.js";
import { DEFAULT_INSTANCE_TYPE_KEYS, DEFAULT_NODEGROUP_KEYS, DEFAULT_SPOT_SELECTORS, DEFAULT_ZONE_KEYS } from "../../../../src/domain/node.js";
import type { Rejections } from "../../../../src/lib/rejections.js";
import { StringPool } from "../../../../src/lib/string-pool.js";
import { resourceVersionOf, toNodeSnapshot, toPodSnapshot, type PodRecognition } from "../../../../src/sources/kube/wire.js";

const fixtures = new URL("../../../fixtures/kubernetes/", import.meta.url);
const podYaml = parse(readFileSync(new URL("pod-gitlab-runner-job.yaml", fixtures), "utf8")) as Record<string, any>;
const nodeYaml = parse(readFileSync(new URL("node-eks-spot.yaml", fixtures), "utf8")) as Record<string, any>;
const watchEvents = readFileSync(new URL("watch-pods.jsonl", fixtures), "utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line) as { type: string; object: Record<string, any> });
const nodeRecognition = { spotSelectors: DEFAULT_SPOT_SELECTORS, nodegroupKeys: DEFAULT_NODEGROUP_KEYS, instanceTypeKeys: DEFAULT_INSTANCE_TYPE_KEYS, zoneKeys: DEFAULT_ZONE_KEYS };
const recognition: PodRecognition = { jobPod: { keys: RUNNER_JOB_POD_KEYS, gitlabBasePath: "", refMaxLength: 128 }, builders: DEFAULT_BUILDER_IMAGES };

describe("pod snapshots", () => {
  it("keep what the families need of the reference runner pod", () => {
    const pod = toPodSnapshot(podYaml, recognition)!;
    expect(pod).toMatchObject({
      uid: "9b2f4c1d-6e7a-4f08-b3c5-7d1e2a9f6c40",
      namespace: "gitlab-runner",
      name: "runner-axk2lp9qz-project-4217-concurrent-0-k3v9x2qa",
      nodeName: "ip-192-168-107-39.us-west-2.compute.internal",
      phase: "Running",
      disruption: null,
      job: { jobId: "812345", project: "acme/platform/backend-api", ref: "main", jobName: "build-image", runner: "eks-spot-runner" },
    });
    expect(pod.containers.map((c) => [c.name, c.builder, c.requests])).toEqual([
      ["build", "kaniko", { cpu: 1, memory: 2 * 2 ** 30 }],
      ["helper", null, { cpu: 0.1, memory: 128 * 2 ** 20 }],
    ]);
    // The build container still runs: no finished run yet.
    expect(pod.containers[0]!.finishedRuns).toEqual([]);
  });

  it("tell the id of the job's project, for its shard: the project id label, else the discovered id of the job URL's path", () => {
    expect(toPodSnapshot(podYaml, recognition)!.projectId).toBe(Number(podYaml.metadata.labels["project.runner.gitlab.com/id"]));
    const older = structuredClone(podYaml);
    delete older.metadata.labels["project.runner.gitlab.com/id"];
    delete older.metadata.annotations["project.runner.gitlab.com/id"];
    expect(toPodSnapshot(older, recognition)!.projectId).toBeNull();
    const projectIdOf = (path: string) => (path === "acme/platform/backend-api" ? 4217 : undefined);
    expect(toPodSnapshot(older, { ...recognition, projectIdOf })!.projectId).toBe(4217);
    const plain = structuredClone(podYaml);
    plain.metadata.labels = {};
    plain.metadata.annotations = {};
    expect(toPodSnapshot(plain, { ...recognition, projectIdOf })!.projectId).toBeNull();
  });

  it("read the same from the watch stream's JSON as from the list's typed objects", () => {
    const listed = toPodSnapshot({ ...podYaml, metadata: { ...podYaml.metadata, creationTimestamp: new Date(podYaml.metadata.creationTimestamp) } }, recognition);
    const watched = toPodSnapshot(watchEvents[1]!.object, recognition);
    expect(watched).toEqual(listed);
    expect(watchEvents.map((e) => resourceVersionOf(e.object))).toEqual(["10596", "11020", "11874"]);
  });

  it("time a finished Kaniko run, current and previous", () => {
    const terminated = (startedAt: string, finishedAt: string, exitCode: number) => ({ terminated: { exitCode, startedAt, finishedAt } });
    const object = structuredClone(podYaml);
    object.status.containerStatuses[0].state = terminated("2026-03-10T09:25:00Z", "2026-03-10T09:27:30Z", 1);
    object.status.containerStatuses[0].lastState = terminated("2026-03-10T09:20:35Z", "2026-03-10T09:24:35Z", 0);
    const build = toPodSnapshot(object, recognition)!.containers[0]!;
    expect(build.finishedRuns).toEqual([
      { startedAtMs: Date.parse("2026-03-10T09:20:35Z"), finishedAtMs: Date.parse("2026-03-10T09:24:35Z"), exitCode: 0 },
      { startedAtMs: Date.parse("2026-03-10T09:25:00Z"), finishedAtMs: Date.parse("2026-03-10T09:27:30Z"), exitCode: 1 },
    ]);
  });

  it("read a DisruptionTarget condition", () => {
    const object = structuredClone(podYaml);
    object.status.conditions.push({ type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI" });
    expect(toPodSnapshot(object, recognition)!.disruption).toBe("EvictionByEvictionAPI");
    object.status.conditions.at(-1).status = "False";
    expect(toPodSnapshot(object, recognition)!.disruption).toBeNull();
  });

  it("time builders in Kubernetes Job pods, and only there outside CI", () => {
    const jobPod = {
      metadata: { name: "build-1-abcde", namespace: "ci", uid: "u1", labels: { "batch.kubernetes.io/job-name": "build-1" }, ownerReferences: [{ kind: "Job", name: "build-1" }] },
      spec: { containers: [{ name: "kaniko", image: "gcr.io/kaniko-project/executor:latest" }, { name: "sidecar", image: "busybox" }] },
      status: { phase: "Succeeded", containerStatuses: [{ name: "kaniko", state: { terminated: { exitCode: 0, startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:01:00Z" } } }] },
    };
    const pod = toPodSnapshot(jobPod, recognition)!;
    expect(pod.job).toBeNull();
    expect(pod.containers).toEqual([{ name: "kaniko", requests: {}, limits: {}, builder: "kaniko", finishedRuns: [{ startedAtMs: 1767225600000, finishedAtMs: 1767225660000, exitCode: 0 }] }]);
    const bare = { ...jobPod, metadata: { name: "bare", uid: "u2", namespace: "ci" } };
    expect(toPodSnapshot(bare, recognition)!.containers).toEqual([]);
  });

  it("tell when a pod in a final phase got there, from its containers or else its conditions", () => {
    expect(toPodSnapshot(podYaml, recognition)!.finishedAtMs).toBeNull();
    const failed = structuredClone(podYaml);
    failed.status.phase = "Failed";
    failed.status.reason = "NodeShutdown";
    failed.status.containerStatuses[0].state = { terminated: { exitCode: 137, startedAt: "2026-03-10T09:20:35Z", finishedAt: "2026-03-10T09:40:01Z" } };
    failed.status.containerStatuses[1].state = { terminated: { exitCode: 137, startedAt: "2026-03-10T09:20:36Z", finishedAt: "2026-03-10T09:40:02Z" } };
    expect(toPodSnapshot(failed, recognition)).toMatchObject({ phase: "Failed", statusReason: "NodeShutdown", finishedAtMs: Date.parse("2026-03-10T09:40:02Z") });
    const neverStarted = structuredClone(podYaml);
    neverStarted.status = { phase: "Failed", reason: "Terminated", conditions: [{ type: "Ready", status: "False", lastTransitionTime: "2026-03-10T09:41:00Z" }, { type: "PodScheduled", status: "True", lastTransitionTime: new Date("2026-03-10T09:20:31Z") }] };
    expect(toPodSnapshot(neverStarted, recognition)!.finishedAtMs).toBe(Date.parse("2026-03-10T09:41:00Z"));
  });

  it("tell when a pod's deletion was asked for: the deletion timestamp less the grace period", () => {
    expect(toPodSnapshot(watchEvents[1]!.object, recognition)!.deletionRequestedAtMs).toBeNull();
    // DELETED at 09:27:32Z with a 30 s grace period: asked for at 09:27:02Z.
    expect(toPodSnapshot(watchEvents[2]!.object, recognition)!.deletionRequestedAtMs).toBe(Date.parse("2026-03-10T09:27:02Z"));
    expect(toPodSnapshot(watchEvents[2]!.object, recognition)!.deletionDueAtMs).toBe(Date.parse("2026-03-10T09:27:32Z"));
    expect(toPodSnapshot(watchEvents[1]!.object, recognition)!.deletionDueAtMs).toBeNull();
  });

  it("follow a job pod's way to running: created, then started 4 s later on a node it was bound to at once", () => {
    expect(toPodSnapshot(watchEvents[0]!.object, recognition)!.start).toEqual({
      createdAtMs: Date.parse("2026-03-10T09:20:31Z"),
      unschedulable: false,
      waitingReasons: [],
      allStarted: false,
      startupSeconds: null,
      schedulingSeconds: null,
      scheduledAtMs: null,
    });
    expect(toPodSnapshot(watchEvents[1]!.object, recognition)!.start).toEqual({
      createdAtMs: Date.parse("2026-03-10T09:20:31Z"),
      unschedulable: false,
      waitingReasons: [],
      allStarted: true,
      startupSeconds: 4,
      schedulingSeconds: 0,
      scheduledAtMs: Date.parse("2026-03-10T09:20:31Z"),
    });
  });

  it("read the scheduler's Unschedulable verdict, and the waiting reasons of init and other containers", () => {
    const unschedulable = structuredClone(watchEvents[0]!.object);
    unschedulable.status.conditions = [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/12 nodes are available: 12 Insufficient cpu.", lastTransitionTime: "2026-03-10T09:20:31Z" }];
    expect(toPodSnapshot(unschedulable, recognition)!.start).toMatchObject({ unschedulable: true, waitingReasons: [], allStarted: false });
    const pulling = structuredClone(podYaml);
    pulling.status.phase = "Pending";
    pulling.status.initContainerStatuses[0].state = { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "registry.gitlab.com/..."' } };
    pulling.status.containerStatuses[0].state = { waiting: { reason: "PodInitializing" } };
    pulling.status.containerStatuses[1].state = { waiting: {} };
    expect(toPodSnapshot(pulling, recognition)!.start).toMatchObject({ waitingReasons: ["ImagePullBackOff", "PodInitializing", ""], allStarted: false, startupSeconds: null, schedulingSeconds: 0 });
    // The build container runs, the helper still waits: started up, not all started.
    pulling.status.containerStatuses[0].state = { running: { startedAt: "2026-03-10T09:22:01Z" } };
    expect(toPodSnapshot(pulling, recognition)!.start).toMatchObject({ allStarted: false, startupSeconds: 90 });
    // A pod that is no CI job pod is not followed.
    expect(toPodSnapshot({ ...pulling, metadata: { name: "web", namespace: "app", uid: "u-web" } }, recognition)!.start).toBeNull();
  });

  it("time a start from the build container's first run, and take a container that ran and ended for started", () => {
    const ended = structuredClone(podYaml);
    ended.status.containerStatuses[0].state = { terminated: { exitCode: 0, startedAt: "2026-03-10T09:20:45Z", finishedAt: "2026-03-10T09:30:00Z" } };
    ended.status.containerStatuses[0].lastState = { terminated: { exitCode: 1, startedAt: "2026-03-10T09:20:41Z", finishedAt: "2026-03-10T09:20:44Z" } };
    expect(toPodSnapshot(ended, recognition)!.start).toMatchObject({ allStarted: true, startupSeconds: 10 });
  });

  it("are the same with the strings pods repeat shared, which the pool then holds once", () => {
    const strings = new StringPool();
    const events = watchEvents.map((event) => event.object);
    const plain = events.map((object) => toPodSnapshot(object, recognition));
    expect(events.map((object) => toPodSnapshot(structuredClone(object), { ...recognition, strings }))).toEqual(plain);
    const pool = new StringPool();
    expect(toPodSnapshot(structuredClone(podYaml), { ...recognition, strings: pool })).toEqual(toPodSnapshot(podYaml, recognition));
    // Its namespace, node, phase, container names and job labels.
    const afterOne = pool.size;
    const amounts = pool.valueCount;
    expect(afterOne).toBeGreaterThanOrEqual(8);
    // Its containers' requests and limits.
    expect(amounts).toBeGreaterThanOrEqual(2);
    // A second decoding of the same pod finds every string it shares in the pool.
    expect(toPodSnapshot(structuredClone(podYaml), { ...recognition, strings: pool })).toEqual(toPodSnapshot(podYaml, recognition));
    expect(pool.size).toBe(afterOne);
    expect(pool.valueCount).toBe(amounts);
    const node = toNodeSnapshot(structuredClone(nodeYaml), { ...nodeRecognition, strings });
    expect(node).toEqual(toNodeSnapshot(nodeYaml, nodeRecognition));
  });

  it("are null for objects that are not pods", () => {
    expect(toPodSnapshot({ kind: "Status", code: 410 }, recognition)).toBeNull();
    expect(toPodSnapshot(null, recognition)).toBeNull();
  });
});

describe("implausible timestamps", () => {
  const NOW = Date.parse("2026-03-10T10:00:00Z");
  function collecting() {
    const refused: string[] = [];
    const rejections: Rejections = { reject: (source, reason, detail) => refused.push(`${source}:${reason}:${String(detail?.field)}`) };
    return { refused, rejections };
  }

  it("become unknown in a node, counted by field, the rest of the node kept", () => {
    const { refused, rejections } = collecting();
    const node = {
      ...nodeYaml,
      metadata: { ...nodeYaml.metadata, creationTimestamp: "9999-12-31T00:00:00Z" },
      status: { conditions: [{ type: "Ready", status: "True", lastTransitionTime: "1970-01-01T00:00:00Z" }] },
    };
    expect(toNodeSnapshot(node, { ...nodeRecognition, rejections, now: () => NOW })).toMatchObject({ spot: true, nodegroup: "ci-spot", createdAtMs: null, readySinceMs: null });
    expect(refused).toEqual(["kube_nodes:future_timestamp:metadata.creationTimestamp", "kube_nodes:ancient_timestamp:status.conditions.Ready.lastTransitionTime"]);
  });

  it("take a pod's deletion request, not its due time, as what must not lie ahead", () => {
    const { refused, rejections } = collecting();
    const checking = { ...recognition, rejections, now: () => NOW };
    // Due in an hour with an hour's grace: requested now, plausible.
    const graceful = { ...podYaml, metadata: { ...podYaml.metadata, deletionTimestamp: "2026-03-10T11:00:00Z", deletionGracePeriodSeconds: 3600 } };
    expect(toPodSnapshot(graceful, checking)!.deletionRequestedAtMs).toBe(NOW);
    const forged = { ...podYaml, metadata: { ...podYaml.metadata, deletionTimestamp: "2026-03-10T11:00:00Z", deletionGracePeriodSeconds: 30 } };
    expect(toPodSnapshot(forged, checking)).toMatchObject({ deletionRequestedAtMs: null, name: podYaml.metadata.name });
    expect(refused).toEqual(["kube_pods:future_timestamp:metadata.deletionTimestamp"]);
  });

  it("drop a container run whose times are absurd, keeping the pod and its other runs", () => {
    const { refused, rejections } = collecting();
    const object = structuredClone(podYaml);
    object.status.containerStatuses[0].state = { terminated: { exitCode: 1, startedAt: "2026-03-10T09:25:00Z", finishedAt: "garbage" } };
    object.status.containerStatuses[0].lastState = { terminated: { exitCode: 0, startedAt: "2026-03-10T09:20:35Z", finishedAt: "2026-03-10T09:24:35Z" } };
    const build = toPodSnapshot(object, { ...recognition, rejections, now: () => NOW })!.containers[0]!;
    expect(build.finishedRuns).toEqual([{ startedAtMs: Date.parse("2026-03-10T09:20:35Z"), finishedAtMs: Date.parse("2026-03-10T09:24:35Z"), exitCode: 0 }]);
    expect(refused).toEqual(["kube_pods:invalid_timestamp:terminated.finishedAt"]);
  });

  it("refuse a start an hour before the pod's creation, keeping the pod waiting for nothing", () => {
    const { refused, rejections } = collecting();
    const object = structuredClone(podYaml);
    object.status.containerStatuses[0].state = { running: { startedAt: "2026-03-10T08:20:35Z" } };
    expect(toPodSnapshot(object, { ...recognition, rejections, now: () => NOW })!.start).toMatchObject({ allStarted: true, startupSeconds: null, schedulingSeconds: 0 });
    expect(refused).toEqual(["kube_pods:negative_duration:startupSeconds"]);
  });
});

describe("label values kept", () => {
  it("are cut to the label value cap, so a live pod holds no more than its series shows", () => {
    const object = structuredClone(podYaml);
    object.metadata.annotations["job.runner.gitlab.com/name"] = "n".repeat(100_000);
    const pod = toPodSnapshot(object, { ...recognition, labelValueMaxBytes: 256 })!;
    expect(Buffer.byteLength(pod.job!.jobName)).toBe(256);
    expect(pod.job!.jobName.endsWith("…")).toBe(true);
    expect(pod.job!.jobId).toBe(toPodSnapshot(podYaml, recognition)!.job!.jobId);
  });
});

describe("node snapshots", () => {
  it("describe the reference EKS spot node", () => {
    expect(toNodeSnapshot(nodeYaml, nodeRecognition)).toEqual({
      name: "ip-192-168-107-39.us-west-2.compute.internal",
      uid: "3f6a9c2e-8d41-4b7e-9a15-2c7e0d5b8f13",
      createdAtMs: Date.parse("2026-03-10T09:12:04Z"),
      deletingSinceMs: null,
      spot: true,
      instanceType: "m5.2xlarge",
      zone: "us-west-2b",
      nodegroup: "ci-spot",
      evidence: null,
      readySinceMs: Date.parse("2026-03-10T09:12:21Z"),
      allocatable: { cpu: 7.91, memory: 31391012 * 1024 },
    });
  });

  it("read what pods may request of a node: allocatable, else capacity, else nothing", () => {
    const capacityOnly = { ...nodeYaml, status: { ...nodeYaml.status, allocatable: undefined } };
    expect(toNodeSnapshot(capacityOnly, nodeRecognition)!.allocatable).toEqual({ cpu: 8, memory: 32408356 * 1024 });
    expect(toNodeSnapshot({ ...nodeYaml, status: undefined }, nodeRecognition)!.allocatable).toEqual({});
  });

  it("tell since when a node is Ready, and nothing when it is not", () => {
    const recognition = nodeRecognition;
    const notReady = { ...nodeYaml, status: { conditions: [{ type: "Ready", status: "Unknown", lastTransitionTime: "2026-03-10T10:00:00Z" }] } };
    expect(toNodeSnapshot(notReady, recognition)!.readySinceMs).toBeNull();
    expect(toNodeSnapshot({ ...nodeYaml, status: undefined }, recognition)!.readySinceMs).toBeNull();
  });

  it("read the instance type and zone from the configured labels", () => {
    const labelled = { ...nodeYaml, metadata: { ...nodeYaml.metadata, labels: { ...nodeYaml.metadata.labels, "example.com/machine": "bare-metal-64", "example.com/rack": "rack-7" } } };
    const custom = { ...nodeRecognition, instanceTypeKeys: ["example.com/machine"], zoneKeys: ["example.com/rack", "topology.kubernetes.io/zone"] };
    expect(toNodeSnapshot(labelled, custom)).toMatchObject({ instanceType: "bare-metal-64", zone: "rack-7" });
    expect(toNodeSnapshot(nodeYaml, custom)).toMatchObject({ instanceType: "", zone: "us-west-2b" });
  });

  it("read removal signs from taints", () => {
    const tainted = { ...nodeYaml, spec: { ...nodeYaml.spec, taints: [{ key: "aws-node-termination-handler/spot-itn", effect: "NoSchedule" }] } };
    expect(toNodeSnapshot(tainted, nodeRecognition)!.evidence).toBe("spot_interruption");
  });
});
