import { accessSync, constants, existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { ConfigError } from "../../config/errors.js";
import type { KubernetesReadLimits } from "../../config/load.js";
import type { Lister, ListPage, WatchCallbacks, WatchHandle, WatchOpener } from "./list-watch.js";
import { LineSplitter, LineTooLong } from "./lines.js";
import { kubeGet, readBody, type KubeResponse } from "./request.js";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * The cluster connection. With `KUBECONFIG` set (environment or config file) its files are read,
 * merged as kubectl merges them; otherwise client-node's `loadFromDefault()` finds
 * `~/.kube/config` or the in-cluster service account. Finding neither is a configuration error:
 * `loadFromDefault()` would silently fall back to http://localhost:8080. So is a kubeconfig that
 * could only fail on every request (`checkKubeConfig`): all name `KUBECONFIG` and exit at start.
 */
export function loadKubeConfig(kubeconfigPaths: readonly string[]): KubeConfig {
  const kc = new KubeConfig();
  let shown = JSON.stringify(kubeconfigPaths.join(delimiter));
  if (kubeconfigPaths.length > 0) {
    kubeconfigPaths.forEach((path, index) => {
      const target = index === 0 ? kc : new KubeConfig();
      try {
        target.loadFromFile(path);
      } catch (error) {
        throw new ConfigError("KUBECONFIG", JSON.stringify(path), `a readable kubeconfig file (${(error as Error).message.split("\n")[0]})`);
      }
      if (target !== kc) kc.mergeConfig(target);
    });
  } else {
    const home = join(homedir(), ".kube", "config");
    if (!existsSync(home) && !existsSync(SERVICE_ACCOUNT_TOKEN)) {
      throw new ConfigError(
        "KUBE_ENABLED",
        '"true"',
        "a Kubernetes configuration (KUBECONFIG, ~/.kube/config or an in-cluster service account), or KUBE_ENABLED=false to run without Kubernetes",
      );
    }
    shown = JSON.stringify(existsSync(home) ? home : "in-cluster service account");
    try {
      kc.loadFromDefault();
    } catch (error) {
      throw new ConfigError("KUBECONFIG", shown, `a readable kubeconfig file (${(error as Error).message.split("\n")[0]})`);
    }
  }
  checkKubeConfig(kc, shown);
  return kc;
}

/**
 * What client-node would only find out on each request, and log on every retry: no current
 * cluster, a server that is not an http(s) URL, plain http without `insecure-skip-tls-verify`
 * (client-node refuses it), or a certificate, key or token file that cannot be read.
 */
function checkKubeConfig(kc: KubeConfig, shown: string): void {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConfigError("KUBECONFIG", shown, "a kubeconfig whose current context names a cluster");
  const server = safeUrl(cluster.server);
  if (server === null || (server.protocol !== "https:" && server.protocol !== "http:")) {
    throw new ConfigError("KUBECONFIG", shown, `an http(s) server URL for cluster ${JSON.stringify(cluster.name)}, such as https://kubernetes.example.com:6443 (not ${JSON.stringify(cluster.server)})`);
  }
  if (server.protocol === "http:" && !cluster.skipTLSVerify && !cluster.proxyUrl) {
    throw new ConfigError("KUBECONFIG", shown, `an https:// server for cluster ${JSON.stringify(cluster.name)}, or insecure-skip-tls-verify: true for plain http://`);
  }
  const user = kc.getCurrentUser();
  const tokenFile = (user?.authProvider as { config?: { tokenFile?: unknown } } | undefined)?.config?.tokenFile;
  const files: [string, unknown][] = [["certificate-authority", cluster.caFile], ["client-certificate", user?.certFile], ["client-key", user?.keyFile], ["token file", tokenFile]];
  for (const [what, file] of files) {
    if (typeof file !== "string" || file === "") continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (error) {
      throw new ConfigError("KUBECONFIG", shown, `a readable ${what} file, ${JSON.stringify(file)} (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
    }
  }
}

function safeUrl(value: string): URL | null {
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

/**
 * Watches with a reader of our own instead of client-node's `Watch`: that one splits the stream
 * with node's `readline`, which buffers a line without end until the process dies (one endless
 * line took a process to 721 MiB and a `RangeError`), ignores lines that are not JSON without a
 * word, and hands its AbortController back only once the headers arrived. The connection (server,
 * TLS, credentials) still comes from the KubeConfig (`kubeGet`). A line past the cap, or one that
 * is not a watch event, ends the watch with an error: an event was lost, and only a list restores
 * the truth. Nothing is called back after `abort()`.
 */
export function watchOpener(kc: KubeConfig, limits: Pick<KubernetesReadLimits, "maxWatchLineBytes">): WatchOpener {
  return (path, query, callbacks: WatchCallbacks): WatchHandle => {
    const controller = new AbortController();
    let response: KubeResponse | undefined;
    let ended = false;
    const end = (error: unknown) => {
      if (ended) return;
      ended = true;
      response?.close();
      if (!controller.signal.aborted) callbacks.done(error);
    };
    kubeGet(kc, path, { ...query, watch: true }, controller.signal).then((opened) => {
      response = opened;
      if (controller.signal.aborted || ended) return opened.close();
      callbacks.opened();
      const lines = new LineSplitter(limits.maxWatchLineBytes);
      const deliver = (line: string) => {
        if (line.trim() === "") return;
        const event = watchEvent(line);
        if (typeof event === "string") throw new Error(event);
        callbacks.event(event.type, event.object);
      };
      opened.body.on("data", (chunk: Buffer) => {
        if (ended) return;
        try {
          for (const line of lines.push(chunk)) if (!ended) deliver(line);
        } catch (error) {
          end(error instanceof LineTooLong ? new Error(`watch line too long: ${error.message} (KUBE_MAX_WATCH_LINE_BYTES)`) : error);
        }
      });
      opened.body.on("end", () => {
        try {
          const last = lines.end();
          if (last !== null && !ended) deliver(last);
          end(null);
        } catch (error) {
          end(error);
        }
      });
      opened.body.on("error", end);
      opened.body.on("close", () => end(opened.body.complete ? null : new Error("watch stream closed before its end")));
    }, end);
    return {
      abort() {
        controller.abort();
        end(null);
      },
    };
  };
}

/** A watch line's event, or why it is none. */
function watchEvent(line: string): { type: string; object: unknown } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return `watch line is not JSON: ${JSON.stringify(line.slice(0, 80))}`;
  }
  const { type, object } = (parsed ?? {}) as { type?: unknown; object?: unknown };
  if (typeof type !== "string" || typeof object !== "object" || object === null) return `watch line is not a watch event: ${JSON.stringify(line.slice(0, 80))}`;
  return { type, object };
}

/**
 * Lists with a reader of our own rather than the generated `CoreV1Api`: that one reads a whole
 * body into a string with no limit (its middleware sees the response only after the body is
 * read, and cannot wrap it), follows redirects, and accepts gzip. Here a page is read through
 * `kubeGet` (the same KubeConfig path as every request) and stops at `maxListPageBytes`. Items
 * stay plain JSON, as watch events are: the decoder reads both alike.
 */
export function lister(kc: KubeConfig, path: string, limits: Pick<KubernetesReadLimits, "maxListPageBytes">): Lister {
  return async ({ limit, continueToken, signal }) => {
    const response = await kubeGet(kc, path, { limit, continue: continueToken }, signal);
    try {
      return listPage(await readBody(response.body, limits.maxListPageBytes, "list page (KUBE_MAX_LIST_PAGE_BYTES)"));
    } finally {
      response.close();
    }
  };
}

/** A `*List` object's items and metadata; anything else is an error for the whole list. */
function listPage(body: Buffer): ListPage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new Error("list page is not JSON");
  }
  const { items, metadata } = (parsed ?? {}) as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } };
  if (!(Array.isArray(items) || items === null) || typeof metadata !== "object" || metadata === null) throw new Error("list page is not a Kubernetes list");
  const { resourceVersion, continue: next } = metadata;
  return {
    items: items ?? [],
    resourceVersion: typeof resourceVersion === "string" ? resourceVersion : "",
    continueToken: typeof next === "string" && next !== "" ? next : undefined,
  };
}

/** Pods of one namespace, or of all namespaces when `namespace` is null: listed and watched alike. */
export function podPath(namespace: string | null): string {
  return namespace === null ? "/api/v1/pods" : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
}

export const NODE_PATH = "/api/v1/nodes";
