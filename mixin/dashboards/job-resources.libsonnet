local g = import '../lib/grafana.libsonnet';
local series = import '../lib/series.libsonnet';

{
  local c = $._config,
  local filter = '%s, project=~"$project", ref=~"$ref", job_name=~"$job_name"' % series.groupFilter(c),
  local container(metric) = 'namespace_pod_container:%s{%s}' % [metric, filter],
  // The job pods the variables select, for the dropdowns: from the exporter alone, so they fill
  // even before cAdvisor has reported anything.
  local jobPods(matchers) = 'gitlab_ci_job_pod_info{%s, %s%s}' % [c.exporterSelector, series.groupFilter(c), matchers],
  local shared = series.sharedLabels(c),
  // Requests or limits summed per project and job name, over the live job pods the variables select.
  local perJobName(kind, resource) = |||
    sum by (project, job_name) (
    %s
      * on (%s) group_left (project, job_name)
      max by (%s) (%s)
    )
  ||| % [
    series.resources(c, kind, resource),
    series.by(shared, ['namespace', 'pod']),
    series.by(shared, ['namespace', 'pod', 'project', 'job_name']),
    jobPods(', project=~"$project", ref=~"$ref", job_name=~"$job_name"'),
  ],

  grafanaDashboards+:: {
    'gitlab-ci-job-resources.json': g.dashboard(
      c,
      'job-resources',
      'Job resources',
      'CPU and memory of CI job containers (cAdvisor) by project, branch and job name, the heaviest jobs, and usage against requests and limits (kube-state-metrics) for right-sizing. Needs the mixin\'s recording rules.',
      [
        g.queryVariable('project', 'Project', jobPods('')),
        g.queryVariable('ref', 'Branch or tag', jobPods(', project=~"$project"')),
        g.queryVariable('job_name', 'Job name', jobPods(', project=~"$project", ref=~"$ref"')),
      ],
      [
        g.row('Usage'),
        g.timeseries('CPU by project, branch and job (top 15)', 'Cores used by the containers of running jobs.', [g.target('topk(15, sum by (project, ref, job_name) (project_ref_job_name:container_cpu_usage_seconds_total:sum_irate{%s}))' % filter, '{{project}} {{ref}} {{job_name}}')], unit='none'),
        g.timeseries('Memory by project, branch and job (top 15)', 'Working set of the containers of running jobs.', [g.target('topk(15, sum by (project, ref, job_name) (project_ref_job_name:container_memory_working_set_bytes:sum{%s}))' % filter, '{{project}} {{ref}} {{job_name}}')], unit='bytes'),
        g.timeseries('CPU by project', 'Cores used by CI jobs, per project.', [g.target('sum by (project) (project_ref_job_name:container_cpu_usage_seconds_total:sum_irate{%s})' % filter, '{{project}}')], unit='none', stack=true),
        g.timeseries('Memory by project', 'Working set of CI jobs, per project.', [g.target('sum by (project) (project_ref_job_name:container_memory_working_set_bytes:sum{%s})' % filter, '{{project}}')], unit='bytes', stack=true),

        g.row('Heaviest jobs'),
        g.table('Most CPU time per job', 'CPU seconds each job used over the time range. Read from the last value of each container\'s CPU counter, so jobs shorter than two scrape intervals count too.', [g.target('topk(20, sum by (project, ref, job_name, job_id) (max_over_time(%s[$__range])))' % container('container_cpu_usage_seconds_total:max'))], unit='s'),
        g.table('Highest memory per job', 'Sum over the job\'s containers of each container\'s peak working set over the time range.', [g.target('topk(20, sum by (project, ref, job_name, job_id) (max_over_time(%s[$__range])))' % container('container_memory_working_set_bytes:max'))], unit='bytes'),

        g.row('Usage against requests and limits'),
        g.timeseries('CPU used over requested, by job name', 'Below 1, the job asks for more CPU than it uses (cpu_request could shrink); above 1, it bursts past its request.', [g.target('project_job_name:cpu_usage_over_request:ratio{%s, project=~"$project", job_name=~"$job_name"}' % series.groupFilter(c), '{{project}} {{job_name}}')], unit='percentunit'),
        g.timeseries('Memory used over requested, by job name', 'Working set over the memory request of the containers that set one.', [g.target('project_job_name:memory_usage_over_request:ratio{%s, project=~"$project", job_name=~"$job_name"}' % series.groupFilter(c), '{{project}} {{job_name}}')], unit='percentunit'),
        g.table('Containers using the least of their CPU request', 'Now, per container of a running job.', [g.target('bottomk(20, %s)' % container('cpu_usage_over_request:ratio'))], unit='percentunit', descending=false),
        g.table('Containers nearest their memory limit', 'Now, per container of a running job that sets a memory limit: its working set over that limit. At 1 the kernel kills the container (OOMKilled), and GitLab fails the job as a script failure.', [
          g.target('topk(20,\n  %s\n  / on (%s) group_left ()\n%s\n)' % [container('container_memory_working_set_bytes:max'), series.containerMatch(c), series.resources(c, 'limits', 'memory')]),
        ], unit='percentunit'),
        g.table('Requested and limited CPU and memory per job name', 'Sum over the live job pods, from kube-state-metrics (or the exporter with KUBE_EXPORT_POD_RESOURCES=true).', [
          g.target(perJobName('requests', 'cpu')),
          g.target(perJobName('requests', 'memory')),
          g.target(perJobName('limits', 'cpu')),
          g.target(perJobName('limits', 'memory')),
        ], width=24, columns=['CPU requested', 'Memory requested', 'CPU limit', 'Memory limit']) + {
          fieldConfig+: {
            overrides: [{ matcher: { id: 'byName', options: name }, properties: [{ id: 'unit', value: 'bytes' }] } for name in ['Memory requested', 'Memory limit']] +
                       [{ matcher: { id: 'byName', options: name }, properties: [{ id: 'unit', value: 'none' }] } for name in ['CPU requested', 'CPU limit']],
          },
        },
      ],
    ),
  },
}
