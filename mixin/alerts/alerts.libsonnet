// Alerts: what pages the CI/CD team (critical), what needs a look in working hours (warning),
// and what explains other alerts (info).
local counters = import '../lib/counters.libsonnet';
local series = import '../lib/series.libsonnet';

{
  local c = $._config,
  local w = c.failureRatioWindow,
  local sel = c.exporterSelector,
  local increase(by, selector, window) = counters.sumIncrease(c, by, selector, window),
  // The deployment an alert is about, as its description names it: the values of the group
  // labels, joined with '/' when there are several (`prod/gitlab-ci-k8s-exporter`).
  local group = std.join('/', ['{{ $labels.%s }}' % label for label in counters.labelList(c.groupLabels)]),
  // A template pipeline that queries `metric{matchers}` within the alert's own group: printf
  // fills in the group labels' values, quoted as PromQL quotes strings (%q).
  local queryInGroup(metric, matchers, filter) =
    local labels = counters.labelList(c.groupLabels);
    'printf `%s{%s}%s` %s | query' % [
      metric,
      std.join(', ', ['%s=%%q' % label for label in labels] + matchers),
      filter,
      std.join(' ', ['$labels.' + label for label in labels]),
    ],
  local interrupted = 'job_reason:gitlab_ci_job_pods_interrupted:increase%s' % c.interruptedJobsWindow,
  local removalReasons = 'reason=~"%s"' % std.join('|', c.interruptedJobsReasons),
  // The interrupted job pods counted, by reason: `4 rebalance_recommendation, 6 spot_interruption`.
  local interruptedByReason =
    '{{ range $i, $r := %s | sortByLabel "reason" }}{{ if $i }}, {{ end }}{{ $r.Value | printf "%%.0f" }} {{ $r.Labels.reason }}{{ end }}' %
    queryInGroup(interrupted, [removalReasons], ' > 0'),
  // What the interrupted jobs did on the GitLab side: the system-failure ratio the page is about.
  local systemFailureNow =
    '{{ with %s }}{{ . | first | value | humanizePercentage }} of the jobs finished there over the last %s failed with a system failure reason (GitLabCISystemFailureRatioHigh pages above %g%%){{ else }}no job finished there over the last %s{{ end }}' % [
      queryInGroup('job:gitlab_ci_jobs_system_failure:ratio_rate%s' % w, [], ' >= 0'),
      w,
      c.systemFailureRatioThreshold * 100,
      w,
    ],
  // An exporter series with the shard of the replica that exports it (`gitlab_ci_exporter_shard`
  // names it), joined on the scrape target: so the shards of a sharded install are told apart.
  local withShard(selector) = '%s\n  * on (%s, instance) group_left (shard)\n  gitlab_ci_exporter_shard{%s}' % [selector, c.groupLabels, sel],
  local waiting = 'job_reason:gitlab_ci_job_pods_waiting:sum',
  local waitingReasons = 'reason=~"%s"' % std.join('|', c.jobPodsWaitingReasons),
  // Every job pod waiting now, by reason: `3 container_creating, 2 image_pull, 14 unschedulable`.
  local waitingByReason =
    '{{ range $i, $r := %s | sortByLabel "reason" }}{{ if $i }}, {{ end }}{{ $r.Value | printf "%%.0f" }} {{ $r.Labels.reason }}{{ end }}' %
    queryInGroup(waiting, [], ' > 0'),
  // How long the longest-waiting of the pods the alert counts has waited, when the exporter tells.
  local longestWait =
    '{{ with %s }}; the longest has waited {{ . | first | value | humanizeDuration }}{{ end }}' %
    queryInGroup('time() - min(gitlab_ci_job_pods_waiting_oldest_timestamp_seconds', [waitingReasons], ')'),
  local alert(name, severity, forDuration, expr, summary, description) = {
    alert: name,
    expr: expr,
    [if forDuration != null then 'for']: forDuration,
    labels: { severity: severity },
    annotations: {
      summary: summary,
      description: description,
      runbook_url: c.runbookURLPattern % std.asciiLower(name),
    },
  },

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'gitlab-ci.alerts',
        rules: [
          alert(
            'GitLabCIPendingJobsHigh',
            'critical',
            c.pendingJobsFor,
            'sum by (%s) (%s) > %d' % [c.groupLabels, series.live(c, 'gitlab_ci_jobs_pending{%s}' % sel), c.pendingJobsThreshold],
            'Many CI jobs are waiting for a runner.',
            'The number of pending jobs in %s has stayed above %d for %s; it is {{ $value | printf "%%.0f" }} now: runners or the nodes they need are missing.' % [group, c.pendingJobsThreshold, c.pendingJobsFor],
          ),
          alert(
            'GitLabCIJobPodsCannotGetNodes',
            'critical',
            c.jobPodsWaitingFor,
            'sum by (%s) (%s{%s}) > %d' % [c.groupLabels, waiting, waitingReasons, c.jobPodsWaitingThreshold],
            'CI job pods are stuck waiting for a node or for their containers.',
            '{{ $value | printf "%%.0f" }} CI job pods in %s have stayed %s for %s (threshold %d)%s. All waiting pods by reason: %s. GitLab counts their jobs as running: the pending count rises only once the runners are at their concurrency limit.' % [group, std.join(' or ', c.jobPodsWaitingReasons), c.jobPodsWaitingFor, c.jobPodsWaitingThreshold, longestWait, waitingByReason],
          ),
          alert(
            'GitLabCISystemFailureRatioHigh',
            'critical',
            c.systemFailureFor,
            |||
              job:gitlab_ci_jobs_system_failure:ratio_rate%(w)s > %(ratio)s
              and on (%(g)s)
              job:gitlab_ci_jobs_finished:increase%(w)s >= %(min)d
            ||| % { w: w, g: c.groupLabels, ratio: '%g' % c.systemFailureRatioThreshold, min: c.systemFailureMinJobs },
            'CI jobs fail because of the CI system, not their scripts.',
            '{{ $value | humanizePercentage }} of the jobs finished over the last %s in %s failed with a system failure reason (threshold %g%%).' % [w, group, c.systemFailureRatioThreshold * 100],
          ),
          alert(
            'GitLabCIJobQueuedTooLong',
            'warning',
            c.jobQueuedTooLongFor,
            'time() - min by (%s, project, tags) (gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds{%s}) > %d' % [c.groupLabels, sel, c.jobQueuedTooLongSeconds],
            'A CI job has waited in the queue for too long.',
            'A job of {{ $labels.project }} with tags [{{ $labels.tags }}] has been waiting for a runner for {{ $value | humanizeDuration }}.',
          ),
          alert(
            'GitLabCISpotInterruptionsTakingJobs',
            'info',
            null,
            'sum by (%s) (%s{%s}) >= %d' % [c.groupLabels, interrupted, removalReasons, c.interruptedJobsThreshold],
            'Node removals are taking running CI jobs down.',
            '{{ $value | printf "%%.0f" }} job pods were taken down by node removals over the last %s in %s (%s). GitLab fails such jobs as runner_system_failure: %s.' % [c.interruptedJobsWindow, group, interruptedByReason, systemFailureNow],
          ),
        ],
      },
      {
        name: 'gitlab-ci-exporter.alerts',
        rules: [
          alert(
            'GitLabCIExporterDown',
            'critical',
            c.exporterStaleFor,
            'up{%s} == 0' % sel,
            'The GitLab CI exporter cannot be scraped.',
            'Prometheus has failed to scrape {{ $labels.instance }} for %s: no CI alert can fire meanwhile.' % c.exporterStaleFor,
          ),
          alert(
            'GitLabCIExporterAbsent',
            'critical',
            c.exporterAbsentFor,
            'absent(up{%s})' % sel,
            'Prometheus has no GitLab CI exporter target.',
            // absent() has no value to show, and its labels are the selector's equality matchers alone.
            'Prometheus has had no scrape target matching up{%s} for %s (the ServiceMonitor no longer selects the Service, the Deployment has no pods, or the job label changed): no CI alert can fire meanwhile.' % [sel, c.exporterAbsentFor],
          ),
          // Per shard: the freshest of its replicas (a rollout's old and new pod, a shard's active
          // replica; a standby exports no poll of its own), and a stale shard is not hidden by the others.
          alert(
            'GitLabCIExporterGitLabSyncStale',
            'warning',
            c.exporterStaleFor,
            'time() - max by (%s, shard) (\n  %s\n) > %d\n' % [c.groupLabels, withShard('gitlab_ci_exporter_gitlab_last_success_timestamp_seconds{%s}' % sel), c.gitlabSyncStaleSeconds],
            'The exporter has not completed a GitLab poll cycle recently.',
            'The last fully successful GitLab poll of %s (shard {{ $labels.shard }}) was {{ $value | humanizeDuration }} ago: job metrics are stale.' % group,
          ),
          alert(
            'GitLabCIExporterKubernetesWatchStale',
            'warning',
            c.exporterStaleFor,
            'time() - max by (%s, shard, resource) (\n  %s\n) > %d\n' % [c.groupLabels, withShard('gitlab_ci_exporter_kube_last_event_timestamp_seconds{%s}' % sel), c.kubeWatchStaleSeconds],
            'The exporter has heard nothing from the Kubernetes API recently.',
            'The last {{ $labels.resource }} watch event or list of %s (shard {{ $labels.shard }}) was {{ $value | humanizeDuration }} ago: pod and node metrics are stale.' % group,
          ),
          // Replicas of the shard are scraped, and none of them does its work: its projects and
          // job pods have no series (a standby exports only the exporter's own families).
          alert(
            'GitLabCIExporterShardInactive',
            'warning',
            c.exporterStaleFor,
            'max by (%s, shard) (\n  %s\n) == 0\n' % [c.groupLabels, withShard('gitlab_ci_exporter_active{%s}' % sel)],
            'No replica of an exporter shard is active.',
            'Shard {{ $labels.shard }} of %s has replicas but none holding its Lease for %s: the job and pod series of its projects are missing.' % [group, c.exporterStaleFor],
          ),
          alert(
            'GitLabCIExporterGitLabErrors',
            'warning',
            c.exporterErrorsFor,
            '%s\n/\n%s\n> %s\n' % [
              increase(c.groupLabels, 'gitlab_ci_exporter_gitlab_requests_total{%s, code=~"5..|error"}' % sel, w),
              increase(c.groupLabels, 'gitlab_ci_exporter_gitlab_requests_total{%s}' % sel, w),
              '%g' % c.gitlabErrorRatioThreshold,
            ],
            'Many GitLab API requests of the exporter fail.',
            '{{ $value | humanizePercentage }} of the GitLab API requests of %s failed over the last %s.' % [group, w],
          ),
          alert(
            'GitLabCIExporterGitLabRateLimited',
            'warning',
            c.exporterErrorsFor,
            '%s\n> 0\n' % increase(c.groupLabels, 'gitlab_ci_exporter_gitlab_requests_total{%s, code="429"}' % sel, w),
            'GitLab keeps rate-limiting the exporter.',
            'GitLab answered {{ $value | printf "%%.0f" }} requests of %s with 429 over the last %s: lower GITLAB_MAX_REQUESTS_PER_SECOND or raise the token user\'s limit.' % [group, w],
          ),
          alert(
            'GitLabCIExporterSeriesDropped',
            'warning',
            null,
            '%s\n> 0\n' % increase('%s, family' % c.groupLabels, 'gitlab_ci_exporter_series_dropped_total{%s}' % sel, w),
            'The exporter drops series at its cardinality cap.',
            '{{ $labels.family }} reached MAX_SERIES_PER_FAMILY in %s; {{ $value | printf "%%.0f" }} samples were not exported over the last %s.' % [group, w],
          ),
        ],
      },
    ],
  },
}
