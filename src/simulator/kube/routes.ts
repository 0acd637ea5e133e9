import type { V1Node, V1Pod } from "@kubernetes/client-node";
import type { Resource } from "./world.js";

/** The API paths the simulator serves, and the shapes of its list and Status answers. */
export interface Route {
  readonly resource: Resource;
  readonly namespace: string | null;
  readonly name: string | null;
}

export function matchRoute(path: string): Route | undefined {
  const parts = path.split("/").filter((p) => p !== "");
  if (parts[0] !== "api" || parts[1] !== "v1") return undefined;
  const rest = parts.slice(2).map(decodeURIComponent);
  if (rest[0] === "pods" && rest.length === 1) return { resource: "pods", namespace: null, name: null };
  if (rest[0] === "nodes" && rest.length <= 2) return { resource: "nodes", namespace: null, name: rest[1] ?? null };
  if (rest[0] === "namespaces" && rest[2] === "pods" && rest.length <= 4) return { resource: "pods", namespace: rest[1]!, name: rest[3] ?? null };
  return undefined;
}

export function list(resource: Resource, objects: Array<V1Pod | V1Node>, query: URLSearchParams, resourceVersion: number): unknown {
  const limit = Number(query.get("limit") ?? 0);
  const offset = Number(query.get("continue") ? Buffer.from(query.get("continue")!, "base64").toString("utf8") : 0);
  const page = limit > 0 ? objects.slice(offset, offset + limit) : objects.slice(offset);
  const more = limit > 0 && offset + limit < objects.length;
  return {
    kind: resource === "pods" ? "PodList" : "NodeList",
    apiVersion: "v1",
    metadata: { resourceVersion: String(resourceVersion), ...(more ? { continue: Buffer.from(String(offset + limit)).toString("base64"), remainingItemCount: objects.length - offset - limit } : {}) },
    items: page,
  };
}

/** Equality and existence label selectors, and spec.nodeName / metadata.namespace field selectors. */
export function filter<T extends V1Pod | V1Node>(objects: T[], namespace: string | null, query: URLSearchParams): T[] {
  const labelSelector = query.get("labelSelector");
  const fieldSelector = query.get("fieldSelector");
  return objects.filter((object) => {
    if (namespace !== null && object.metadata?.namespace !== namespace) return false;
    const labels = object.metadata?.labels ?? {};
    for (const term of labelSelector ? labelSelector.split(",") : []) {
      const [key, value] = term.split(/!=|==|=/);
      if (term.includes("!=")) {
        if (labels[key!] === value) return false;
      } else if (value === undefined ? !(key! in labels) : labels[key!] !== value) return false;
    }
    for (const term of fieldSelector ? fieldSelector.split(",") : []) {
      const [key, value] = term.split("=");
      const actual = key === "spec.nodeName" ? (object as V1Pod).spec?.nodeName : key === "metadata.namespace" ? object.metadata?.namespace : key === "metadata.name" ? object.metadata?.name : undefined;
      if ((actual ?? "") !== value) return false;
    }
    return true;
  });
}

export function status(code: number, reason: string, message: string, details?: unknown): unknown {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code };
}

/** kube-apiserver's answer to a version ahead of its own: a Timeout naming the cause, with a retry hint. */
export function tooLarge(requested: number, current: number): unknown {
  return status(504, "Timeout", `Timeout: Too large resource version: ${requested}, current: ${current}`, {
    causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
    retryAfterSeconds: 1,
  });
}
