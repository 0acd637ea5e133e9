import { existsSync } from "node:fs";
import type { Agent } from "node:http";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  CoreV1Api,
  KubeConfig,
  Observable,
  Watch,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { ConfigError } from "../../config/load.js";
import type { Lister, ListPage, WatchCallbacks, WatchHandle, WatchOpener } from "./informer.js";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * The cluster connection. With `KUBECONFIG` set (environment or config file) its files are read,
 * merged as kubectl merges them; otherwise client-node's `loadFromDefault()` finds
 * `~/.kube/config` or the in-cluster service account. Finding neither is a configuration error:
 * `loadFromDefault()` would silently fall back to http://localhost:8080.
 */
export function loadKubeConfig(kubeconfigPaths: readonly string[]): KubeConfig {
  const kc = new KubeConfig();
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
    if (!existsSync(join(homedir(), ".kube", "config")) && !existsSync(SERVICE_ACCOUNT_TOKEN)) {
      throw new ConfigError(
        "KUBE_ENABLED",
        '"true"',
        "a Kubernetes configuration (KUBECONFIG, ~/.kube/config or an in-cluster service account), or KUBE_ENABLED=false to run without Kubernetes",
      );
    }
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) throw new ConfigError("KUBECONFIG", JSON.stringify(kubeconfigPaths.join(":")), "a kubeconfig whose current context names a cluster");
  return kc;
}

/**
 * Watches through client-node's `Watch`. `Watch.watch()` hands back its AbortController only once
 * the response headers arrived, so a server that never answers could not be abandoned. Each
 * watch therefore gets a view of the KubeConfig that remembers the HTTP agent client-node creates
 * for that one request; destroying the agent ends the request at any stage.
 */
export function watchOpener(kc: KubeConfig): WatchOpener {
  return (path, query, callbacks: WatchCallbacks): WatchHandle => {
    let agent: Agent | undefined;
    let controller: AbortController | undefined;
    let aborted = false;
    const config: KubeConfig = Object.create(kc);
    config.applyToFetchOptions = async (options) => {
      const init = await kc.applyToFetchOptions(options);
      agent = init.agent as Agent | undefined;
      if (aborted) agent?.destroy();
      return init;
    };
    let done = false;
    const finish = (error: unknown) => {
      if (done) return;
      done = true;
      callbacks.done(error);
    };
    new Watch(config)
      .watch(path, query, (type: string, object: unknown) => callbacks.event(type, object), finish)
      .then(
        (result) => {
          controller = result;
          if (aborted) result.abort();
          else if (!done) callbacks.opened();
        },
        finish,
      );
    return {
      abort() {
        aborted = true;
        controller?.abort();
        agent?.destroy();
      },
    };
  };
}

/** Lists pods of one namespace, or of all namespaces when `namespace` is null. */
export function podLister(kc: KubeConfig, namespace: string | null): Lister {
  const api = kc.makeApiClient(CoreV1Api);
  return async ({ limit, continueToken, signal }) => {
    const request = { limit, ...(continueToken ? { _continue: continueToken } : {}) };
    const list = namespace === null ? await api.listPodForAllNamespaces(request, abortable(signal)) : await api.listNamespacedPod({ namespace, ...request }, abortable(signal));
    return page(list);
  };
}

export function nodeLister(kc: KubeConfig): Lister {
  const api = kc.makeApiClient(CoreV1Api);
  return async ({ limit, continueToken, signal }) => page(await api.listNode({ limit, ...(continueToken ? { _continue: continueToken } : {}) }, abortable(signal)));
}

export function podWatchPath(namespace: string | null): string {
  return namespace === null ? "/api/v1/pods" : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
}

export const NODE_WATCH_PATH = "/api/v1/nodes";

function page(list: { items: readonly unknown[]; metadata?: { resourceVersion?: string; _continue?: string } }): ListPage {
  return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "", continueToken: list.metadata?._continue || undefined };
}

/** Per-request options that let the informer abort a list (on shutdown, or at its time limit). */
function abortable(signal: AbortSignal): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre(context: RequestContext) {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post(context: ResponseContext) {
      return new Observable(Promise.resolve(context));
    },
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append" };
}
