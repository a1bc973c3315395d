// The security matrix: what each identity may do to each kind, as designed and as observed against a real
// API server. Pure: classifying API responses and rendering docs/security-matrix.md.

/**
 * allowed: the request succeeded. denied:rbac: the authorizer refused it. denied:admission:<policy>: the named
 * ValidatingAdmissionPolicy refused it. denied:immutable: the CRD's `self == oldSelf` rule refused it.
 * denied:pod-security: Pod Security admission refused it.
 */
export type Outcome = 'allowed' | 'denied:rbac' | `denied:admission:${string}` | 'denied:immutable' | 'denied:pod-security';

export interface Observation {
  /** What happened; 'error' for anything that is none of the outcomes (a broken test, not a verdict). */
  outcome: Outcome | 'error';
  /** HTTP status. */
  status: number;
  /** The API server's message (empty on success). */
  message: string;
}

export interface MatrixCell {
  identity: string;
  verb: string;
  kind: string;
  /** What exactly was tried, in words. */
  case: string;
  expected: Outcome;
  observed: Observation;
}

const VAP_MESSAGE = /ValidatingAdmissionPolicy '([^']+)' with binding '[^']+' denied request/;
const RBAC_MESSAGE = /is forbidden: User "[^"]*" cannot /;

/** Classifies an API response by status and Kubernetes Status message. */
export function classify(status: number, message: string): Outcome | 'error' {
  if (status >= 200 && status < 300) return 'allowed';
  if (status === 403) {
    const vap = VAP_MESSAGE.exec(message);
    if (vap) return `denied:admission:${vap[1] ?? ''}`;
    if (RBAC_MESSAGE.test(message)) return 'denied:rbac';
    if (message.includes('violates PodSecurity')) return 'denied:pod-security';
  }
  if (status === 422 && message.includes('spec is immutable')) return 'denied:immutable';
  return 'error';
}

export function matches(cell: MatrixCell): boolean {
  return cell.observed.outcome === cell.expected;
}

export function describeOutcome(outcome: Outcome | 'error'): string {
  if (outcome === 'allowed') return 'allowed';
  if (outcome === 'denied:rbac') return 'denied (RBAC)';
  if (outcome === 'denied:immutable') return 'denied (CRD: spec immutable)';
  if (outcome === 'denied:pod-security') return 'denied (Pod Security)';
  if (outcome === 'error') return 'ERROR';
  return `denied (VAP ${outcome.slice('denied:admission:'.length)})`;
}

/** Short form for a table cell. */
export function shortOutcome(outcome: Outcome | 'error'): string {
  if (outcome === 'allowed') return 'allow';
  if (outcome === 'denied:rbac') return 'RBAC';
  if (outcome === 'denied:immutable') return 'immutable';
  if (outcome === 'denied:pod-security') return 'PSA';
  if (outcome === 'error') return 'ERROR';
  return `VAP ${outcome.slice('denied:admission:m87-'.length)}`;
}

export interface IdentityDescription {
  name: string;
  description: string;
}

export interface MatrixDocument {
  title: string;
  /** Paragraphs above the tables (how the matrix was produced). */
  intro: string[];
  identities: readonly IdentityDescription[];
  cells: readonly MatrixCell[];
  /** Literal strings (random namespace names) to replace with stable placeholders, e.g. [name, '<job-ns>']. */
  placeholders?: readonly (readonly [string, string])[];
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/**
 * Markdown for docs/security-matrix.md: a summary, the identities, a legend, then one table per kind with a
 * row per (verb, case) and a column per identity. A cell shows the observed outcome and ✓ when it is the
 * expected one, or ✗ with the expectation when it is not.
 */
export function renderMatrixMarkdown(doc: MatrixDocument): string {
  const replace = (text: string): string => (doc.placeholders ?? []).reduce((t, [from, to]) => t.split(from).join(to), text);
  const cells = doc.cells;
  const count = (pred: (c: MatrixCell) => boolean): number => cells.filter(pred).length;
  const mismatches = cells.filter((c) => !matches(c));
  const lines: string[] = [`# ${doc.title}`, '', ...doc.intro.flatMap((p) => [p, ''])];
  lines.push(
    `**${cells.length} checks**: ${count((c) => c.observed.outcome === 'allowed')} allowed, ` +
      `${count((c) => c.observed.outcome === 'denied:rbac')} denied by RBAC, ` +
      `${count((c) => c.observed.outcome.startsWith('denied:admission:'))} denied by admission policies, ` +
      `${count((c) => c.observed.outcome === 'denied:immutable')} denied by CRD immutability, ` +
      `${count((c) => c.observed.outcome === 'denied:pod-security')} denied by Pod Security; ` +
      (mismatches.length === 0 ? '**every observation matched the design**.' : `**${mismatches.length} did not match the design** (marked ✗).`),
    '',
    '## Identities',
    '',
    '| Identity | Who it is |',
    '|---|---|',
    ...doc.identities.map((i) => `| ${i.name} | ${escapeCell(replace(i.description))} |`),
    '',
    '## Legend',
    '',
    'Each cell is the observed outcome, then ✓ if it is the designed one (✗ and the designed outcome otherwise). ' +
      '`allow`: the request succeeded. `RBAC`: refused by the authorizer (403). `VAP <name>`: refused by the ValidatingAdmissionPolicy ' +
      '`m87-<name>` (403). `immutable`: refused by the CRD rule `self == oldSelf` on spec (422). `PSA`: refused by Pod Security admission. ' +
      '`–`: not tried for that identity.',
    '',
  );
  const known = doc.identities.map((i) => i.name);
  for (const kind of [...new Set(cells.map((c) => c.kind))]) {
    const ofKind = cells.filter((c) => c.kind === kind);
    const columns = [...known, ...new Set(ofKind.map((c) => c.identity).filter((id) => !known.includes(id)))].filter((id) =>
      ofKind.some((c) => c.identity === id),
    );
    lines.push(`## ${kind}`, '', `| Verb | Case | ${columns.join(' | ')} |`, `|---|---|${columns.map(() => '---').join('|')}|`);
    const rows = [...new Set(ofKind.map((c) => `${c.verb}\u0000${c.case}`))];
    for (const row of rows) {
      const [verb = '', what = ''] = row.split('\u0000');
      const inRow = ofKind.filter((c) => c.verb === verb && c.case === what);
      const cellText = (id: string): string => {
        const c = inRow.find((x) => x.identity === id);
        if (c === undefined) return '–';
        return matches(c) ? `${shortOutcome(c.observed.outcome)} ✓` : `${shortOutcome(c.observed.outcome)} ✗ (expected ${shortOutcome(c.expected)})`;
      };
      lines.push(`| ${verb} | ${escapeCell(replace(what))} | ${columns.map(cellText).join(' | ')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
