/**
 * The metric names a PromQL expression (or a Grafana `label_values(...)` query) reads. A small
 * lexer rather than a parser: it drops strings, label matchers, ranges and label lists, then keeps
 * the identifiers that are neither functions, keywords nor numbers.
 */
const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "inf", "nan"]);

export function metricNames(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    // label_values(metric, label): the second argument is a label.
    .replace(/\blabel_values\s*\(([^,()]*),[^)]*\)/g, " $1 ");
  const names = new Set<string>();
  for (const match of text.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    const after = text.slice(match.index + name.length).trimStart();
    const before = text.slice(0, match.index);
    if (after.startsWith("(")) continue; // a function
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (/\$$|\$\{$/.test(before)) continue; // a Grafana variable such as $__range
    if (/[0-9.]$/.test(before)) continue; // a number's exponent or unit, as in 1e3
    names.add(name);
  }
  return [...names].sort();
}
