// Reading the exporter's counters over a window.
//
// The exporter creates a counter series the first time it counts a label set, so the series is
// born at 1 (or more), never at 0: increase() and rate() start from the first sample and never
// see that first increment. In a storm of one runner_system_failure in each of 30 projects, they
// see none at all. A series born inside the window is therefore counted by its value (the
// exporter never replays history, so that value holds only increments since the birth), and an
// older series by its increase(), which also handles the reset of an exporter restart. Set
// operators match ignoring __name__, so `or` takes each series from one side only.
//
// A series looks born whenever Prometheus has no sample of it a window ago, also when
// Prometheus had no sample of anything then (a fresh TSDB, a scrape outage): counting a
// counter's whole life then would be wrong, so a series counts as born only where the
// exporter's target was scraped successfully a window ago. Elsewhere increase() reads it.
{
  // One element per series of `selector` (a counter with its matchers): its increase over `window`.
  increase(config, selector, window)::
    |||
      (
        (%(x)s unless %(x)s offset %(w)s)
        and on (%(g)s) (up{%(up)s} offset %(w)s == 1)
      )
      or
      increase(%(x)s[%(w)s])
    ||| % { x: selector, w: window, g: config.groupLabels, up: config.exporterSelector },

  // sum by (`by`) of increase() (a plain sum when `by` is empty), indented for rule files.
  sumIncrease(config, by, selector, window)::
    '%s (\n%s)' % [if by == '' then 'sum' else 'sum by (%s)' % by, $.indent($.increase(config, selector, window), 2)],

  // The label names of a `by` list such as 'cluster, job'.
  labelList(labels)::
    [std.stripChars(label, ' ') for label in std.split(labels, ',') if std.stripChars(label, ' ') != ''],

  indent(text, spaces)::
    std.join('\n', [if line == '' then line else std.repeat(' ', spaces) + line for line in std.split(text, '\n')]),

  // Seconds in a Prometheus duration such as 30s, 10m or 1h30m.
  seconds(duration)::
    local units = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
    local isDigit(c) = std.member('0123456789', c);
    local step(acc, c) =
      if isDigit(c) && acc.unit != '' then { total: acc.total + std.parseInt(acc.number) * units[acc.unit], number: c, unit: '' }
      else if isDigit(c) then acc { number: acc.number + c }
      else acc { unit: acc.unit + c };
    local parsed = std.foldl(step, std.stringChars(duration), { total: 0, number: '', unit: '' });
    assert parsed.number != '' && std.objectHas(units, parsed.unit) : 'not a Prometheus duration: %s' % duration;
    parsed.total + std.parseInt(parsed.number) * units[parsed.unit],
}
