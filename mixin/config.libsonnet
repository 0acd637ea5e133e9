// Every selector, threshold and window of the mixin. Override with
//   (import 'mixin.libsonnet') + { _config+:: { pendingJobsThreshold: 50 } }
{
  _config+:: {
    // The series each query reads, by who exports them. The defaults are kube-prometheus-stack's
    // (and victoria-metrics-k8s-stack's); the README gives tested values for a plain
    // kubernetes_sd Prometheus and for Grafana Alloy.
    // The exporter's series (its scrape job).
    exporterSelector: 'job="gitlab-ci-k8s-exporter"',
    // The kubelet's cAdvisor series (container CPU and memory).
    cadvisorSelector: 'job="kubelet", metrics_path="/metrics/cadvisor"',
    // kube-state-metrics' series: the job pods' requests and limits
    // (kube_pod_container_resource_requests, _limits). Where it has none, the rules read the
    // exporter's own (KUBE_EXPORT_POD_RESOURCES=true).
    kubeStateMetricsSelector: 'job="kube-state-metrics"',
    // Labels that tell one exporter deployment from another, such as 'cluster, job': alerts keep
    // them, descriptions name the deployment by their values (`prod/gitlab-ci-k8s-exporter`), and
    // each dashboard has a variable per label. Those other than `job` (`cluster`) must be carried
    // alike by the cAdvisor and kube-state-metrics series the rules join with the exporter's.
    groupLabels: 'job',
    // Target labels that tell the pods of one exporter deployment apart. During a rollout two pods
    // export the same live jobs for a few seconds: gauges of live things are read with
    // `max without` these before they are summed, so the overlap counts once.
    exporterInstanceLabels: 'instance, pod',

    // Pending jobs: page when more than this many jobs wait for a runner ...
    pendingJobsThreshold: 20,
    // ... for this long.
    pendingJobsFor: '15m',

    // Job pods that cannot start: page when more than this many CI job pods wait for one of these
    // reasons (the `reason` values of gitlab_ci_job_pods_waiting: no node fits them, or their
    // containers are still being created on a node) ...
    jobPodsWaitingThreshold: 10,
    jobPodsWaitingReasons: ['unschedulable', 'container_creating'],
    // ... for this long: well beyond a scale-up (a spot node takes 2 to 4 minutes to be Ready).
    jobPodsWaitingFor: '10m',

    // A single job waiting in the queue longer than this many seconds.
    jobQueuedTooLongSeconds: 1800,
    jobQueuedTooLongFor: '2m',

    // Runner system failures: page when their share of finished jobs stays above this ratio ...
    systemFailureRatioThreshold: 0.05,
    // ... for this long ...
    systemFailureFor: '15m',
    // ... and at least this many jobs finished within failureRatioWindow, so two failures at night do not page.
    systemFailureMinJobs: 20,
    // failure_reason values caused by the CI system rather than by the job's own script.
    systemFailureReasons: [
      'runner_system_failure',
      'runner_interrupted',
      'runner_external_dependency_failure',
      'image_pull_failure',
      'stuck_or_timeout_failure',
      'api_failure',
      'scheduler_failure',
      'data_integrity_failure',
    ],
    // The window the failure ratios are computed over; it is part of the recorded names.
    failureRatioWindow: '10m',

    // Staleness of the exporter's view.
    gitlabSyncStaleSeconds: 600,
    kubeWatchStaleSeconds: 900,
    exporterStaleFor: '5m',
    // No scrape target of the exporter at all (nothing selects it, no pod runs) for this long.
    exporterAbsentFor: '10m',
    // Share of GitLab API requests that fail (5xx or no answer) before the exporter warns.
    gitlabErrorRatioThreshold: 0.1,
    exporterErrorsFor: '15m',

    // Node removals (spot interruption, scale-down, ...) taking down at least this many job pods ...
    interruptedJobsThreshold: 10,
    // ... within this window, summed over these reasons: the exporter's node removal reasons.
    // One capacity event shows up under several (a rebalance recommendation, then the
    // interruption, or `unknown` for a node gone without a sign), a scale-down that kills running
    // jobs is a misconfiguration worth knowing, and pod-level reasons (eviction, preemption) are
    // not node removals. The alert's description breaks its count down by these reasons.
    interruptedJobsWindow: '15m',
    interruptedJobsReasons: [
      'spot_interruption',
      'node_shutdown',
      'rebalance_recommendation',
      'karpenter_disruption',
      'autoscaler_scale_down',
      'unknown',
    ],

    // cAdvisor's counters are read with irate over this window: it must hold two scrapes.
    cadvisorRateWindow: '5m',

    // Runbook link of each alert; %s is the alert name in lower case.
    runbookURLPattern: 'https://github.com/gitlab-ci-k8s-exporter/gitlab-ci-k8s-exporter/blob/main/docs/runbooks.md#%s',

    // Dashboards.
    dashboardNamePrefix: 'GitLab CI / ',
    dashboardTags: ['gitlab-ci', 'gitlab-ci-k8s-exporter'],
    dashboardRefresh: '30s',
    dashboardTimezone: 'utc',
    dashboardTimeFrom: 'now-6h',
    dashboardUIDPrefix: 'gitlab-ci-',
  },
}
