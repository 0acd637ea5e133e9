local counters = import '../lib/counters.libsonnet';
local g = import '../lib/grafana.libsonnet';
local seriesLib = import '../lib/series.libsonnet';

// CI cost: what projects, branches and jobs cost, the spot saving and the idle capacity of the CI
// node groups, from the exporter's cost counters (README, "What CI costs").
{
  local c = $._config,
  local w = c.costWindow,
  local money = c.costUnit,
  // The exporter's series of the deployments the group variables ($job, $cluster) pick.
  local exporter = '%s, %s' % [c.exporterSelector, seriesLib.groupFilter(c)],
  local pods = '%s, project=~"$project"' % exporter,
  local nodes = '%s, nodegroup=~"$nodegroup"' % exporter,
  // The recorded series keep only the group labels of the exporter's (rules/cost.libsonnet).
  local recordedPods = '%s, project=~"$project"' % seriesLib.groupFilter(c),
  local recordedNodes = '%s, nodegroup=~"$nodegroup"' % seriesLib.groupFilter(c),
  local series(name, filter, matchers=[]) = '%s{%s}' % [name, std.join(', ', [filter] + matchers)],
  local cost(matchers=[]) = series('gitlab_ci_job_cost_total', pods, matchers),
  local onDemand = series('gitlab_ci_job_on_demand_cost_total', pods, ['capacity_type="spot"']),
  local idle = series('gitlab_ci_node_idle_cost_total', nodes),
  // Over the time range, a label set's first increments included (lib/counters.libsonnet).
  local inRange(by, selector) = counters.sumIncrease(c, by, selector, '$__range'),
  local perHour(by, selector) = 'sum by (%s) (rate(%s[$__rate_interval])) * 3600' % [by, selector],
  local top(by, selector) = 'topk(%d, %s)' % [c.costTopK, inRange(by, selector)],

  grafanaDashboards+:: {
    'gitlab-ci-cost.json': g.dashboard(
      c,
      'cost',
      'CI cost',
      'What CI costs in %s: spend over time, the projects, branches and jobs that spend it, what spot capacity saves against on demand, and the idle capacity of the CI node groups. Needs the exporter\'s price table (KUBE_NODE_PRICES_FILE).' % c.costCurrency,
      [
        g.queryVariable('project', 'Project', 'gitlab_ci_job_cost_total{%s}' % exporter),
        g.queryVariable('nodegroup', 'Node group', 'gitlab_ci_node_occupied_seconds_total{%s}' % exporter),
      ],
      [
        g.row('Spend (%s)' % c.costCurrency),
        g.stat('Spend in range', 'What CI job pods cost over the time range: each pod\'s share of its node, by its requests, at the node\'s price.', [g.target(inRange('', cost()))], unit=money),
        g.stat('Spot saving in range', 'What the pods on spot nodes would have cost on demand, less what they cost.', [g.target('%s\n-\n%s' % [inRange('', onDemand), inRange('', cost(['capacity_type="spot"']))])], unit=money),
        g.stat('Idle capacity in range', 'The price of the node time CI nodes held job pods that no job pod requested.', [g.target(inRange('', idle))], unit=money),
        g.stat('Idle share', 'Of the node time CI nodes held job pods, the part no job pod requested: the idle capacity\'s share of those nodes.', [g.target('%s\n/\n%s' % [inRange('', series('gitlab_ci_node_idle_seconds_total', nodes)), inRange('', series('gitlab_ci_node_occupied_seconds_total', nodes))])], unit='percentunit', thresholds=[[0.3, 'orange'], [0.5, 'red']]),
        g.timeseries('Spend per hour by capacity type', 'Jobs\' spend rate, on spot and on-demand nodes.', [g.target(perHour('capacity_type', cost()), '{{capacity_type}}')], unit=money, stack=true),
        g.timeseries('Spend per hour: jobs and idle capacity', 'What the job pods cost, and what the capacity of their nodes that no job pod requested costs.', [
          g.target(perHour('', cost()), 'jobs'),
          g.target(perHour('', idle), 'idle capacity'),
        ], unit=money, stack=true),
        g.stat('Spend per successful job', 'All spend over the time range (failed and canceled jobs\' included) over the jobs that succeeded.', [g.target('%s\n/\n%s' % [inRange('', cost()), inRange('', series('gitlab_ci_jobs_finished_total', pods, ['status="success"']))])], unit=money, width=8),
        g.stat('Spend per pipeline', 'Spend over the time range over the pipelines whose job pods ran in it (the pipeline as a pod key or the GitLab side names it).', [g.target('%s\n/\ncount(count by (project, pipeline_id) (max_over_time(%s[$__range])))' % [inRange('', cost()), series('gitlab_ci_job_pod_info', pods, ['pipeline_id!=""'])])], unit=money, width=8),
        g.stat('Spend per successful pipeline', 'All spend over the time range (failed, canceled and skipped pipelines\' included) over the pipelines that succeeded in it, as GitLab reports them (gitlab_ci_pipelines_finished_total: Pipeline Hooks and the pipelines check; a child pipeline is part of its parent).', [g.target('%s\n/\n%s' % [inRange('', cost()), inRange('', series('gitlab_ci_pipelines_finished_total', pods, ['status="success"']))])], unit=money, width=8),

        g.row('Who spends'),
        g.table('Top projects', 'Spend over the time range.', [g.target(top('project', cost()))], unit=money, width=8),
        g.table('Top branches', 'Spend over the time range, per project and branch or tag.', [g.target(top('project, ref', series('gitlab_ci_job_cost_by_ref_total', pods)))], unit=money, width=8),
        g.table('Top jobs', 'Spend over the time range, per project and job name.', [g.target(top('project, job_name', series('gitlab_ci_job_cost_by_job_name_total', pods)))], unit=money, width=8),
        g.timeseries('Spend per %s by project (top %d)' % [w, c.costTopK], 'From the recording rules.', [g.target('topk(%d, sum by (project) (job_project_capacity_type:gitlab_ci_job_cost:increase%s{%s}))' % [c.costTopK, w, recordedPods], '{{project}}')], unit=money),
        g.timeseries('Spend per %s by branch (top %d)' % [w, c.costTopK], 'The branches that burn money, from the recording rules.', [g.target('topk(%d, job_project_ref:gitlab_ci_job_cost:increase%s{%s})' % [c.costTopK, w, recordedPods], '{{project}} {{ref}}')], unit=money),

        g.row('Spot'),
        g.timeseries('Spot saving per %s by project' % w, 'On-demand price of the pods on spot nodes, less their spot price.', [g.target('job_project:gitlab_ci_job_spot_saving:increase%s{%s}' % [w, recordedPods], '{{project}}')], unit=money, stack=true),
        g.table('Spot saving by project', 'Over the time range: what the pods on spot nodes cost, what they would have cost on demand, and the saving.', [
          g.target(inRange('project', cost(['capacity_type="spot"']))),
          g.target(inRange('project', onDemand)),
          g.target('%s\n-\n%s' % [inRange('project', onDemand), inRange('project', cost(['capacity_type="spot"']))]),
        ], unit=money, columns=['Spot', 'On demand', 'Saving'], sortBy='Saving'),

        g.row('Idle capacity'),
        g.timeseries('Idle capacity per %s by node group' % w, 'The price of the node time no job pod requested, on nodes holding job pods.', [g.target('sum by (nodegroup, capacity_type) (job_nodegroup_capacity_type:gitlab_ci_node_idle_cost:increase%s{%s})' % [w, recordedNodes], '{{nodegroup}} {{capacity_type}}')], unit=money, stack=true),
        g.timeseries('Idle share of occupied node time', 'Of the node time CI nodes held job pods, the part no job pod requested: requests too small for the instance types, or nodes kept for few pods.', [g.target('job_nodegroup_capacity_type:gitlab_ci_node_idle:ratio%s{%s}' % [w, recordedNodes], '{{nodegroup}} {{capacity_type}}')], unit='percentunit'),
        g.stat('Nodes without a price', 'Nodes holding CI job pods now whose instance type is not in the price table: their pods cost nothing here. gitlab_ci_nodes_unpriced names their instance types; add them to KUBE_NODE_PRICES_FILE.', [g.target('sum(%s) or vector(0)' % seriesLib.live(c, 'gitlab_ci_nodes_unpriced{%s}' % exporter))], thresholds=[[1, 'orange']]) + g.wholeNumbers,
      ],
    ),
  },
}
