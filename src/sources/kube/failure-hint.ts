import { KubeHttpError } from "./request.js";

/**
 * What to check when a list or watch fails, for the log line beside the error (which names the
 * API server and the path): the credentials, the RBAC rules the exporter needs, the server's
 * address or its certificate. Undefined when the error says enough, or passes by itself.
 */
export function kubeFailureHint(error: unknown, resource: string, namespace: string): string | undefined {
  if (error instanceof KubeHttpError) {
    if (error.statusCode === 401) return "the API server refused the credentials: check the user of the kubeconfig (KUBECONFIG) or the service account's token";
    if (error.statusCode === 403) return forbiddenHint(resource, namespace);
    return undefined;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ETIMEDOUT") {
    return `the API server cannot be reached (${code}): check the server of the kubeconfig (KUBECONFIG) and that the exporter may reach it`;
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) return `the API server's certificate is not trusted (${code}): check certificate-authority in the kubeconfig (KUBECONFIG)`;
  return undefined;
}

function forbiddenHint(resource: string, namespace: string): string {
  if (resource === "nodes") return "the exporter may not read nodes: grant get, list and watch on nodes (a ClusterRole), or set KUBE_NODES_ENABLED=false";
  const where = namespace === "" ? "cluster-wide (a ClusterRole), or name the runner namespaces in KUBE_NAMESPACES" : `in namespace ${namespace} (a Role), or remove it from KUBE_NAMESPACES`;
  return `the exporter may not read ${resource}: grant get, list and watch on ${resource} ${where}`;
}
