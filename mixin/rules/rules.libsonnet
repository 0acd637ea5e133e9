// Recording rules, named level:metric:operations.
local counters = import '../lib/counters.libsonnet';
local series = import '../lib/series.libsonnet';

{
  local c = $._config,
  local w = c.failureRatioWindow,
  local systemReasons = std.join('|', c.systemFailureReasons),
  local finished(matchers) = 'gitlab_ci_jobs_finished_total{%s}' % std.join(', ', std.prune([c.exporterSelector] + matchers)),
  local system = finished(['status="failed"', 'failure_reason=~"%s"' % systemReasons]),
  local script = finished(['status="failed"', 'failure_reason="script_failure"']),
  local increase(by, selector) = counters.sumIncrease(c, by, selector, w),
  // Over the finished jobs recorded at the same level (the rule before in the group), so jobs
  // finished without one of these failures read 0, not nothing.
  local ratioOf(failed, allFinished) = '(\n%s\nor\n%s * 0\n)\n/\n%s\n' % [failed, allFinished, allFinished],
  local ratio(by, selector, allFinished) = ratioOf(increase(by, selector), allFinished),
  local finishedByGroup = 'job:gitlab_ci_jobs_finished:increase%s' % w,
  local finishedByProject = 'job_project:gitlab_ci_jobs_finished:increase%s' % w,
  local cadvisor(metric) = '%s{%s, container!="", container!="POD"}' % [metric, c.cadvisorSelector],
  local perContainer = series.containerMatch(c),
  local requests(resource) = series.resources(c, 'requests', resource),
  // Usage over request per project and job name, over the containers that both set a request and
  // have a usage series: a Pending pod, or one cAdvisor has not reported yet, requests but uses
  // nothing measurable, and counting its request would make every job look oversized.
  local usageOverRequestByJobName(usage, resource) =
    local by = series.by(series.groupLabels(c), ['project', 'job_name']);
    local req = requests(resource);
    |||
      sum by (%(by)s) (
        %(usage)s
        and on (%(on)s)
      %(req)s
      )
      /
      sum by (%(by)s) (
      %(joined)s)
    ||| % {
      by: by,
      usage: usage,
      on: perContainer,
      req: counters.indent(req, 2),
      joined: counters.indent(series.withJob(c, '(\n%s\n  and on (%s)\n  %s\n)' % [counters.indent(req, 2), perContainer, usage]), 2),
    },

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
            record: finishedByGroup,
            expr: increase(c.groupLabels, finished([])) + '\n',
          },
          {
            record: 'job:gitlab_ci_jobs_system_failure:ratio_rate%s' % w,
            expr: ratio(c.groupLabels, system, finishedByGroup),
          },
          {
            record: 'job:gitlab_ci_jobs_script_failure:ratio_rate%s' % w,
            expr: ratio(c.groupLabels, script, finishedByGroup),
          },
          {
            // Per project, so a ratio over the projects a dashboard selects is a sum over a sum.
            record: finishedByProject,
            expr: increase('%s, project' % c.groupLabels, finished([])) + '\n',
          },
          {
            record: 'job_project:gitlab_ci_jobs_system_failure:increase%s' % w,
            expr: increase('%s, project' % c.groupLabels, system) + '\n',
          },
          {
            record: 'job_project:gitlab_ci_jobs_system_failure:ratio_rate%s' % w,
            expr: ratioOf('job_project:gitlab_ci_jobs_system_failure:increase%s' % w, finishedByProject),
          },
          {
            record: 'job_project:gitlab_ci_jobs_script_failure:ratio_rate%s' % w,
            expr: ratio('%s, project' % c.groupLabels, script, finishedByProject),
          },
          {
            // Every reason, pod-level ones (eviction, preemption) included; the alert on node
            // removals picks its reasons from it and breaks its count down by them.
            record: 'job_reason:gitlab_ci_job_pods_interrupted:increase%s' % c.interruptedJobsWindow,
            expr: counters.sumIncrease(c, '%s, reason' % c.groupLabels, 'gitlab_ci_job_pods_interrupted_total{%s}' % c.exporterSelector, c.interruptedJobsWindow) + '\n',
          },
          {
            record: 'job:gitlab_ci_jobs_pending:sum',
            expr: 'sum by (%s) (%s)' % [c.groupLabels, series.live(c, 'gitlab_ci_jobs_pending{%s}' % c.exporterSelector)],
          },
          {
            // Every waiting reason; the alert on pods that cannot get nodes picks its reasons from
            // it and breaks the waiting pods down by all of them.
            record: 'job_reason:gitlab_ci_job_pods_waiting:sum',
            expr: 'sum by (%s, reason) (%s)' % [c.groupLabels, series.live(c, 'gitlab_ci_job_pods_waiting{%s}' % c.exporterSelector)],
          },
        ],
      },
      {
        // cAdvisor usage joined with the job each pod runs, and the requests kube-state-metrics
        // (or the exporter) reports. A container's CPU counter starts at zero, so `:max` of the counter is the CPU time its job used up to the last scrape: it
        // exists from the first scrape on, where the irate needs two, so pods that live shorter
        // than two scrape intervals still show their CPU seconds (and their memory).
        name: 'gitlab-ci-job-resources.rules',
        rules: [
          {
            record: 'namespace_pod_container:container_cpu_usage_seconds_total:sum_irate',
            expr: series.withJob(c, 'sum by (%s) (irate(%s[%s]))' % [perContainer, cadvisor('container_cpu_usage_seconds_total'), c.cadvisorRateWindow]),
          },
          {
            record: 'namespace_pod_container:container_cpu_usage_seconds_total:max',
            expr: series.withJob(c, 'max by (%s) (%s)' % [perContainer, cadvisor('container_cpu_usage_seconds_total')]),
          },
          {
            record: 'namespace_pod_container:container_memory_working_set_bytes:max',
            expr: series.withJob(c, 'max by (%s) (%s)' % [perContainer, cadvisor('container_memory_working_set_bytes')]),
          },
          {
            record: 'project_ref_job_name:container_cpu_usage_seconds_total:sum_irate',
            expr: 'sum by (%s) (namespace_pod_container:container_cpu_usage_seconds_total:sum_irate)' % series.by(series.groupLabels(c), ['project', 'ref', 'job_name']),
          },
          {
            record: 'project_ref_job_name:container_memory_working_set_bytes:sum',
            expr: 'sum by (%s) (namespace_pod_container:container_memory_working_set_bytes:max)' % series.by(series.groupLabels(c), ['project', 'ref', 'job_name']),
          },
          {
            record: 'namespace_pod_container:cpu_usage_over_request:ratio',
            expr: |||
              namespace_pod_container:container_cpu_usage_seconds_total:sum_irate
              / on (%s) group_left ()
              %s
            ||| % [perContainer, requests('cpu')],
          },
          {
            record: 'namespace_pod_container:memory_usage_over_request:ratio',
            expr: |||
              namespace_pod_container:container_memory_working_set_bytes:max
              / on (%s) group_left ()
              %s
            ||| % [perContainer, requests('memory')],
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
