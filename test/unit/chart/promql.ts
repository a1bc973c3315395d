// Just enough PromQL reading for the chart tests: which metric names an expression selects, with which
// label matchers, and which labels it groups by. Parsing proper (is it valid PromQL?) is promtool's job;
// this only has to be right for expressions promtool accepts.

/** Grafana's built-in interval variables, replaced by durations so the expression is plain PromQL. */
export function substituteGrafanaVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replaceAll('$__range', '1h');
}

export interface LabelMatcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface Selector {
  metric: string;
  matchers: LabelMatcher[];
}

export interface ExpressionRefs {
  selectors: Selector[];
  /** Labels named in by(...), without(...), on(...), ignoring(...), group_left(...), group_right(...). */
  groupingLabels: string[];
}

type Token =
  | { kind: 'ident'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'number'; text: string }
  | { kind: 'punct'; text: string };

const AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile',
  'limitk', 'limit_ratio',
]);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let text = '';
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === '\\' && c !== '`') {
          text += expr[j + 1] ?? '';
          j += 2;
        } else {
          text += expr[j];
          j++;
        }
      }
      if (j >= expr.length) throw new Error(`unterminated string in ${JSON.stringify(expr)}`);
      tokens.push({ kind: 'string', text });
      i = j + 1;
    } else if (/[0-9.]/.test(c)) {
      const m = /^(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?(?:(?:ms|[smhdwy])(?:[0-9]+(?:ms|[smhdwy]))*)?)/.exec(expr.slice(i));
      if (!m || m[0] === '') throw new Error(`cannot read a number at ${i} in ${JSON.stringify(expr)}`);
      tokens.push({ kind: 'number', text: m[0] });
      i += m[0].length;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
      const text = m?.[0] ?? c;
      tokens.push({ kind: 'ident', text });
      i += text.length;
    } else {
      const two = expr.slice(i, i + 2);
      if (['!=', '=~', '!~', '==', '>=', '<='].includes(two)) {
        tokens.push({ kind: 'punct', text: two });
        i += 2;
      } else {
        tokens.push({ kind: 'punct', text: c });
        i++;
      }
    }
  }
  return tokens;
}

/** Metric selectors and grouping labels of one PromQL expression (Grafana variables substituted first). */
export function expressionRefs(rawExpr: string): ExpressionRefs {
  const tokens = tokenize(substituteGrafanaVariables(rawExpr));
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  let i = 0;
  const peek = (k = 0): Token | undefined => tokens[i + k];
  while (i < tokens.length) {
    const t = tokens[i];
    if (t === undefined) break;
    if (t.kind === 'punct' && t.text === '[') {
      // Range or subquery: durations only.
      while (i < tokens.length && !(tokens[i]?.kind === 'punct' && tokens[i]?.text === ']')) i++;
      i++;
      continue;
    }
    if (t.kind !== 'ident') {
      i++;
      continue;
    }
    const next = peek(1);
    if (GROUPING.has(t.text) && next?.kind === 'punct' && next.text === '(') {
      i += 2;
      while (i < tokens.length && !(tokens[i]?.kind === 'punct' && tokens[i]?.text === ')')) {
        const l = tokens[i];
        if (l?.kind === 'ident') groupingLabels.push(l.text);
        i++;
      }
      i++;
      continue;
    }
    if (KEYWORDS.has(t.text) || AGGREGATIONS.has(t.text) || (next?.kind === 'punct' && next.text === '(')) {
      i++;
      continue;
    }
    // A metric name, optionally followed by {matchers}.
    const selector: Selector = { metric: t.text, matchers: [] };
    i++;
    if (peek()?.kind === 'punct' && peek()?.text === '{') {
      i++;
      while (i < tokens.length && !(tokens[i]?.kind === 'punct' && tokens[i]?.text === '}')) {
        const label = tokens[i];
        const op = tokens[i + 1];
        const value = tokens[i + 2];
        if (label?.kind !== 'ident' || op?.kind !== 'punct' || value?.kind !== 'string') {
          throw new Error(`cannot read the matchers of ${t.text} in ${JSON.stringify(rawExpr)}`);
        }
        if (!['=', '!=', '=~', '!~'].includes(op.text)) throw new Error(`unknown matcher operator ${op.text} in ${JSON.stringify(rawExpr)}`);
        selector.matchers.push({ label: label.text, op: op.text as LabelMatcher['op'], value: value.text });
        i += 3;
        if (tokens[i]?.kind === 'punct' && tokens[i]?.text === ',') i++;
      }
      i++;
    }
    selectors.push(selector);
  }
  return { selectors, groupingLabels };
}

/** Samples of a Prometheus text exposition: metric name → the label sets exported for it. */
export function parseExposition(text: string): Map<string, Record<string, string>[]> {
  const series = new Map<string, Record<string, string>[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    if (!m) throw new Error(`cannot read the exposition line ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, '$1');
    const name = m[1] ?? '';
    const list = series.get(name) ?? [];
    list.push(labels);
    series.set(name, list);
  }
  return series;
}
