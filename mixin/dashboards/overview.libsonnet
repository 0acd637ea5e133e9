local counters = import '../lib/counters.libsonnet';
local g = import '../lib/grafana.libsonnet';
local series = import '../lib/series.libsonnet';

{
  local c = $._config,
  local w = c.failureRatioWindow,
  local system = std.join('|', c.systemFailureReasons),
  // The exporter's series of the deployments the group variables select.
  local exporter = '%s, %s' % [c.exporterSelector, series.groupFilter(c)],
  local sel = '%s, project=~"$project"' % exporter,
  local live(selector) = series.live(c, selector),
  local queue = '%s, tags=~"$tags"' % sel,
  local finished(extra='') = 'gitlab_ci_jobs_finished_total{%s%s}' % [sel, extra],
  // Read like the recorded ratios: a label set's first job counts too (lib/counters.libsonnet),
  // and jobs finished without one of these failures read 0.
  local ratio(extra) =
    local all = counters.sumIncrease(c, '', finished(), '$__rate_interval');
    '(\n%s\nor\n%s * 0\n)\n/\n%s\n' % [counters.sumIncrease(c, '', finished(extra), '$__rate_interval'), all, all],
  // The system failure ratio over the selected projects, from the per-project recorded increases.
  local systemFailureRatio =
    local perProject(metric) = 'sum(job_project:%s:increase%s{%s, project=~"$project"})' % [metric, w, series.groupFilter(c)];
    '(%s or %s * 0)\n/\n%s' % [perProject('gitlab_ci_jobs_system_failure'), perProject('gitlab_ci_jobs_finished'), perProject('gitlab_ci_jobs_finished')],
  local pods = '%s, project=~"$project"' % exporter,
  local waiting(reasons) = 'sum(%s) or vector(0)' % live('gitlab_ci_job_pods_waiting{%s, reason=~"%s"}' % [pods, reasons]),
  local startup(kind) = 'gitlab_ci_job_pod_%s_duration_seconds' % kind,
  local startupQuantiles(kind) = [
    g.target('histogram_quantile(%s, sum by (le, nodegroup, new_node) (rate(%s_bucket{%s}[$__rate_interval])))' % [q, startup(kind), exporter], '%s {{nodegroup}} new node {{new_node}}' % g.percentileName(q))
    for q in ['0.5', '0.9']
  ],
  local startsInRange(matchers) = counters.sumIncrease(c, '', '%s_count{%s%s}' % [startup('startup'), exporter, matchers], '$__range'),
  local quantiles(metric, by, legend) = [
    g.target('histogram_quantile(%s, sum by (le%s) (rate(%s_bucket{%s}[$__rate_interval])))' % [q, by, metric, sel], g.percentileName(q) + legend)
    for q in g.percentiles
  ],

  grafanaDashboards+:: {
    'gitlab-ci-overview.json': g.dashboard(
      c,
      'overview',
      'Overview',
      'Pending and running jobs, failures split into script and system causes, queue and run durations, and the health of the exporter.',
      [
        g.queryVariable('project', 'Project', 'gitlab_ci_jobs_finished_total{%s}' % exporter),
        g.queryVariable('tags', 'Job tags', 'gitlab_ci_jobs_pending{%s}' % exporter),
      ],
      [
        g.row('Queue'),
        g.stat('Pending jobs', 'Jobs waiting for a runner now.', [g.target('sum(%s) or vector(0)' % live('gitlab_ci_jobs_pending{%s}' % queue))], thresholds=[[c.pendingJobsThreshold, 'red']]) + g.runbookLink(c, 'GitLabCIPendingJobsHigh'),
        g.stat('Running jobs', 'Jobs a runner is executing now.', [g.target('sum(%s) or vector(0)' % live('gitlab_ci_jobs_running{%s}' % queue))]),
        g.stat('Longest wait', 'How long the longest-waiting pending job has been in the queue; 0 when none waits.', [g.target('time() - min(gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds{%s}) or vector(0)' % queue)], unit='s', thresholds=[[c.jobQueuedTooLongSeconds, 'red']]) + g.runbookLink(c, 'GitLabCIJobQueuedTooLong'),
        g.stat('System failure ratio (%s)' % w, 'Share of the selected projects\' finished jobs that failed for a system reason (%s), over the last %s.' % [std.join(', ', c.systemFailureReasons), w], [g.target(systemFailureRatio)], unit='percentunit', thresholds=[[c.systemFailureRatioThreshold, 'red']]) + g.runbookLink(c, 'GitLabCISystemFailureRatioHigh'),
        g.timeseries('Pending jobs by tags', 'Jobs waiting for a runner, by the tag set they ask for: a tag set no runner serves, or whose nodes cannot be provisioned, stands out here.', [g.target('sum by (tags) (%s)' % live('gitlab_ci_jobs_pending{%s}' % queue), '[{{tags}}]')], stack=true),
        g.timeseries('Running jobs by tags', 'Jobs being executed, by tag set.', [g.target('sum by (tags) (%s)' % live('gitlab_ci_jobs_running{%s}' % queue), '[{{tags}}]')], stack=true),
        g.timeseries('Pending jobs by project (top 10)', 'The ten projects with the most pending jobs.', [g.target('topk(10, sum by (project) (%s))' % live('gitlab_ci_jobs_pending{%s}' % queue), '{{project}}')]),
        g.timeseries('Running jobs by project (top 10)', 'The ten projects with the most jobs running.', [g.target('topk(10, sum by (project) (%s))' % live('gitlab_ci_jobs_running{%s}' % queue), '{{project}}')]),
        g.timeseries('Longest wait by project and tags', 'Time since the longest-waiting pending job of each project and tag set entered the queue.', [g.target('time() - min by (project, tags) (gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds{%s})' % queue, '{{project}} [{{tags}}]')], unit='s', width=24),

        g.row('Where jobs wait'),
        g.timeseries('Where jobs wait', 'Jobs pending in GitLab\'s queue, and job pods a runner created: waiting for a node (unschedulable, or no scheduler verdict yet), creating containers on a node, failing to pull an image, waiting for another reason, and running. GitLab counts the pods\' jobs as running from the moment the pod is created, so capacity trouble shows here long before the pending count rises.', [
          g.target('sum(%s) or vector(0)' % live('gitlab_ci_jobs_pending{%s}' % queue), 'pending in GitLab'),
          g.target(waiting('unschedulable|scheduling'), 'waiting for a node'),
          g.target(waiting('container_creating'), 'creating containers'),
          g.target(waiting('image_pull'), 'image pull failing'),
          g.target(waiting('other'), 'other waiting reason'),
          g.target('(count(%s) or vector(0)) - (sum(%s) or vector(0))' % [series.jobPodInfo(c, ', %s, project=~"$project"' % series.groupFilter(c)), live('gitlab_ci_job_pods_waiting{%s}' % pods)], 'running'),
        ], stack=true, width=24),
        g.stat('Job pods waiting for a node', 'Unschedulable job pods, or not scheduled yet.', [g.target(waiting('unschedulable|scheduling'))], thresholds=[[c.jobPodsWaitingThreshold, 'red']]) + g.runbookLink(c, 'GitLabCIJobPodsCannotGetNodes') + g.dashboardLink(c, 'spot-fleet', 'Spot fleet'),
        g.stat('Job pods creating containers', 'Job pods on a node whose containers are being created (ContainerCreating, PodInitializing: mostly image pulls).', [g.target(waiting('container_creating'))], thresholds=[[c.jobPodsWaitingThreshold, 'red']]) + g.runbookLink(c, 'GitLabCIJobPodsCannotGetNodes'),
        g.stat('Longest job pod wait', 'Time since the longest-waiting job pod that is unschedulable or creating containers was created; 0 when none waits. Over every project: the exporter tells the oldest by reason only.', [g.target('time() - min(gitlab_ci_job_pods_waiting_oldest_timestamp_seconds{%s, reason=~"%s"}) or vector(0)' % [exporter, std.join('|', c.jobPodsWaitingReasons)])], unit='s', thresholds=[[counters.seconds(c.jobPodsWaitingFor), 'red']]),
        g.stat('CI time spent waiting for new nodes', 'Over the time range: the startup time of the job pods that landed on a node created after them (they waited for a scale-up), summed. Over every project: startups are told by node group.', [g.target('%s\nor vector(0)' % counters.sumIncrease(c, '', '%s_sum{%s, new_node="true"}' % [startup('startup'), exporter], '$__range'))], unit='s'),
        g.timeseries('Job pod startup by node group, new against warm nodes', 'From a job pod\'s creation to its build container running, p50 and p90 by node group; new node true: the pod waited for a node created after it (a scale-up), false: it landed on a node that was there. Over every project: startups are told by node group.', startupQuantiles('startup'), unit='s'),
        g.timeseries('Scheduling part of the startup', 'From a job pod\'s creation to its binding to a node, p50 and p90: on new nodes, the scale-up; the rest of the startup is image pulls and container creation. Over every project.', startupQuantiles('scheduling'), unit='s'),
        g.stat('Starts on new nodes in range', 'Share of the job pods started over the time range that waited for a new node; over every project.', [g.target('(\n%s\nor\n%s * 0\n)\n/\n%s' % [startsInRange(', new_node="true"'), startsInRange(''), startsInRange('')])], unit='percentunit', width=8),
        g.timeseries('Job pods waiting by project and reason (top 10)', 'The project and waiting reason pairs with the most job pods waiting.', [g.target('topk(10, sum by (project, reason) (%s))' % live('gitlab_ci_job_pods_waiting{%s}' % pods), '{{project}} {{reason}}')], width=16),

        g.row('Throughput and failures'),
        g.timeseries('Finished jobs per minute', 'Jobs that reached success, failed or canceled.', [g.target('sum by (status) (rate(%s[$__rate_interval])) * 60' % finished(), '{{status}}')], unit='short', stack=true),
        g.timeseries('Script and system failure ratios', 'Failed jobs over all finished jobs: script failures are the jobs\' own doing (a normal share), system failures are the CI system\'s and should stay near zero.', [
          g.target(ratio(', status="failed", failure_reason="script_failure"'), 'script'),
          g.target(ratio(', status="failed", failure_reason=~"%s"' % system), 'system'),
        ], unit='percentunit'),
        g.timeseries('Failures per minute by reason', 'failure_reason as GitLab reports it.', [g.target('sum by (failure_reason) (rate(%s[$__rate_interval])) * 60' % finished(', status="failed"'), '{{failure_reason}}')], stack=true),
        g.table('System failures by project, reason and runner', 'Jobs failed for a system reason over the dashboard\'s time range.', [g.target('round(\n%s\n) > 0' % counters.sumIncrease(c, 'project, failure_reason, runner', finished(', status="failed", failure_reason=~"%s"' % system), '$__range'))]) + g.wholeNumbers + g.runbookLink(c, 'GitLabCISystemFailureRatioHigh'),

        g.row('Durations'),
        g.timeseries('Time in queue', 'How long jobs waited for a runner before one picked them up.', quantiles('gitlab_ci_job_queued_duration_seconds', '', ''), unit='s'),
        g.timeseries('Run time by status', 'How long finished jobs ran, by status.', quantiles('gitlab_ci_job_duration_seconds', ', status', ' {{status}}'), unit='s'),

        g.row('Exporter'),
        g.stat('Exporter targets up', 'Targets of the exporter Prometheus scraped successfully; 0 when the scrapes fail or no target exists (a ServiceMonitor that no longer selects the Service, no pod running).', [g.target('sum(up{%s}) or vector(0)' % exporter)], width=4, height=8, thresholds=[[1, 'green']], baseColor='red') + g.runbookLink(c, 'GitLabCIExporterDown') + g.runbookLink(c, 'GitLabCIExporterAbsent'),
        g.timeseries('Age of the GitLab view', 'Time since the last poll cycle in which every GitLab request succeeded.', [g.target('time() - gitlab_ci_exporter_gitlab_last_success_timestamp_seconds{%s}' % exporter, '{{instance}}')], unit='s', width=10) + g.runbookLink(c, 'GitLabCIExporterGitLabSyncStale'),
        g.timeseries('Age of the Kubernetes view', 'Time since the last watch event or list, by resource.', [g.target('time() - gitlab_ci_exporter_kube_last_event_timestamp_seconds{%s}' % exporter, '{{instance}} {{resource}}')], unit='s', width=10) + g.runbookLink(c, 'GitLabCIExporterKubernetesWatchStale'),
        g.timeseries('GitLab API requests per second', 'By HTTP status; "error" when no answer arrived.', [g.target('sum by (code) (rate(gitlab_ci_exporter_gitlab_requests_total{%s}[$__rate_interval]))' % exporter, '{{code}}')], unit='reqps', width=8, stack=true) + g.runbookLink(c, 'GitLabCIExporterGitLabErrors') + g.runbookLink(c, 'GitLabCIExporterGitLabRateLimited'),
        g.timeseries('Webhook deliveries per second', 'By event and outcome.', [g.target('sum by (event, outcome) (rate(gitlab_ci_exporter_webhook_events_total{%s}[$__rate_interval]))' % exporter, '{{event}} {{outcome}}')], unit='reqps', width=8),
        g.timeseries('Kubernetes watch restarts per minute', 'Restarts after errors, dropped or stalled streams and expired versions.', [g.target('sum by (resource) (rate(gitlab_ci_exporter_kube_watch_restarts_total{%s}[$__rate_interval])) * 60' % exporter, '{{resource}}')], width=8),
        g.timeseries('Scrape duration', 'How long Prometheus takes to scrape each exporter target.', [g.target('scrape_duration_seconds{%s}' % exporter, '{{instance}}')], unit='s'),
        g.timeseries('Samples dropped at the cardinality cap', 'Per family, per second; 0 while every family is under MAX_SERIES_PER_FAMILY.', [g.target('sum by (family) (rate(gitlab_ci_exporter_series_dropped_total{%s}[$__rate_interval])) or vector(0)' % exporter, '{{family}}')]) + g.runbookLink(c, 'GitLabCIExporterSeriesDropped'),
        g.timeseries('Active replicas by shard', 'Replicas polling GitLab and exporting each shard\'s series: 1 per shard; 0 while none holds the shard\'s Lease, when its projects\' job and pod series are missing (one shard when not sharded).', [g.target('sum by (shard) (\n  gitlab_ci_exporter_active{%s}\n  * on (%s) group_left (shard)\n  gitlab_ci_exporter_shard{%s}\n)' % [exporter, series.by(series.groupLabels(c), ['instance']), exporter], 'shard {{shard}}')], width=24) + g.runbookLink(c, 'GitLabCIExporterShardInactive'),
      ],
    ),
  },
}
