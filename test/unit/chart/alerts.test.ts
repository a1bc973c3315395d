// The chart's alerts: `promtool check rules` on the rendered PrometheusRule, and `promtool test rules` with
// alerts.promtool.yaml, which must make every alert fire somewhere and stay quiet somewhere.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { promtool } from './helm.ts';
import { renderedRuleGroups } from './monitoring.ts';

interface PromtoolTests {
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const TEST_FILE = join(import.meta.dirname, 'alerts.promtool.yaml');
const dir = mkdtempSync(join(tmpdir(), 'm87-alerts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const groups = renderedRuleGroups();
const alertNames = groups.flatMap((g) => g.rules.flatMap((r) => (r.alert !== undefined ? [r.alert] : [])));

describe('PrometheusRule', () => {
  it('passes promtool check rules (expressions and annotation templates)', () => {
    const file = join(dir, 'rules-full.yaml');
    writeFileSync(file, stringify({ groups }));
    const r = promtool(['check', 'rules', file]);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('passes promtool test rules', () => {
    // Annotations are left out of the behavioural test: their text embeds humanized values that would have
    // to be repeated verbatim; their templates are covered by `check rules` above.
    const bare = groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _annotations, ...rule }) => rule) }));
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: bare }));
    copyFileSync(TEST_FILE, join(dir, 'tests.yaml'));
    const r = promtool(['test', 'rules', 'tests.yaml'], dir);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  it('has a case where each alert fires and one where it does not', () => {
    const tests = (parse(readFileSync(TEST_FILE, 'utf8')) as PromtoolTests).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    expect(alertNames.length).toBeGreaterThanOrEqual(5);
    for (const name of alertNames) {
      expect(cases.some((c) => c.alertname === name && c.exp_alerts.length > 0), `${name} fires in some case`).toBe(true);
      expect(cases.some((c) => c.alertname === name && c.exp_alerts.length === 0), `${name} stays quiet in some case`).toBe(true);
    }
    // And no test names an alert the chart does not render.
    for (const c of cases) expect(alertNames, c.alertname).toContain(c.alertname);
  });

  it('labels every alert with a severity and documents it', () => {
    for (const g of groups) {
      for (const r of g.rules) {
        expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning|info)$/);
        expect(r.annotations?.summary, r.alert).toBeTruthy();
        expect(r.annotations?.description, r.alert).toBeTruthy();
      }
    }
  });
});
