/**
 * The monitoring files in deploy/: the Prometheus scrape configuration, the alerting rules and their unit tests are
 * checked with promtool, and every metric the rules and the Grafana dashboard query must be one the relay exports
 * (docs/metrics.md), so the three cannot drift apart.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireBinary } from '../relay/require-binary.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const prometheusDir = join(root, 'deploy/prometheus');
const configFile = join(prometheusDir, 'prometheus.yml');
const rulesFile = join(prometheusDir, 'alerts.yml');
const rulesTestFile = join(prometheusDir, 'alerts.test.yml');
const dashboardFile = join(root, 'deploy/grafana/oppie-relay.json');
const metricsDoc = join(root, 'docs/metrics.md');

/** Series Prometheus makes itself for every scrape target; not exported by the relay, so not in docs/metrics.md. */
const PROMETHEUS_SERIES: Record<string, readonly string[]> = { up: ['job', 'instance'] };
/** Labels every scraped series carries (added by Prometheus), and the histogram bucket bound. */
const TARGET_LABELS = new Set(['job', 'instance']);

interface Documented {
  /** Exact series names (histograms expanded to _bucket, _sum, _count) and their labels. */
  series: Map<string, Set<string>>;
  /** Families documented by prefix (`oppie_relay_process_*`): any name under them is accepted, labels unchecked. */
  prefixes: string[];
}

/** The metrics table of docs/metrics.md: `| \`name\` | type | \`label\`, ... | meaning |`. */
function parseMetricsDoc(text: string): Documented {
  const series = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^\| `([a-z_:][a-z0-9_:]*)` \| (counter|gauge|histogram|summary) \| ([^|]*) \|/gm)) {
    const [, name = '', type, labelCell = ''] = m;
    const labels = new Set([...labelCell.matchAll(/`([a-zA-Z_][a-zA-Z0-9_]*)`/g)].map((l) => l[1] ?? ''));
    if (type === 'histogram') {
      series.set(`${name}_bucket`, new Set([...labels, 'le']));
      series.set(`${name}_sum`, labels);
      series.set(`${name}_count`, labels);
    } else if (type === 'summary') {
      series.set(name, new Set([...labels, 'quantile']));
      series.set(`${name}_sum`, labels);
      series.set(`${name}_count`, labels);
    } else {
      series.set(name, labels);
    }
  }
  // `oppie_relay_*` names the namespace of the whole table, not a family: only prefixes that cover no table row
  // (the process and Node.js metrics) are families.
  const prefixes = [...text.matchAll(/`([a-z_:][a-z0-9_:]*_)\*`/g)]
    .map((m) => m[1] ?? '')
    .filter((p) => ![...series.keys()].some((name) => name.startsWith(p)));
  return { series, prefixes };
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'inf',
  'nan',
]);

interface SeriesUse {
  name: string;
  /** Label names in the selector's matchers (`{path="relay"}` gives path). */
  labels: string[];
}

/**
 * The series a PromQL expression selects, with the labels its matchers name. Not a full parser: strings, matchers,
 * ranges, grouping clauses, numbers, durations and Grafana variables are removed, and what remains that is not a
 * keyword or a function call is a series name. Grafana's `label_values(selector, label)` is read as its selector.
 */
