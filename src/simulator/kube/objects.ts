import type { IncomingMessage } from "node:http";
import type { V1Lease, V1StatefulSet } from "@kubernetes/client-node";
import { status } from "./routes.js";

/** What a handled request answers: a status and a JSON body. */
export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/** Kubernetes' `MicroTime`: RFC 3339 with exactly six fractional digits, as the API server parses it. */
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/;
const STATEFULSETS = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/statefulsets\/([^/]+)$/;

/**
 * The objects the exporter reads beyond pods and nodes: StatefulSets as far as auto-sharding reads
 * them (`spec.replicas`, `spec.serviceName`), and Leases (coordination.k8s.io/v1) with get, create
 * and update, an update refused 409 Conflict unless it names the stored `resourceVersion`, as
 * the API server's optimistic concurrency does.
 */
export class ClusterObjects {
  private readonly leases = new Map<string, V1Lease>();
  private readonly statefulSets = new Map<string, V1StatefulSet>();
  private revision = 1;
  /** Lease requests answered 500 while set: an API server that cannot reach etcd. */
  leasesFailing = false;
  /** Every Lease write accepted, in order: who held which Lease when. */
  readonly leaseWrites: Array<{ readonly at: number; readonly name: string; readonly holder: string; readonly transitions: number }> = [];

  addStatefulSet(namespace: string, name: string, spec: { replicas: number; serviceName: string }): void {
    this.statefulSets.set(`${namespace}/${name}`, { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name, namespace, uid: `sts-${name}`, resourceVersion: String(++this.revision) }, spec: { ...spec, selector: {}, template: {} } });
  }

  /** `kubectl scale statefulset`. */
  scaleStatefulSet(namespace: string, name: string, replicas: number): void {
    const found = this.statefulSets.get(`${namespace}/${name}`);
    if (!found) throw new Error(`no StatefulSet ${namespace}/${name}`);
    found.spec!.replicas = replicas;
    found.metadata!.resourceVersion = String(++this.revision);
  }

  lease(namespace: string, name: string): V1Lease | undefined {
    const found = this.leases.get(`${namespace}/${name}`);
    return found && structuredClone(found);
  }

  /** Answers a request for one of these objects; undefined when the path is none of theirs. */
  async handle(request: IncomingMessage, path: string): Promise<Answer | undefined> {
    const sts = STATEFULSETS.exec(path);
    if (sts) {
      if (request.method !== "GET") return notAllowed(request.method);
      const found = this.statefulSets.get(`${decodeURIComponent(sts[1]!)}/${decodeURIComponent(sts[2]!)}`);
      return found ? { status: 200, body: found } : notFound("statefulsets.apps", sts[2]!);
    }
    const lease = LEASES.exec(path);
    if (!lease) return undefined;
    if (this.leasesFailing) return { status: 500, body: status(500, "InternalError", "etcdserver: request timed out") };
    const namespace = decodeURIComponent(lease[1]!);
    const name = lease[2] === undefined ? null : decodeURIComponent(lease[2]);
    if (request.method === "GET" && name !== null) {
      const found = this.leases.get(`${namespace}/${name}`);
      return found ? { status: 200, body: found } : notFound("leases.coordination.k8s.io", name);
    }
    const body = await readJson(request);
    if (body === null) return { status: 400, body: status(400, "BadRequest", "the body of the request is not a Lease") };
    const invalid = invalidTimes(body);
    if (invalid) return { status: 400, body: status(400, "BadRequest", invalid) };
    if (request.method === "POST" && name === null) return this.create(namespace, body);
    if (request.method === "PUT" && name !== null) return this.update(namespace, name, body);
    return notAllowed(request.method);
  }

  private create(namespace: string, lease: V1Lease): Answer {
    const name = lease.metadata?.name ?? "";
    const key = `${namespace}/${name}`;
    if (this.leases.has(key)) return { status: 409, body: status(409, "AlreadyExists", `leases.coordination.k8s.io "${name}" already exists`) };
    return { status: 201, body: this.store(key, { ...lease, metadata: { ...lease.metadata, namespace, uid: `lease-${name}` } }) };
  }

  private update(namespace: string, name: string, lease: V1Lease): Answer {
    const key = `${namespace}/${name}`;
    const current = this.leases.get(key);
    if (!current) return notFound("leases.coordination.k8s.io", name);
    if (lease.metadata?.resourceVersion !== current.metadata!.resourceVersion) {
      return { status: 409, body: status(409, "Conflict", `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`) };
    }
    return { status: 200, body: this.store(key, { ...lease, metadata: { ...current.metadata, ...lease.metadata } }) };
  }

  private store(key: string, lease: V1Lease): V1Lease {
    const stored: V1Lease = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.revision) } };
    this.leases.set(key, stored);
    this.leaseWrites.push({ at: Date.now(), name: stored.metadata!.name!, holder: stored.spec?.holderIdentity ?? "", transitions: stored.spec?.leaseTransitions ?? 0 });
    return stored;
  }
}

function invalidTimes(lease: V1Lease): string | null {
  for (const field of ["acquireTime", "renewTime"] as const) {
    const value = (lease.spec as Record<string, unknown> | undefined)?.[field];
    if (value !== undefined && value !== null && (typeof value !== "string" || !MICRO_TIME.test(value))) {
      return `Lease in version "v1" cannot be handled as a Lease: spec.${field}: parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`;
    }
  }
  return null;
}

async function readJson(request: IncomingMessage): Promise<V1Lease | null> {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as V1Lease) : null;
  } catch {
    return null;
  }
}

function notFound(resource: string, name: string): Answer {
  return { status: 404, body: status(404, "NotFound", `${resource} "${name}" not found`) };
}

function notAllowed(method: string | undefined): Answer {
  return { status: 405, body: status(405, "MethodNotAllowed", `the server does not allow this method on the requested resource (${method})`) };
}
