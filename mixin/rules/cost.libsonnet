// Recording rules of what CI costs: the aggregations the CI cost dashboard reads over time.
local counters = import '../lib/counters.libsonnet';

{
  local c = $._config,
  local w = c.costWindow,
  local selector(name, matchers=[]) = '%s{%s}' % [name, std.join(', ', [c.exporterSelector] + matchers)],
  local increase(by, series) = counters.sumIncrease(c, '%s, %s' % [c.groupLabels, by], series, w),
  local spot = ['capacity_type="spot"'],

  prometheusRules+:: {
    groups+: [
      {
        // The exporter's cost counters over the window, in the price table's currency (first
        // increments of label sets included, lib/counters.libsonnet).
        name: 'gitlab-ci-cost.rules',
        rules: [
          {
            record: 'job_project_capacity_type:gitlab_ci_job_cost:increase%s' % w,
            expr: increase('project, capacity_type', selector('gitlab_ci_job_cost_total')) + '\n',
          },
          {
            // What the pods on spot nodes would have cost on demand, less what they cost.
            record: 'job_project:gitlab_ci_job_spot_saving:increase%s' % w,
            expr: '%s\n-\n%s\n' % [increase('project', selector('gitlab_ci_job_on_demand_cost_total', spot)), increase('project', selector('gitlab_ci_job_cost_total', spot))],
          },
          {
            record: 'job_project_ref:gitlab_ci_job_cost:increase%s' % w,
            expr: increase('project, ref', selector('gitlab_ci_job_cost_by_ref_total')) + '\n',
          },
          {
            record: 'job_project_job_name:gitlab_ci_job_cost:increase%s' % w,
            expr: increase('project, job_name', selector('gitlab_ci_job_cost_by_job_name_total')) + '\n',
          },
          {
            record: 'job_nodegroup_capacity_type:gitlab_ci_node_idle_cost:increase%s' % w,
            expr: increase('nodegroup, capacity_type', selector('gitlab_ci_node_idle_cost_total')) + '\n',
          },
          {
            // The share of the node time CI nodes held job pods that no job pod requested.
            record: 'job_nodegroup_capacity_type:gitlab_ci_node_idle:ratio%s' % w,
            expr: '%s\n/\n%s\n' % [increase('nodegroup, capacity_type', selector('gitlab_ci_node_idle_seconds_total')), increase('nodegroup, capacity_type', selector('gitlab_ci_node_occupied_seconds_total'))],
          },
        ],
      },
    ],
  },
}
