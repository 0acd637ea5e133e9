local g = import '../lib/grafana.libsonnet';

{
  local c = $._config,
  local sel = '%s, builder=~"$builder", project=~"$project"' % c.exporterSelector,
  local metric = 'gitlab_ci_image_build_duration_seconds',

  grafanaDashboards+:: {
    'gitlab-ci-image-builds.json': g.dashboard(
      c,
      'image-builds',
      'Image builds',
      'Run time of image builder containers (Kaniko and its forks, BuildKit, Buildah) in CI job pods and Kubernetes Jobs; project is empty for builds outside CI job pods.',
      [
        g.queryVariable('builder', 'Builder', '%s_count{%s}' % [metric, c.exporterSelector]),
        g.queryVariable('project', 'Project', '%s_count{%s}' % [metric, c.exporterSelector]),
      ],
      [
        g.row('Builds'),
        g.stat('Builds in range', 'Builds that ended over the time range.', [g.target('sum(increase(%s_count{%s}[$__range]))' % [metric, sel])]),
        g.stat('Failed builds in range', 'Builds whose container exited non-zero.', [g.target('sum(increase(%s_count{%s, result="failure"}[$__range]))' % [metric, sel])], thresholds=[[1, 'orange']]),
        g.stat('Median build time in range', '', [g.target('histogram_quantile(0.5, sum by (le) (increase(%s_bucket{%s}[$__range])))' % [metric, sel])], unit='s'),
        g.stat('p90 build time in range', '', [g.target('histogram_quantile(0.9, sum by (le) (increase(%s_bucket{%s}[$__range])))' % [metric, sel])], unit='s'),
        g.timeseries('Builds per hour by builder and result', '', [g.target('sum by (builder, result) (rate(%s_count{%s}[$__rate_interval])) * 3600' % [metric, sel], '{{builder}} {{result}}')], stack=true),
        g.timeseries('Build failure ratio by builder', 'Failed builds over all builds.', [g.target('sum by (builder) (rate(%s_count{%s, result="failure"}[$__rate_interval])) / sum by (builder) (rate(%s_count{%s}[$__rate_interval]))' % [metric, sel, metric, sel], '{{builder}}')], unit='percentunit'),

        g.row('Durations'),
        g.timeseries('Build time percentiles by builder', '', [
          g.target('histogram_quantile(%s, sum by (le, builder) (rate(%s_bucket{%s}[$__rate_interval])))' % [q, metric, sel], 'p%d {{builder}}' % (q * 100))
          for q in [0.5, 0.9, 0.99]
        ], unit='s'),
        g.timeseries('Median build time by project (top 10)', '', [g.target('topk(10, histogram_quantile(0.5, sum by (le, project) (rate(%s_bucket{%s}[$__rate_interval]))))' % [metric, sel], '{{project}}')], unit='s'),
        g.table('Mean build time and count by project and builder', 'Over the time range.', [
          g.target('sum by (project, builder) (increase(%s_sum{%s}[$__range])) / sum by (project, builder) (increase(%s_count{%s}[$__range]))' % [metric, sel, metric, sel]),
        ], unit='s', width=24),
      ],
    ),
  },
}
