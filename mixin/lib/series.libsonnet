// Reading the series of the exporter, cAdvisor and kube-state-metrics together: which labels they
// share, how live gauges are read across an exporter rollout, and the joins on the job pods.
local counters = import 'counters.libsonnet';

{
  // The group labels (`_config.groupLabels`) as a list: ['job'], or ['cluster', 'job'].
  groupLabels(config):: counters.labelList(config.groupLabels),

  // The group labels the exporter's series share with cAdvisor's and kube-state-metrics' (every
  // one but `job`, which differs by scrape job): what the joins match on, beside namespace and pod.
  sharedLabels(config):: [label for label in $.groupLabels(config) if label != 'job'],

  // The group labels only the exporter's series carry (`job`): copied onto the joined series.
  ownLabels(config):: [label for label in $.groupLabels(config) if label == 'job'],

  // A `by`/`on` list: the labels given, then the others.
  by(labels, others=[]):: std.join(', ', labels + others),

  // The matchers of the dashboards' group variables: `job=~"$job"`, `cluster=~"$cluster"`.
  groupFilter(config):: std.join(', ', ['%s=~"$%s"' % [label, label] for label in $.groupLabels(config)]),

  // A gauge of live things (pending jobs, waiting pods, spot nodes) with the copies of the pods of
  // one deployment collapsed: during a rollout two pods export the same live jobs for a few
  // seconds, and a sum over both would count them twice. Counters are summed as they are (see the
  // README, "Counting across the handover").
  live(config, selector):: 'max without (%s) (%s)' % [config.exporterInstanceLabels, selector],

  // The labels a job pod joins onto what is known of its containers.
  jobLabels:: ['node', 'project', 'ref', 'job_name', 'job_id'],

  // One series per live CI job pod (replicas' copies collapsed), with the job it runs.
  jobPodInfo(config, matchers=''):: 'max by (%s) (gitlab_ci_job_pod_info{%s%s})' % [
    $.by($.groupLabels(config), ['namespace', 'pod'] + $.jobLabels),
    config.exporterSelector,
    matchers,
  ],

  // `expr`, one series per container (namespace, pod, container and the shared labels), joined
  // with the job its pod runs: project, ref, job_name, job_id, node and the exporter's group labels.
  withJob(config, expr, infoMatchers=''):: |||
    %s
    * on (%s) group_left (%s)
    %s
  ||| % [expr, $.by($.sharedLabels(config), ['namespace', 'pod']), $.by($.ownLabels(config), $.jobLabels), $.jobPodInfo(config, infoMatchers)],

  // The requests (`kind` 'requests') or limits of each container for `resource` (cpu in cores,
  // memory in bytes): kube-state-metrics' where it exports them, else the exporter's own
  // (KUBE_EXPORT_POD_RESOURCES=true). `or` takes each container from one side only.
  resources(config, kind, resource)::
    local by = $.by($.sharedLabels(config), ['namespace', 'pod', 'container']);
    '(\n  max by (%s) (kube_pod_container_resource_%s{%s, resource="%s"})\n  or\n  max by (%s) (gitlab_ci_job_pod_container_resource_%s{%s, resource="%s"})\n)' % [
      by,
      kind,
      config.kubeStateMetricsSelector,
      resource,
      by,
      kind,
      config.exporterSelector,
      resource,
    ],

  // What a join of containers matches on: namespace, pod, container and the shared group labels.
  containerMatch(config):: $.by($.sharedLabels(config), ['namespace', 'pod', 'container']),
}
