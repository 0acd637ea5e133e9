// Recording rules, named level:metric:operations.
local counters = import '../lib/counters.libsonnet';

{
  local c = $._config,
  local w = c.failureRatioWindow,
  local systemReasons = std.join('|', c.systemFailureReasons),
  local finished(matchers) = 'gitlab_ci_jobs_finished_total{%s}' % std.join(', ', std.prune([c.exporterSelector] + matchers)),
  local system = finished(['status="failed"', 'failure_reason=~"%s"' % systemReasons]),
  local script = finished(['status="failed"', 'failure_reason="script_failure"']),
  local increase(by, selector) = counters.sumIncrease(c, by, selector, w),
  local ratio(by, selector) = '%s\n/\n%s' % [increase(by, selector), increase(by, finished([]))],
  local jobLabels = 'namespace, pod, node, project, ref, job_name, job_id',
  // One series per live CI job pod; max collapses the copies two exporter replicas would export.
  local jobPodInfo = 'max by (%s) (gitlab_ci_job_pod_info{%s})' % [jobLabels, c.exporterSelector],
  local cadvisor(metric) = '%s{%s, container!="", container!="POD"}' % [metric, c.cadvisorSelector],
  local withJob(expr) = |||
    %s
    * on (namespace, pod) group_left (node, project, ref, job_name, job_id)
    %s
  ||| % [expr, jobPodInfo],
  local requests(resource) = 'max by (namespace, pod, container) (gitlab_ci_job_pod_container_resource_requests{%s, resource="%s"})' % [c.exporterSelector, resource],
  // Usage over request per project and job name, over the containers that both set a request and
  // have a usage series: a Pending pod, or one cAdvisor has not reported yet, requests but uses
  // nothing measurable, and counting its request would make every job look oversized.
  local usageOverRequestByJobName(usage, resource) = |||
    sum by (project, job_name) (
      %(usage)s
      and on (namespace, pod, container) %(req)s
    )
    /
    sum by (project, job_name) (
      (%(req)s and on (namespace, pod, container) %(usage)s)
      * on (namespace, pod) group_left (node, project, ref, job_name, job_id)
      %(info)s
    )
  ||| % { usage: usage, req: requests(resource), info: jobPodInfo },

  prometheusRules+:: {
    groups+: [
      {
        // The exporter's counters are read with lib/counters.libsonnet, which also counts the
        // first increment of a label set (a series born at 1).
        name: 'gitlab-ci-jobs.rules',
        rules: [
          {
            record: 'job:gitlab_ci_jobs_finished:rate%s' % w,
            expr: '%s\n/ %s\n' % [increase(c.groupLabels, finished([])), counters.seconds(w)],
          },
          {
            record: 'job:gitlab_ci_jobs_finished:increase%s' % w,
            expr: increase(c.groupLabels, finished([])) + '\n',
          },
          {
            record: 'job:gitlab_ci_jobs_system_failure:ratio_rate%s' % w,
            expr: ratio(c.groupLabels, system) + '\n',
          },
          {
            record: 'job:gitlab_ci_jobs_script_failure:ratio_rate%s' % w,
            expr: ratio(c.groupLabels, script) + '\n',
          },
          {
            record: 'job_project:gitlab_ci_jobs_system_failure:ratio_rate%s' % w,
            expr: ratio('%s, project' % c.groupLabels, system) + '\n',
          },
          {
            record: 'job_project:gitlab_ci_jobs_script_failure:ratio_rate%s' % w,
            expr: ratio('%s, project' % c.groupLabels, script) + '\n',
          },
          {
            // Every reason, pod-level ones (eviction, preemption) included; the alert on node
            // removals picks its reasons from it and breaks its count down by them.
            record: 'job_reason:gitlab_ci_job_pods_interrupted:increase%s' % c.interruptedJobsWindow,
            expr: counters.sumIncrease(c, '%s, reason' % c.groupLabels, 'gitlab_ci_job_pods_interrupted_total{%s}' % c.exporterSelector, c.interruptedJobsWindow) + '\n',
          },
          {
            record: 'job:gitlab_ci_jobs_pending:sum',
            expr: 'sum by (%s) (gitlab_ci_jobs_pending{%s})' % [c.groupLabels, c.exporterSelector],
          },
          {
            // Every waiting reason; the alert on pods that cannot get nodes picks its reasons from
            // it and breaks the waiting pods down by all of them.
            record: 'job_reason:gitlab_ci_job_pods_waiting:sum',
            expr: 'sum by (%s, reason) (gitlab_ci_job_pods_waiting{%s})' % [c.groupLabels, c.exporterSelector],
          },
        ],
      },
      {
        // cAdvisor usage joined with the job each pod runs. A container's CPU counter starts at
        // zero, so `:max` of the counter is the CPU time its job used up to the last scrape: it
        // exists from the first scrape on, where the irate needs two, so pods that live shorter
        // than two scrape intervals still show their CPU seconds (and their memory).
        name: 'gitlab-ci-job-resources.rules',
        rules: [
          {
            record: 'namespace_pod_container:container_cpu_usage_seconds_total:sum_irate',
            expr: withJob('sum by (namespace, pod, container) (irate(%s[%s]))' % [cadvisor('container_cpu_usage_seconds_total'), c.cadvisorRateWindow]),
          },
          {
            record: 'namespace_pod_container:container_cpu_usage_seconds_total:max',
            expr: withJob('max by (namespace, pod, container) (%s)' % cadvisor('container_cpu_usage_seconds_total')),
          },
          {
            record: 'namespace_pod_container:container_memory_working_set_bytes:max',
            expr: withJob('max by (namespace, pod, container) (%s)' % cadvisor('container_memory_working_set_bytes')),
          },
          {
            record: 'project_ref_job_name:container_cpu_usage_seconds_total:sum_irate',
            expr: 'sum by (project, ref, job_name) (namespace_pod_container:container_cpu_usage_seconds_total:sum_irate)',
          },
          {
            record: 'project_ref_job_name:container_memory_working_set_bytes:sum',
            expr: 'sum by (project, ref, job_name) (namespace_pod_container:container_memory_working_set_bytes:max)',
          },
          {
            record: 'namespace_pod_container:cpu_usage_over_request:ratio',
            expr: |||
              namespace_pod_container:container_cpu_usage_seconds_total:sum_irate
              / on (namespace, pod, container) group_left ()
              %s
            ||| % requests('cpu'),
          },
          {
            record: 'namespace_pod_container:memory_usage_over_request:ratio',
            expr: |||
              namespace_pod_container:container_memory_working_set_bytes:max
              / on (namespace, pod, container) group_left ()
              %s
            ||| % requests('memory'),
          },
          {
            record: 'project_job_name:cpu_usage_over_request:ratio',
            expr: usageOverRequestByJobName('namespace_pod_container:container_cpu_usage_seconds_total:sum_irate', 'cpu'),
          },
          {
            record: 'project_job_name:memory_usage_over_request:ratio',
            expr: usageOverRequestByJobName('namespace_pod_container:container_memory_working_set_bytes:max', 'memory'),
          },
        ],
      },
    ],
  },
}
