import { describe, expect, it } from 'vitest';
import { expressionRefs, parseExposition } from './promql.ts';

describe('expressionRefs', () => {
  it('finds selectors with matchers and grouping labels, and skips functions, aggregations and keywords', () => {
    const refs = expressionRefs(
      'histogram_quantile(0.99, sum by (le, controller) (rate(m87_reconcile_time_seconds_bucket{name="decisions", result!~"err.*"}[$__rate_interval]))) > 5 or vector(0)',
    );
    expect(refs.selectors).toEqual([
      {
        metric: 'm87_reconcile_time_seconds_bucket',
        matchers: [
          { label: 'name', op: '=', value: 'decisions' },
          { label: 'result', op: '!~', value: 'err.*' },
        ],
      },
    ]);
    expect(refs.groupingLabels).toEqual(['le', 'controller']);
  });

  it('finds bare metric names on both sides of binary operators', () => {
    const refs = expressionRefs('clamp_min(sum(increase(a_total[$__range])) - sum(b_count), 0) / on(pod) group_left(x) c');
    expect(refs.selectors.map((s) => s.metric)).toEqual(['a_total', 'b_count', 'c']);
    expect(refs.groupingLabels).toEqual(['pod', 'x']);
  });
});

describe('parseExposition', () => {
  it('reads names and label sets, unescaping values', () => {
    const series = parseExposition('# HELP x y\n# TYPE x counter\nx{a="1",b="q\\"uote"} 0\nx{a="2"} 3\ny 1\n');
    expect(series.get('x')).toEqual([{ a: '1', b: 'q"uote' }, { a: '2' }]);
    expect(series.get('y')).toEqual([{}]);
  });
});
