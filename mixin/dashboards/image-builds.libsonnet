local counters = import '../lib/counters.libsonnet';
local g = import '../lib/grafana.libsonnet';
local series = import '../lib/series.libsonnet';

{
  local c = $._config,
  local exporter = '%s, %s' % [c.exporterSelector, series.groupFilter(c)],
  local sel = '%s, builder=~"$builder", project=~"$project"' % exporter,
  local metric = 'gitlab_ci_image_build_duration_seconds',
  local part(suffix, extra='') = '%s_%s{%s%s}' % [metric, suffix, sel, extra],
  // Counts over the time range, a label set's first build included (lib/counters.libsonnet).
  local inRange(by, selector) = counters.sumIncrease(c, by, selector, '$__range'),
  // A count over the time range, whole, and 0 when nothing was counted.
  local countInRange(selector) = 'round(\n%s\n) or vector(0)' % inRange('', selector),
  local percentileTargets(by) = [
    g.target('histogram_quantile(%s, sum by (le, %s) (rate(%s[$__rate_interval])))' % [q, by, part('bucket')], '%s {{%s}}' % [g.percentileName(q), by])
    for q in g.percentiles
  ],

  grafanaDashboards+:: {
    'gitlab-ci-image-builds.json': g.dashboard(
      c,
      'image-builds',
      'Image builds',
      'Run time of image builder containers (Kaniko and its forks, BuildKit, Buildah) in CI job pods and Kubernetes Jobs; project is empty for builds outside CI job pods.',
      [
        g.queryVariable('builder', 'Builder', '%s_count{%s}' % [metric, exporter]),
        g.queryVariable('project', 'Project', '%s_count{%s, builder=~"$builder"}' % [metric, exporter]),
      ],
      [
        g.row('Builds'),
        g.stat('Builds in range', 'Builds that ended over the time range.', [g.target(countInRange(part('count')))]) + g.wholeNumbers,
        g.stat('Failed builds in range', 'Builds whose container exited non-zero.', [g.target(countInRange(part('count', ', result="failure"')))], thresholds=[[1, 'orange']]) + g.wholeNumbers,
        g.stat('Median build time in range', '', [g.target('histogram_quantile(0.5, %s)' % inRange('le', part('bucket')))], unit='s'),
        g.stat('p90 build time in range', '', [g.target('histogram_quantile(0.9, %s)' % inRange('le', part('bucket')))], unit='s'),
        g.timeseries('Builds per hour by builder and result', '', [g.target('sum by (builder, result) (rate(%s[$__rate_interval])) * 3600' % part('count'), '{{builder}} {{result}}')], stack=true),
        g.timeseries('Build failure ratio by builder', 'Failed builds over all builds.', [g.target('sum by (builder) (rate(%s[$__rate_interval])) / sum by (builder) (rate(%s[$__rate_interval]))' % [part('count', ', result="failure"'), part('count')], '{{builder}}')], unit='percentunit'),
        g.timeseries('Builds per hour by project (top 10)', '', [g.target('topk(10, sum by (project) (rate(%s[$__rate_interval])) * 3600)' % part('count'), '{{project}}')]),
        g.timeseries('Failed builds per hour by project (top 10)', '', [g.target('topk(10, sum by (project) (rate(%s[$__rate_interval])) * 3600)' % part('count', ', result="failure"'), '{{project}}')]),

        g.row('Durations'),
        g.timeseries('Build time percentiles by builder', 'p50, p90 and p99 of the builds that ended.', percentileTargets('builder'), unit='s'),
        g.timeseries('Build time percentiles by project', 'p50, p90 and p99 of the builds that ended; filter with the project variable on a busy fleet.', percentileTargets('project'), unit='s'),
        g.table('Build time by project and builder', 'Percentiles, mean, count and failures of the builds that ended over the time range.', [
          g.target('histogram_quantile(%s, %s)' % [q, inRange('le, project, builder', part('bucket'))])
          for q in g.percentiles
        ] + [
          g.target('%s\n/\n%s' % [inRange('project, builder', part('sum')), inRange('project, builder', part('count'))]),
          g.target('round(\n%s\n)' % inRange('project, builder', part('count'))),
          g.target('round(\n%s\n)' % inRange('project, builder', part('count', ', result="failure"'))),
        ], unit='s', width=24, sortBy='p90', columns=['p50', 'p90', 'p99', 'Mean', 'Builds', 'Failed']) + {
          fieldConfig+: { overrides: [{ matcher: { id: 'byName', options: name }, properties: [{ id: 'unit', value: 'short' }, { id: 'decimals', value: 0 }] } for name in ['Builds', 'Failed']] },
        },
      ],
    ),
  },
}
