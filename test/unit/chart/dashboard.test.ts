// The Grafana dashboard: well-formed, covering the panels of the brief, and every PromQL expression parses
// (promtool checks each as a throwaway recording rule). That each one names only exported metrics and labels
// is checked against a running controller in test/integration/chart/install.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { promtool } from './helm.ts';
import { dashboardExpressions, readDashboard } from './monitoring.ts';
import { expressionRefs, substituteGrafanaVariables } from './promql.ts';

const dashboard = readDashboard();
const dir = mkdtempSync(join(tmpdir(), 'm87-dashboard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Grafana dashboard', () => {
  it('is a dashboard with unique panel ids, a Prometheus data source variable and no overlapping panels', () => {
    expect(dashboard.uid).toBe('m87-governance');
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource' }));
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('queries through the data source variable in every panel with targets', () => {
    for (const p of dashboard.panels.filter((x) => x.type !== 'row')) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${datasource}');
    }
  });

  it('covers decisions by outcome and rule, decision latency, approvals pending and wait, job results, topology and tripwire hits, notifications', () => {
    const metricsOf = (title: RegExp): string[] =>
      dashboard.panels
        .filter((p) => title.test(p.title))
        .flatMap((p) => (p.targets ?? []).flatMap((t) => expressionRefs(t.expr).selectors.map((s) => s.metric)));
    const grouped = (title: RegExp): string[] =>
      dashboard.panels.filter((p) => title.test(p.title)).flatMap((p) => (p.targets ?? []).flatMap((t) => expressionRefs(t.expr).groupingLabels));
    expect(grouped(/^Decisions by outcome$/)).toContain('outcome');
    expect(grouped(/^Findings by/)).toEqual(expect.arrayContaining(['rule', 'outcome']));
    expect(metricsOf(/^Decision latency$/)).toContain('m87_decision_duration_seconds_bucket');
    // Counted by the controller from its cache, not estimated from counters.
    expect(metricsOf(/^Approvals pending$/)).toEqual(['m87_approvals_pending']);
    expect(metricsOf(/^Approval wait$/)).toContain('m87_approval_wait_seconds_bucket');
    expect(grouped(/^Jobs by result$/)).toContain('result');
    expect(metricsOf(/^Jobs by result$/)).toContain('m87_jobs_total');
    expect(metricsOf(/[Tt]opology/)).toContain('m87_topology_hits_total');
    expect(metricsOf(/[Tt]ripwire/)).toContain('m87_tripwire_hits_total');
    expect(metricsOf(/^Notifications by event and result$/)).toEqual(['m87_notifications_total']);
    expect(grouped(/^Notifications by event and result$/)).toEqual(['event', 'result']);
  });

  it('has expressions that promtool parses', () => {
    const exprs = dashboardExpressions();
    expect(exprs.length).toBeGreaterThan(15);
    const rules = exprs.map((e, i) => ({ record: `m87:dashboard_expression_${i}`, expr: substituteGrafanaVariables(e.expr) }));
    const file = join(dir, 'dashboard-rules.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'm87-dashboard', rules }] }));
    const r = promtool(['check', 'rules', file]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});
