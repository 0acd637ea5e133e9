local counters = import '../lib/counters.libsonnet';
local g = import '../lib/grafana.libsonnet';

{
  local c = $._config,
  local sel = '%s, builder=~"$builder", project=~"$project"' % c.exporterSelector,
  local metric = 'gitlab_ci_image_build_duration_seconds',
  local series(suffix, extra='') = '%s_%s{%s%s}' % [metric, suffix, sel, extra],
  // Counts over the time range, a label set's first build included (lib/counters.libsonnet).
  local inRange(by, selector) = counters.sumIncrease(c, by, selector, '$__range'),
  local percentileTargets(by) = [
    g.target('histogram_quantile(%s, sum by (le, %s) (rate(%s[$__rate_interval])))' % [q, by, series('bucket')], '%s {{%s}}' % [g.percentileName(q), by])
    for q in g.percentiles
  ],

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
        g.stat('Builds in range', 'Builds that ended over the time range.', [g.target(inRange('', series('count')))]),
        g.stat('Failed builds in range', 'Builds whose container exited non-zero.', [g.target(inRange('', series('count', ', result="failure"')))], thresholds=[[1, 'orange']]),
        g.stat('Median build time in range', '', [g.target('histogram_quantile(0.5, %s)' % inRange('le', series('bucket')))], unit='s'),
        g.stat('p90 build time in range', '', [g.target('histogram_quantile(0.9, %s)' % inRange('le', series('bucket')))], unit='s'),
        g.timeseries('Builds per hour by builder and result', '', [g.target('sum by (builder, result) (rate(%s[$__rate_interval])) * 3600' % series('count'), '{{builder}} {{result}}')], stack=true),
        g.timeseries('Build failure ratio by builder', 'Failed builds over all builds.', [g.target('sum by (builder) (rate(%s[$__rate_interval])) / sum by (builder) (rate(%s[$__rate_interval]))' % [series('count', ', result="failure"'), series('count')], '{{builder}}')], unit='percentunit'),
        g.timeseries('Builds per hour by project (top 10)', '', [g.target('topk(10, sum by (project) (rate(%s[$__rate_interval])) * 3600)' % series('count'), '{{project}}')]),
        g.timeseries('Failed builds per hour by project (top 10)', '', [g.target('topk(10, sum by (project) (rate(%s[$__rate_interval])) * 3600)' % series('count', ', result="failure"'), '{{project}}')]),

        g.row('Durations'),
        g.timeseries('Build time percentiles by builder', 'p50, p90 and p99 of the builds that ended.', percentileTargets('builder'), unit='s'),
        g.timeseries('Build time percentiles by project', 'p50, p90 and p99 of the builds that ended; filter with the project variable on a busy fleet.', percentileTargets('project'), unit='s'),
        g.table('Build time by project and builder', 'Percentiles, mean, count and failures of the builds that ended over the time range.', [
          g.target('histogram_quantile(%s, %s)' % [q, inRange('le, project, builder', series('bucket'))])
          for q in g.percentiles
        ] + [
          g.target('%s\n/\n%s' % [inRange('project, builder', series('sum')), inRange('project, builder', series('count'))]),
          g.target(inRange('project, builder', series('count'))),
          g.target(inRange('project, builder', series('count', ', result="failure"'))),
        ], unit='s', width=24, sortBy='p90', columns=['p50', 'p90', 'p99', 'Mean', 'Builds', 'Failed']) + {
          fieldConfig+: { overrides: [{ matcher: { id: 'byName', options: name }, properties: [{ id: 'unit', value: 'short' }] } for name in ['Builds', 'Failed']] },
        },
      ],
    ),
  },
}
