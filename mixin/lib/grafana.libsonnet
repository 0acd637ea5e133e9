// Small builders for Grafana dashboard JSON (schemaVersion 39): just what the mixin's dashboards
// use, so the mixin needs no vendored library.
local series = import 'series.libsonnet';
local datasource = { type: 'prometheus', uid: '${datasource}' };

// A link as Grafana's DashboardLink has it: to a URL, or a dropdown of the dashboards with tags.
local link(title, type, url='', tags=[], tooltip='', icon='external link', targetBlank=false, includeVars=false, keepTime=false) = {
  title: title,
  type: type,
  url: url,
  tags: tags,
  tooltip: tooltip,
  icon: icon,
  asDropdown: type == 'dashboards',
  targetBlank: targetBlank,
  includeVars: includeVars,
  keepTime: keepTime,
};

{
  datasourceVariable:: {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    current: { selected: false, text: 'default', value: 'default' },
    hide: 0,
    refresh: 1,
    regex: '',
    options: [],
  },

  // A multi-value variable over the values of `label` in the series `selector`.
  queryVariable(name, label, selector, labelName=name):: {
    name: name,
    label: label,
    type: 'query',
    datasource: datasource,
    query: { query: 'label_values(%s, %s)' % [selector, labelName], refId: 'variable-%s' % name },
    current: { selected: true, text: ['All'], value: ['$__all'] },
    includeAll: true,
    allValue: '.*',
    multi: true,
    refresh: 2,
    sort: 1,
    hide: 0,
    regex: '',
    options: [],
  },

  // One variable per group label (`_config.groupLabels`: job, or cluster and job), over the
  // exporter's targets, each narrowed by those before it.
  groupVariables(config)::
    local labels = series.groupLabels(config);
    local names = { job: 'Exporter job', cluster: 'Cluster' };
    [
      local before = [labels[j] for j in std.range(0, i - 1)];
      $.queryVariable(
        labels[i],
        if std.objectHas(names, labels[i]) then names[labels[i]] else labels[i],
        'up{%s}' % std.join(', ', [config.exporterSelector] + ['%s=~"$%s"' % [l, l] for l in before]),
      )
      for i in std.range(0, std.length(labels) - 1)
    ],

  // A panel link to the runbook of an alert the panel watches.
  runbookLink(config, alert):: {
    links+: [link('Runbook: %s' % alert, 'link', config.runbookURLPattern % std.asciiLower(alert), tooltip='What the alert means and the first three things to check', icon='doc', targetBlank=true)],
  },

  // A panel link to another of the mixin's dashboards, with the time range and the variables.
  dashboardLink(config, uid, title):: {
    links+: [link(title, 'link', '/d/%s' % (config.dashboardUIDPrefix + uid), tooltip='Open %s%s' % [config.dashboardNamePrefix, title], icon='dashboard', includeVars=true, keepTime=true)],
  },

  // Whole numbers: counts read over a range (increase() extrapolates, so they are rounded) show
  // no decimals.
  wholeNumbers:: { fieldConfig+: { defaults+: { decimals: 0 } } },

  // Quantiles as PromQL writes them ('0.9', not the float 0.9 that formats as 0.90000000000000002),
  // and their names (p90).
  percentiles:: ['0.5', '0.9', '0.99'],
  percentileName(q)::
    local digits = std.substr(q, 2, std.length(q) - 2);
    'p' + (if std.length(digits) == 1 then digits + '0' else digits),

  target(expr, legend='', instant=false):: {
    datasource: datasource,
    expr: expr,
    legendFormat: legend,
    [if instant then 'instant']: true,
    [if instant then 'format']: 'table',
    [if !instant then 'range']: true,
  },

  local panel(type, title, description, targets, unit, width, height) = {
    type: type,
    title: title,
    description: description,
    datasource: datasource,
    targets: [t { refId: std.char(std.codepoint('A') + i) } for i in std.range(0, std.length(targets) - 1) for t in [targets[i]]],
    fieldConfig: { defaults: { unit: unit }, overrides: [] },
    options: {},
    gridPos: { w: width, h: height },
  },

  timeseries(title, description, targets, unit='short', width=12, height=8, stack=false)::
    panel('timeseries', title, description, targets, unit, width, height) + {
      fieldConfig+: {
        defaults+: {
          custom: {
            drawStyle: 'line',
            lineWidth: 1,
            fillOpacity: if stack then 30 else 10,
            showPoints: 'never',
            spanNulls: false,
            stacking: { mode: if stack then 'normal' else 'none', group: 'A' },
          },
        },
      },
      options: {
        legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['lastNotNull', 'max'] },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
    },

  // thresholds: [[value, color], ...] above baseColor.
  stat(title, description, targets, unit='short', width=6, height=4, thresholds=null, baseColor='green')::
    panel('stat', title, description, targets, unit, width, height) + {
      fieldConfig+: {
        defaults+: {
          [if thresholds != null then 'thresholds']: {
            mode: 'absolute',
            steps: [{ color: baseColor, value: null }] + [{ color: s[1], value: s[0] } for s in thresholds],
          },
        },
      },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: 'value',
        graphMode: 'area',
        textMode: 'auto',
      },
    },

  // Instant queries, one row per series, labels as columns. With several targets, `columns`
  // names their values and the rows of the same labels are merged.
  table(title, description, targets, unit='short', width=12, height=8, sortBy=null, columns=[], descending=true)::
    local named = std.length(columns) > 0;
    assert !named || std.length(columns) == std.length(targets) : '%s: one column name per target' % title;
    panel('table', title, description, [t { instant: true, format: 'table' } + { range:: null } for t in targets], unit, width, height) + {
      options: { showHeader: true, sortBy: [{ displayName: if sortBy != null then sortBy else if named then columns[0] else 'Value', desc: descending }] },
      transformations: (if named then [{ id: 'merge', options: {} }] else []) + [
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true },
            renameByName: if named then { ['Value #%s' % std.char(std.codepoint('A') + i)]: columns[i] for i in std.range(0, std.length(columns) - 1) } else {},
          },
        },
      ],
    },

  row(title):: {
    type: 'row',
    title: title,
    collapsed: false,
    panels: [],
    gridPos: { w: 24, h: 1 },
  },

  // Places the panels left to right, wrapping at the 24-column width, and numbers them.
  local place(panels) = std.foldl(
    function(acc, p)
      local fits = acc.x + p.gridPos.w <= 24 && p.type != 'row';
      local x = if fits then acc.x else 0;
      local y = if fits then acc.y else acc.y + acc.rowHeight;
      {
        x: x + p.gridPos.w,
        y: y,
        rowHeight: if fits then std.max(acc.rowHeight, p.gridPos.h) else p.gridPos.h,
        panels: acc.panels + [p { id: std.length(acc.panels) + 1, gridPos+: { x: x, y: y } }],
      },
    panels,
    { x: 24, y: 0, rowHeight: 0, panels: [] },
  ).panels,

  dashboard(config, uid, title, description, variables, panels):: {
    uid: config.dashboardUIDPrefix + uid,
    title: config.dashboardNamePrefix + title,
    description: description,
    tags: config.dashboardTags,
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: config.dashboardRefresh,
    timezone: config.dashboardTimezone,
    time: { from: config.dashboardTimeFrom, to: 'now' },
    timepicker: {},
    fiscalYearStartMonth: 0,
    liveNow: false,
    // The other dashboards, keeping the time range and the variables; the alerts' runbooks.
    links: [
      link('GitLab CI', 'dashboards', tags=config.dashboardTags, includeVars=true, keepTime=true),
      link('Runbooks', 'link', std.strReplace(config.runbookURLPattern, '#%s', ''), tooltip='One section per alert of the mixin', icon='doc', targetBlank=true),
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    templating: { list: [$.datasourceVariable] + $.groupVariables(config) + variables },
    panels: place(panels),
  },
}
