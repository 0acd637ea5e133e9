local counters = import '../lib/counters.libsonnet';
local g = import '../lib/grafana.libsonnet';
local series = import '../lib/series.libsonnet';

{
  local c = $._config,
  local w = c.failureRatioWindow,
  local exporter = '%s, %s' % [c.exporterSelector, series.groupFilter(c)],
  local nodes = '%s, nodegroup=~"$nodegroup", zone=~"$zone"' % exporter,
  local live(selector) = series.live(c, selector),
  local interrupted = 'gitlab_ci_job_pods_interrupted_total{%s}' % nodes,
  // Counts over the time range, a label set's first removal included (lib/counters.libsonnet).
  local inRange(by, selector) = counters.sumIncrease(c, by, selector, '$__range'),
  local lifetime(suffix) = 'gitlab_ci_spot_node_lifetime_seconds_%s{%s}' % [suffix, nodes],

  grafanaDashboards+:: {
    'gitlab-ci-spot-fleet.json': g.dashboard(
      c,
      'spot-fleet',
      'Spot fleet',
      'Spot and preemptible nodes by node group and zone, how long they live, why they go, and the job pods they take down with them beside the runner system-failure ratio.',
      [
        g.queryVariable('nodegroup', 'Node group', 'gitlab_ci_spot_nodes{%s}' % exporter),
        g.queryVariable('zone', 'Zone', 'gitlab_ci_spot_nodes{%s, nodegroup=~"$nodegroup"}' % exporter),
      ],
      [
        g.row('Nodes'),
        g.stat('Spot nodes', 'Spot nodes now.', [g.target('sum(%s) or vector(0)' % live('gitlab_ci_spot_nodes{%s}' % nodes))]),
        g.stat('Removed in range', 'Spot nodes that went away over the time range.', [g.target('round(\n%s\n) or vector(0)' % inRange('', lifetime('count')))]) + g.wholeNumbers,
        g.stat('Median lifetime in range', 'Of the spot nodes removed over the time range.', [g.target('histogram_quantile(0.5, %s)' % inRange('le', lifetime('bucket')))], unit='s'),
        g.stat('Oldest live spot node', 'Age of the oldest spot node alive now.', [g.target('time() - min(gitlab_ci_spot_node_created_timestamp_seconds{%s})' % nodes)], unit='s'),
        g.timeseries('Spot nodes by node group', '', [g.target('sum by (nodegroup) (%s)' % live('gitlab_ci_spot_nodes{%s}' % nodes), '{{nodegroup}}')], stack=true),
        g.timeseries('Spot nodes by zone and instance type', '', [g.target('sum by (zone, instance_type) (%s)' % live('gitlab_ci_spot_nodes{%s}' % nodes), '{{zone}} {{instance_type}}')], stack=true),

        g.row('Removals'),
        g.timeseries('Removals per hour by reason', 'Why spot nodes went, from the signs seen before they did (taints, node-shutdown pod failures).', [g.target('sum by (reason) (rate(gitlab_ci_spot_node_lifetime_seconds_count{%s}[$__rate_interval])) * 3600' % nodes, '{{reason}}')], stack=true),
        g.table('Lifetime by reason', 'Median and mean lifetime of the spot nodes removed over the time range, and how many were.', [
          g.target('histogram_quantile(0.5, %s)' % inRange('le, reason', lifetime('bucket'))),
          g.target('%s\n/\n%s' % [inRange('reason', lifetime('sum')), inRange('reason', lifetime('count'))]),
          g.target('round(\n%s\n)' % inRange('reason', lifetime('count'))),
        ], unit='s', columns=['Median', 'Mean', 'Removed']) + {
          fieldConfig+: { overrides: [{ matcher: { id: 'byName', options: 'Removed' }, properties: [{ id: 'unit', value: 'short' }, { id: 'decimals', value: 0 }] }] },
        },
        g.timeseries('Lifetime percentiles', 'Lifetime of the spot nodes removed, per node group.', [
          g.target('histogram_quantile(%s, sum by (le, nodegroup) (rate(gitlab_ci_spot_node_lifetime_seconds_bucket{%s}[$__rate_interval])))' % [q, nodes], '%s {{nodegroup}}' % g.percentileName(q))
          for q in ['0.5', '0.9']
        ], unit='s'),
        g.table('Live spot nodes', 'Age of each spot node alive now.', [g.target('time() - %s' % live('gitlab_ci_spot_node_created_timestamp_seconds{%s}' % nodes))], unit='s'),

        g.row('Jobs taken down'),
        g.timeseries('Interrupted job pods per hour by reason', 'CI job pods of the selected node groups and zones taken down by their node\'s removal, a drain or an eviction.', [g.target('sum by (reason) (rate(%s[$__rate_interval])) * 3600' % interrupted, '{{reason}}')], stack=true) + g.runbookLink(c, 'GitLabCISpotInterruptionsTakingJobs'),
        g.timeseries('System failure ratio (%s)' % w, 'Runner system failures over finished jobs, on the GitLab side: interruptions above should show here. GitLab does not tell on which node a job ran, so this is the whole deployment\'s, not the selected node groups\' and zones\'.', [g.target('job:gitlab_ci_jobs_system_failure:ratio_rate%s{%s}' % [w, series.groupFilter(c)], std.join(' ', ['{{%s}}' % l for l in series.groupLabels(c)]))], unit='percentunit') + g.runbookLink(c, 'GitLabCISystemFailureRatioHigh') + g.dashboardLink(c, 'overview', 'Overview'),
        g.table('Interrupted job pods by project and reason', 'Job pods of the selected node groups and zones taken down over the time range.', [g.target('round(\n%s\n) > 0' % inRange('project, nodegroup, zone, reason', interrupted))], width=24) + g.wholeNumbers,
      ],
    ),
  },
}
