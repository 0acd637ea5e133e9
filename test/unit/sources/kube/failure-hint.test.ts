import { describe, expect, it } from "vitest";
import { kubeFailureHint } from "../../../../src/sources/kube/failure-hint.js";
import { KubeHttpError } from "../../../../src/sources/kube/request.js";

const systemError = (code: string) => Object.assign(new Error(`connect ${code} 10.0.0.1:6443`), { code });

describe("what to check when a Kubernetes list or watch fails", () => {
  it("credentials refused", () => {
    expect(kubeFailureHint(new KubeHttpError(401, "HTTP 401 Unauthorized from 10.0.0.1:6443/api/v1/pods"), "pods", "")).toBe(
      "the API server refused the credentials: check the user of the kubeconfig (KUBECONFIG) or the service account's token",
    );
  });

  it("RBAC: the rule to grant, for nodes, pods cluster-wide and pods of one namespace", () => {
    const forbidden = new KubeHttpError(403, "HTTP 403 Forbidden");
    expect(kubeFailureHint(forbidden, "nodes", "")).toBe("the exporter may not read nodes: grant get, list and watch on nodes (a ClusterRole), or set KUBE_NODES_ENABLED=false");
    expect(kubeFailureHint(forbidden, "pods", "")).toBe("the exporter may not read pods: grant get, list and watch on pods cluster-wide (a ClusterRole), or name the runner namespaces in KUBE_NAMESPACES");
    expect(kubeFailureHint(forbidden, "pods", "gitlab-runner")).toBe("the exporter may not read pods: grant get, list and watch on pods in namespace gitlab-runner (a Role), or remove it from KUBE_NAMESPACES");
  });

  it("an API server out of reach, or with a certificate not trusted", () => {
    for (const code of ["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT"]) expect(kubeFailureHint(systemError(code), "pods", "")).toContain(`the API server cannot be reached (${code}): check the server of the kubeconfig (KUBECONFIG)`);
    expect(kubeFailureHint(systemError("SELF_SIGNED_CERT_IN_CHAIN"), "nodes", "")).toContain("check certificate-authority in the kubeconfig (KUBECONFIG)");
  });

  it("nothing to add to a passing fault", () => {
    expect(kubeFailureHint(new KubeHttpError(500, "HTTP 500"), "pods", "")).toBeUndefined();
    expect(kubeFailureHint(new KubeHttpError(410, "HTTP 410 Gone"), "pods", "")).toBeUndefined();
    expect(kubeFailureHint(new Error("watch stream closed before its end"), "pods", "")).toBeUndefined();
    expect(kubeFailureHint(systemError("ECONNRESET"), "pods", "")).toBeUndefined();
    expect(kubeFailureHint(undefined, "pods", "")).toBeUndefined();
  });
});
