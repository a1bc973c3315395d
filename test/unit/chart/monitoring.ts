// The chart's PromQL: the dashboard's panel expressions and the PrometheusRule's alerts, for the unit tests
// (they parse, alerts behave) and the integration test (they name only what the controller exports).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHART_DIR, CI_VALUES_DIR, findObject, renderChart } from './helm.ts';

export const DASHBOARD_FILE = join(CHART_DIR, 'dashboards', 'm87.json');

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; refId: string; datasource?: { uid: string } }[];
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string }[] };
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

export function dashboardExpressions(): { where: string; expr: string }[] {
  return readDashboard().panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `dashboard panel "${p.title}" ${t.refId}`, expr: t.expr })));
}

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: Rule[];
}

/** The PrometheusRule's groups as rendered with every monitoring flag on (ci/monitoring-values.yaml). */
export function renderedRuleGroups(): RuleGroup[] {
  const rendered = renderChart({ valuesFiles: [join(CI_VALUES_DIR, 'monitoring-values.yaml')] });
  return (findObject(rendered, 'PrometheusRule', 'm87-controller').spec as { groups: RuleGroup[] }).groups;
}

export function alertExpressions(): { where: string; expr: string }[] {
  return renderedRuleGroups().flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert ?? r.record ?? '?'}`, expr: r.expr })));
}
