import type { ServerResponse } from "node:http";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { parseQuantity } from "../../src/domain/quantity.js";
import type { KubeWorld } from "../../src/simulator/kube/index.js";
import { serveLoopback, type LoopbackServer } from "./loopback.js";

/**
 * The two exporters every Kubernetes monitoring stack scrapes beside ours, serving the simulated
 * cluster in their real metric names and labels: the kubelet's cAdvisor endpoint
 * (`/metrics/cadvisor`) and kube-state-metrics (`/metrics`). One cAdvisor endpoint serves the
 * containers of every node, as if the cluster had one kubelet: the mixin's rules never read a
 * cAdvisor series' node.
 */

/** What the running containers use, as cAdvisor measures them. */
export interface ContainerUsage {
  /** Cores, by container name; the CPU counter grows with wall time since the pod started. */
  readonly cores: Readonly<Record<string, number>>;
  /** Working set bytes, by container name. */
  readonly workingSetBytes: Readonly<Record<string, number>>;
}

const DEFAULT_USAGE: ContainerUsage = {
  cores: { build: 0.4, helper: 0.05 },
  workingSetBytes: { build: 2 ** 30, helper: 64 * 2 ** 20 },
};

/** A Prometheus label set, values escaped as the text format wants them. */
function labels(pairs: Record<string, string>): string {
  const escape = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
  return `{${Object.entries(pairs)
    .map(([key, value]) => `${key}="${escape(value)}"`)
    .join(",")}}`;
}

/**
 * cAdvisor's exposition as the kubelet serves it: per running pod the pod's cgroup (container=""),
 * the pause container (container="POD") and each container, plus the root cgroup (id="/"), each
 * sample with its timestamp.
 */
export function cadvisorExposition(world: KubeWorld, usage: ContainerUsage = DEFAULT_USAGE, nowMs = Date.now()): string {
  const cpu: string[] = ["# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.", "# TYPE container_cpu_usage_seconds_total counter"];
  const memory: string[] = ["# HELP container_memory_working_set_bytes Current working set in bytes.", "# TYPE container_memory_working_set_bytes gauge"];
  const add = (set: Record<string, string>, seconds: number, bytes: number) => {
    cpu.push(`container_cpu_usage_seconds_total${labels({ ...set, cpu: "total" })} ${seconds} ${nowMs}`);
    memory.push(`container_memory_working_set_bytes${labels(set)} ${bytes} ${nowMs}`);
  };
  let rootSeconds = 0;
  for (const pod of world.pods()) {
    if (pod.status?.phase !== "Running") continue;
    const { namespace, name, uid } = pod.metadata as { namespace: string; name: string; uid: string };
    const startedMs = new Date(pod.status.startTime ?? nowMs).getTime();
    const podCgroup = `/kubepods/burstable/pod${uid}`;
    let podSeconds = 0;
    let podBytes = 0;
    for (const container of pod.spec!.containers) {
      const seconds = Math.max(0, (nowMs - startedMs) / 1000) * (usage.cores[container.name] ?? 0.01);
      const bytes = usage.workingSetBytes[container.name] ?? 16 * 2 ** 20;
      const id = `${container.name}-${uid}`.replace(/[^a-z0-9]/g, "").slice(0, 64);
      add({ container: container.name, id: `${podCgroup}/${id}`, image: container.image ?? "", name: id, namespace, pod: name }, seconds, bytes);
      podSeconds += seconds;
      podBytes += bytes;
    }
    add({ container: "POD", id: `${podCgroup}/pause`, image: "registry.k8s.io/pause:3.10", name: "pause", namespace, pod: name }, 0.01, 2 ** 20);
    add({ container: "", id: podCgroup, image: "", name: "", namespace, pod: name }, podSeconds, podBytes);
    rootSeconds += podSeconds;
  }
  add({ container: "", id: "/", image: "", name: "", namespace: "", pod: "" }, rootSeconds + 1000, 8 * 2 ** 30);
  return `${[...cpu, ...memory].join("\n")}\n`;
}

/** One kube-state-metrics resource family: a series per container and resource it sets. */
function resourceSeries(name: string, pods: readonly V1Pod[], kind: "requests" | "limits"): string[] {
  const lines = [`# HELP ${name} The number of requested ${kind === "requests" ? "request" : "limit"} resource by a container.`, `# TYPE ${name} gauge`];
  for (const pod of pods) {
    const { namespace, name: podName, uid } = pod.metadata as { namespace: string; name: string; uid: string };
    for (const container of pod.spec?.containers ?? ([] as V1Container[])) {
      for (const [resource, quantity] of Object.entries(container.resources?.[kind] ?? {})) {
        const value = parseQuantity(String(quantity));
        if (value === null) continue;
        const unit = resource === "cpu" ? "core" : resource === "memory" ? "byte" : "integer";
        lines.push(`${name}${labels({ namespace, pod: podName, uid, container: container.name, node: pod.spec?.nodeName ?? "", resource, unit })} ${value}`);
      }
    }
  }
  return lines;
}

/**
 * kube-state-metrics' exposition of the pods and nodes: every pod's containers' requests and
 * limits (whatever its phase), the pods' info and the nodes' creation times.
 */
export function kubeStateMetricsExposition(world: KubeWorld): string {
  const pods = world.pods();
  const info = ["# HELP kube_pod_info Information about pod.", "# TYPE kube_pod_info gauge"];
  for (const pod of pods) {
    const { namespace, name, uid } = pod.metadata as { namespace: string; name: string; uid: string };
    info.push(`kube_pod_info${labels({ namespace, pod: name, uid, host_ip: "10.0.1.11", pod_ip: "10.0.7.3", node: pod.spec?.nodeName ?? "", created_by_kind: "<none>", created_by_name: "<none>", priority_class: "", host_network: "false" })} 1`);
  }
  const nodes = ["# HELP kube_node_created Unix creation timestamp", "# TYPE kube_node_created gauge"];
  for (const node of world.nodes()) nodes.push(`kube_node_created${labels({ node: node.metadata!.name! })} ${new Date(node.metadata!.creationTimestamp!).getTime() / 1000}`);
  return `${[...info, ...resourceSeries("kube_pod_container_resource_requests", pods, "requests"), ...resourceSeries("kube_pod_container_resource_limits", pods, "limits"), ...nodes].join("\n")}\n`;
}

export interface KubeExporters {
  /** Serves `/metrics/cadvisor`. */
  readonly cadvisor: LoopbackServer;
  /** Serves `/metrics`. */
  readonly kubeStateMetrics: LoopbackServer;
  close(): Promise<void>;
}

/** The fake kubelet cAdvisor endpoint and kube-state-metrics on loopback ports, reading `world` at each scrape. */
export async function startKubeExporters(world: KubeWorld, usage: ContainerUsage = DEFAULT_USAGE): Promise<KubeExporters> {
  const text = (response: ServerResponse, body: string) => {
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    response.end(body);
  };
  const cadvisor = await serveLoopback((_request, response, url) => {
    if (url.pathname !== "/metrics/cadvisor") return void response.writeHead(404).end();
    text(response, cadvisorExposition(world, usage));
  });
  const kubeStateMetrics = await serveLoopback((_request, response, url) => {
    if (url.pathname !== "/metrics") return void response.writeHead(404).end();
    text(response, kubeStateMetricsExposition(world));
  });
  return {
    cadvisor,
    kubeStateMetrics,
    close: async () => {
      await Promise.all([cadvisor.close(), kubeStateMetrics.close()]);
    },
  };
}