function seriesIn(expr: string): SeriesUse[] {
  const uses: SeriesUse[] = [];
  const labelValues = /^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$/s.exec(expr);
  const source = labelValues?.[1] ?? expr;
  // Strings first, so braces, brackets and parentheses inside label values cannot confuse the steps below.
  const noStrings = source.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  const withSelectors = noStrings.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g, (_all, name, matchers) => {
    const labels = [...(matchers as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(
      (l) => l[1] ?? '',
    );
    const named = labels.includes('__name__');
    if (named) throw new Error(`selector by __name__ is not checked: ${expr}`);
    if (name !== undefined) uses.push({ name, labels });
    return ' ';
  });
  const rest = withSelectors
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?[\w$]+/g, ' ')
    .replace(/\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?/g, ' ') // Grafana variables
    .replace(/(?<![a-zA-Z0-9_:])[0-9][a-zA-Z0-9_.]*/g, ' '); // numbers and durations
  for (const m of rest.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = rest.slice((m.index ?? 0) + word.length);
    if (KEYWORDS.has(word.toLowerCase()) || /^\s*\(/.test(after)) continue;
    uses.push({ name: word, labels: [] });
  }
  return uses;
}

/**
 * The `expr:` values of a rules file. A small reader for the layout alerts.yml uses (a block scalar `expr: |` or an
 * inline value), so the test needs no YAML library; every `- alert:` / `- record:` must have found its expression.
 */
function ruleExpressions(yamlText: string): string[] {
  const lines = yamlText.split('\n');
  const exprs: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i] ?? '');
    if (!m) continue;
    const indent = (m[1] ?? '').length;
    const inline = (m[2] ?? '').replace(/\s+#.*$/, '').trim();
    if (/^[|>][-+]?$/.test(inline)) {
      const body: string[] = [];
      const inBlock = (line: string) => line.trim() === '' || line.length - line.trimStart().length > indent;
      while (i + 1 < lines.length && inBlock(lines[i + 1] ?? '')) body.push((lines[++i] ?? '').trim());
      exprs.push(body.join('\n').trim());
    } else {
      exprs.push(inline.replace(/^(['"])(.*)\1$/, '$2'));
    }
  }
  const rules = lines.filter((l) => /^\s*-\s*(alert|record):/.test(l)).length;
  if (rules !== exprs.length) throw new Error(`found ${exprs.length} expr for ${rules} rules`);
  return exprs;
}

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every PromQL expression of the dashboard: panel targets (rows included) and query variables. */
function dashboardExpressions(dashboard: {
  panels?: Panel[];
  templating?: { list?: { type?: string; query?: unknown; definition?: string }[] };
}): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (panels: Panel[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? [])
        if (t.expr !== undefined) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    if (q) out.push({ where: 'variable', expr: q });
  }
  return out;
}

function undocumented(doc: Documented, where: string, expr: string): string[] {
  const problems: string[] = [];
  for (const { name, labels } of seriesIn(expr)) {
    const known = doc.series.get(name) ?? (PROMETHEUS_SERIES[name] ? new Set(PROMETHEUS_SERIES[name]) : undefined);
    if (known === undefined) {
      if (!doc.prefixes.some((p) => name.startsWith(p))) problems.push(`${where}: ${name} is not in docs/metrics.md`);
      continue;
    }
    for (const l of labels) {
      if (!known.has(l) && !TARGET_LABELS.has(l))
        problems.push(`${where}: ${name} has no label ${l} in docs/metrics.md`);
    }
  }
  return problems;
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const hasPromtool = requireBinary('promtool', 'apt-get install prometheus (Debian: ships /usr/bin/promtool)');

describe('deploy/prometheus with promtool', () => {
  it.skipIf(!hasPromtool)('promtool check config accepts prometheus.yml and the rule files it loads', () => {
    const r = promtool('check', 'config', configFile);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it.skipIf(!hasPromtool)('promtool check rules accepts alerts.yml', () => {
    const r = promtool('check', 'rules', rulesFile);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it.skipIf(!hasPromtool)('promtool test rules passes the unit tests of every alert', () => {
    const r = promtool('test', 'rules', rulesTestFile);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
    // Every alert of alerts.yml has unit tests: at least one where it fires and one where it must stay quiet.
    const alerts = [...readFileSync(rulesFile, 'utf8').matchAll(/^\s*-\s*alert:\s*(\S+)/gm)].map((m) => m[1]);
    expect(alerts.length).toBeGreaterThanOrEqual(4);
    const tested = readFileSync(rulesTestFile, 'utf8');
    for (const a of alerts) {
      expect(tested, `${a} never fires in a test`).toMatch(
        new RegExp(`alertname: ${a}\\s+exp_alerts:\\s*\\n\\s+- exp_labels:`),
      );
      expect(tested, `${a} has no must-not-fire test`).toMatch(new RegExp(`alertname: ${a}\\s+exp_alerts: \\[\\]`));
    }
  });

  it.skipIf(!hasPromtool)('every dashboard expression is valid PromQL', () => {
    // Grafana's variables replaced by values Prometheus accepts, each expression as a recording rule.
    const exprs = dashboardExpressions(JSON.parse(readFileSync(dashboardFile, 'utf8')))
      .filter((e) => e.where !== 'variable')
      .map((e) =>
        e.expr
          .replaceAll('$__rate_interval', '5m')
          .replaceAll('$__interval', '1m')
          .replaceAll('$job', 'oppie-relay')
          .replaceAll('$instance', '.*'),
      );
    expect(exprs.length).toBeGreaterThan(10);
    const rules = exprs.map((e, i) => `      - record: dashboard:expr_${i}\n        expr: ${JSON.stringify(e)}`);
    const dir = mkdtempSync(join(tmpdir(), 'oppie-dashboard-'));
    try {
      const file = join(dir, 'dashboard-rules.yml');
      writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const r = promtool('check', 'rules', file);
      expect(r.status, r.output).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metric names in the rules and the dashboard are documented', () => {
  const doc = parseMetricsDoc(readFileSync(metricsDoc, 'utf8'));

  it('reads docs/metrics.md', () => {
    expect(doc.series.size).toBeGreaterThan(20);
    expect(doc.series.get('oppie_relay_sessions_by_path')).toEqual(new Set(['path']));
    expect(doc.series.get('oppie_relay_delivery_latency_seconds_bucket')).toEqual(new Set(['priority', 'le']));
    expect(doc.prefixes.sort()).toEqual(['oppie_relay_nodejs_', 'oppie_relay_process_']);
  });

  it('extracts series from PromQL', () => {
    expect(
      seriesIn(
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{job="x", priority=~"h{1}"}[$__rate_interval]))) ' +
          '/ on (instance) group_left b offset 5m or vector(0) > bool 1e3 and absent(up{job="y"})',
      ),
    ).toEqual([
      { name: 'a_bucket', labels: ['job', 'priority'] },
      { name: 'up', labels: ['job'] },
      { name: 'b', labels: [] },
    ]);
    expect(seriesIn('label_values(up{job="$job"}, instance)')).toEqual([{ name: 'up', labels: ['job'] }]);
    expect(undocumented(doc, 'x', 'rate(oppie_relay_envelopes_total{typo="in"}[5m]) + oppie_relay_nope')).toEqual([
      'x: oppie_relay_envelopes_total has no label typo in docs/metrics.md',
      'x: oppie_relay_nope is not in docs/metrics.md',
    ]);
  });

  it('alerts.yml uses only documented metrics and labels', () => {
    const exprs = ruleExpressions(readFileSync(rulesFile, 'utf8'));
    expect(exprs.length).toBeGreaterThanOrEqual(4);
    const names = new Set(exprs.flatMap((e) => seriesIn(e).map((s) => s.name)));
    for (const required of [
      'oppie_relay_fallback_ratio',
      'oppie_relay_auth_failures_total',
      'oppie_relay_queue_drops_total',
      'up',
    ]) {
      expect(names).toContain(required);
    }
    expect(exprs.flatMap((e, i) => undocumented(doc, `alerts.yml rule ${i + 1}`, e))).toEqual([]);
  });

  it('the Grafana dashboard is valid JSON with a datasource variable and uses only documented metrics', () => {
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8'));
    const variables: { name: string; type: string; query: unknown }[] = dashboard.templating.list;
    expect(variables).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    // Every panel and target queries through the variable, never a fixed datasource uid.
    const uids = [...JSON.stringify(dashboard.panels).matchAll(/"uid":"([^"]*)"/g)].map((m) => m[1]);
    expect(uids.length).toBeGreaterThan(10);
    expect(new Set(uids)).toEqual(new Set(['$' + '{datasource}']));
    const exprs = dashboardExpressions(dashboard);
    const names = new Set(exprs.flatMap((e) => seriesIn(e.expr).map((s) => s.name)));
    for (const required of [
      'oppie_relay_connections',
      'oppie_relay_envelopes_total',
      'oppie_relay_delivery_latency_seconds_bucket',
      'oppie_relay_queue_depth',
      'oppie_relay_queue_drops_total',
      'oppie_relay_sessions_by_path',
      'oppie_relay_fallback_ratio',
      'oppie_relay_transport_reports_total',
    ]) {
      expect(names).toContain(required);
    }
    expect(exprs.flatMap((e) => undocumented(doc, e.where, e.expr))).toEqual([]);
  });
});
