import type { ScrapeTarget } from "./prometheus.js";

/**
 * How the common monitoring stacks label what they scrape: the exporter, the kubelet's cAdvisor
 * endpoint and kube-state-metrics, as each stack's service discovery, relabelling and
 * `honor_labels` leave them, and the mixin `_config` each needs. The README's "Selectors for your
 * monitoring stack" table gives the same values; a test holds them equal.
 */
export interface ScrapeShape {
  /** As the README names the stack. */
  readonly name: string;
  /** The mixin `_config` overrides the stack needs: none for kube-prometheus-stack. */
  readonly overrides: Readonly<Record<string, string>>;
  targets(urls: { readonly exporter: string; readonly cadvisor: string; readonly kubeStateMetrics: string }): ScrapeTarget[];
}

const NODE = "ip-10-0-1-11.us-west-2.compute.internal";

/** kube-prometheus-stack: ServiceMonitors with honorLabels, the kubelet's adding metrics_path. */
const kubePrometheusStack: ScrapeShape = {
  name: "kube-prometheus-stack",
  overrides: {},
  targets: ({ exporter, cadvisor, kubeStateMetrics }): ScrapeTarget[] => [
    {
      job: "gitlab-ci-k8s-exporter",
      url: exporter,
      labels: { namespace: "monitoring", pod: "gitlab-ci-k8s-exporter-6d5f7c9b8-x2k4q", container: "gitlab-ci-k8s-exporter", endpoint: "metrics", service: "gitlab-ci-k8s-exporter" },
    },
    { job: "kubelet", url: cadvisor, labels: { metrics_path: "/metrics/cadvisor", node: NODE, endpoint: "https-metrics", service: "kube-prometheus-stack-kubelet", namespace: "kube-system" } },
    {
      job: "kube-state-metrics",
      url: kubeStateMetrics,
      labels: { namespace: "monitoring", pod: "kube-prometheus-stack-kube-state-metrics-5f9d6b7c4-9zq8w", container: "kube-state-metrics", endpoint: "http", service: "kube-prometheus-stack-kube-state-metrics" },
    },
  ],
};

/**
 * victoria-metrics-k8s-stack's vmagent: the operator turns the exporter's ServiceMonitor into a
 * VMServiceScrape; cAdvisor by a VMNodeScrape (node labels mapped, metrics_path added, id and
 * name dropped), kube-state-metrics with honorLabels and uid dropped.
 */
const vmagent: ScrapeShape = {
  name: "VictoriaMetrics vmagent (victoria-metrics-k8s-stack)",
  overrides: {},
  targets: ({ exporter, cadvisor, kubeStateMetrics }): ScrapeTarget[] => [
    {
      job: "gitlab-ci-k8s-exporter",
      url: exporter,
      labels: { namespace: "monitoring", pod: "gitlab-ci-k8s-exporter-6d5f7c9b8-x2k4q", container: "gitlab-ci-k8s-exporter", endpoint: "metrics", service: "gitlab-ci-k8s-exporter" },
    },
    {
      job: "kubelet",
      url: cadvisor,
      labels: { metrics_path: "/metrics/cadvisor", kubernetes_io_hostname: NODE, kubernetes_io_arch: "amd64", topology_kubernetes_io_zone: "us-west-2b" },
      metricRelabelConfigs: [
        { action: "labeldrop", regex: "(uid)" },
        { action: "labeldrop", regex: "(id|name)" },
      ],
    },
    {
      job: "kube-state-metrics",
      url: kubeStateMetrics,
      labels: { namespace: "vm", pod: "vmks-kube-state-metrics-7c9d8f6b5-qx2lp", container: "kube-state-metrics", endpoint: "http", service: "vmks-kube-state-metrics" },
      metricRelabelConfigs: [{ action: "labeldrop", regex: "(uid|container_id|image_id)" }],
    },
  ],
};

/**
 * A plain Prometheus with the kubernetes_sd example configuration
 * (documentation/examples/prometheus-kubernetes.yml): Services scraped by the
 * kubernetes-service-endpoints job with their labels mapped (no honor_labels, the namespace as
 * kubernetes_namespace), cAdvisor by kubernetes-cadvisor with the node's labels mapped.
 */
const kubernetesSd: ScrapeShape = {
  name: "Prometheus with kubernetes_sd (the example configuration)",
  overrides: {
    exporterSelector: 'job="kubernetes-service-endpoints", app_kubernetes_io_name="gitlab-ci-k8s-exporter"',
    cadvisorSelector: 'job="kubernetes-cadvisor"',
    kubeStateMetricsSelector: 'job="kubernetes-service-endpoints", app_kubernetes_io_name="kube-state-metrics"',
  },
  targets: ({ exporter, cadvisor, kubeStateMetrics }): ScrapeTarget[] => [
    {
      job: "kubernetes-service-endpoints",
      url: exporter,
      honorLabels: false,
      labels: { app_kubernetes_io_name: "gitlab-ci-k8s-exporter", kubernetes_namespace: "monitoring", kubernetes_name: "gitlab-ci-k8s-exporter" },
    },
    {
      job: "kubernetes-service-endpoints",
      url: kubeStateMetrics,
      honorLabels: false,
      labels: { app_kubernetes_io_name: "kube-state-metrics", app_kubernetes_io_instance: "kube-state-metrics", kubernetes_namespace: "kube-system", kubernetes_name: "kube-state-metrics" },
    },
    {
      job: "kubernetes-cadvisor",
      url: cadvisor,
      honorLabels: false,
      labels: { beta_kubernetes_io_arch: "amd64", kubernetes_io_hostname: NODE, kubernetes_io_os: "linux", eks_amazonaws_com_capacityType: "SPOT" },
    },
  ],
};

/**
 * Grafana Alloy with the k8s-monitoring chart: cluster metrics (cAdvisor and kube-state-metrics
 * under Grafana's integration job names, series without a container dropped), the exporter found
 * by annotation autodiscovery (honor_labels; its job from `k8s.grafana.com/job`), and every series
 * labelled with the cluster it comes from.
 */
const alloy: ScrapeShape = {
  name: "Grafana Alloy (k8s-monitoring chart)",
  overrides: {
    cadvisorSelector: 'job="integrations/kubernetes/cadvisor"',
    kubeStateMetricsSelector: 'job="integrations/kubernetes/kube-state-metrics"',
    groupLabels: "cluster, job",
  },
  targets: ({ exporter, cadvisor, kubeStateMetrics }): ScrapeTarget[] => [
    { job: "gitlab-ci-k8s-exporter", url: exporter, labels: { cluster: "prod-eu", namespace: "monitoring", service: "gitlab-ci-k8s-exporter" } },
    {
      job: "integrations/kubernetes/cadvisor",
      url: cadvisor,
      honorLabels: false,
      labels: { cluster: "prod-eu", node: NODE },
      metricRelabelConfigs: [{ source_labels: ["__name__", "container"], separator: "@", regex: "(container_cpu_.*|container_fs_.*|container_memory_.*)@", action: "drop" }],
    },
    { job: "integrations/kubernetes/kube-state-metrics", url: kubeStateMetrics, honorLabels: false, labels: { cluster: "prod-eu", source: "kubernetes" } },
  ],
};

export const SCRAPE_SHAPES: readonly ScrapeShape[] = [kubePrometheusStack, kubernetesSd, alloy, vmagent];
