// Get-or-create for prom-client metrics: several queues/controllers share one Registry and each one
// registers the same metric families with its own label values. prom-client throws on a second
// registration of a name, so families are created once per registry and reused.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

type Kind = 'counter' | 'gauge' | 'histogram';

function existing(registry: Registry, name: string, kind: Kind, labelNames: readonly string[]): unknown {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const ok =
    (kind === 'counter' && metric instanceof Counter) ||
    (kind === 'gauge' && metric instanceof Gauge) ||
    (kind === 'histogram' && metric instanceof Histogram);
  if (!ok) throw new Error(`metric ${name} is already registered with a different type`);
  const registeredLabels = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
  if (registeredLabels.join(',') !== labelNames.join(',')) {
    throw new Error(`metric ${name} is already registered with labels [${registeredLabels.join(',')}]`);
  }
  return metric;
}

export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  return (
    (existing(registry, name, 'counter', labelNames) as Counter<L> | undefined) ??
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  );
}

export function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  collect?: (this: Gauge<L>) => void,
): Gauge<L> {
  return (
    (existing(registry, name, 'gauge', labelNames) as Gauge<L> | undefined) ??
    new Gauge<L>({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) })
  );
}

export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
): Histogram<L> {
  return (
    (existing(registry, name, 'histogram', labelNames) as Histogram<L> | undefined) ??
    new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] })
  );
}

/** Seconds-based buckets from 100 µs to 5 min, for queue waits and work durations. */
export const DURATION_BUCKETS_SECONDS = [
  0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/** controller-runtime's reconcile_time buckets: 5 ms … 60 s. */
export const RECONCILE_BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5,
  1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
