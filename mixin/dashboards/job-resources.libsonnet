local g = import '../lib/grafana.libsonnet';

{
  local c = $._config,
  local filter = 'project=~"$project", ref=~"$ref", job_name=~"$job_name"',
  local container(metric) = 'namespace_pod_container:%s{%s}' % [metric, filter],

  grafanaDashboards+:: {
    'gitlab-ci-job-resources.json': g.dashboard(
      c,
      'job-resources',
      'Job resources',
      'CPU and memory of CI job containers (cAdvisor) by project, branch and job name, the heaviest jobs, and usage against requests for right-sizing. Needs the mixin\'s recording rules.',
      [
        g.queryVariable('project', 'Project', 'project_ref_job_name:container_cpu_usage_seconds_total:sum_irate'),
        g.queryVariable('ref', 'Branch or tag', 'project_ref_job_name:container_cpu_usage_seconds_total:sum_irate{project=~"$project"}'),
        g.queryVariable('job_name', 'Job name', 'project_ref_job_name:container_cpu_usage_seconds_total:sum_irate{project=~"$project", ref=~"$ref"}'),
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

        g.row('Usage against requests'),
        g.timeseries('CPU used over requested, by job name', 'Below 1, the job asks for more CPU than it uses (cpu_request could shrink); above 1, it bursts past its request.', [g.target('project_job_name:cpu_usage_over_request:ratio{project=~"$project", job_name=~"$job_name"}', '{{project}} {{job_name}}')], unit='percentunit'),
        g.timeseries('Memory used over requested, by job name', 'Working set over the memory request of the containers that set one.', [g.target('project_job_name:memory_usage_over_request:ratio{project=~"$project", job_name=~"$job_name"}', '{{project}} {{job_name}}')], unit='percentunit'),
        g.table('Containers using the least of their CPU request', 'Now, per container of a running job.', [g.target('bottomk(20, %s)' % container('cpu_usage_over_request:ratio'))], unit='percentunit', descending=false),
        g.table('Requested CPU and memory per job name', 'Sum over live job pods, from the pods\' specs.', [
          g.target('sum by (project, job_name, resource) (gitlab_ci_job_pod_container_resource_requests{%s} * on (namespace, pod) group_left (project, job_name) max by (namespace, pod, project, job_name) (gitlab_ci_job_pod_info{%s, project=~"$project", job_name=~"$job_name"}))' % [c.exporterSelector, c.exporterSelector]),
        ]),
      ],
    ),
  },
}
