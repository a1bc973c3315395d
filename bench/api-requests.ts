// API requests counted by the API server itself: apiserver_request_total from its /metrics, scraped before
// and after a phase. The counter has no client label, so every row (verb, group, resource, subresource) is
// attributed by who can make it: the m87 controller never writes Pod status or bindings (the scheduler
// does), never uses events.k8s.io (the scheduler does), and renews no other component's Lease. Leases are
// shown apart (every control-plane component renews one every couple of seconds, the controller too), and
// so are LIST and WATCH (informer upkeep, not per decision) and the submitter's own Proposal create.
// GETs of Proposals and Jobs are the garbage collector's: when its graph has not seen the owner of a new
// Decision, Job, Pod or NetworkPolicy yet, it checks the owner with a live GET (a "virtual" owner node); the
// no-op baseline, which never reads a Proposal, shows them too once the plane lags (max rate), and the
// single-decision test none. (The controller GETs those kinds only off the decision path: a Job its cache
// lost, or the Proposal of an orphan Approval.)
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequestText } from '../src/runtime/kube-http.ts';

export interface RequestRow {
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  count: number;
}

export type RequestCounts = Map<string, RequestRow>;

const LINE = /^apiserver_request_total\{([^}]*)\}\s+([0-9.eE+]+)$/;
const LABEL = /([a-z_]+)="((?:[^"\\]|\\.)*)"/g;

/** apiserver_request_total summed over code, scope, version, component and dry_run. Pure. */
export function parseRequestCounts(metricsText: string): RequestCounts {
  const out: RequestCounts = new Map();
  for (const line of metricsText.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of m[1]!.matchAll(LABEL)) labels[l[1]!] = l[2]!;
    const row = { verb: labels.verb ?? '', group: labels.group ?? '', resource: labels.resource ?? '', subresource: labels.subresource ?? '' };
    const key = `${row.verb} ${row.group}/${row.resource}${row.subresource ? `/${row.subresource}` : ''}`;
    const prev = out.get(key);
    out.set(key, { ...row, count: (prev?.count ?? 0) + Number(m[2]) });
  }
  return out;
}

export async function scrapeRequestCounts(kc: KubeConfig, signal?: AbortSignal): Promise<RequestCounts> {
  return parseRequestCounts(await kubeRequestText(kc, { method: 'GET', path: '/metrics', ...(signal ? { signal } : {}) }));
}

/** Rows that grew between two scrapes, with the increase. Pure. */
export function diffRequestCounts(before: RequestCounts, after: RequestCounts): RequestCounts {
  const out: RequestCounts = new Map();
  for (const [key, row] of after) {
    const d = row.count - (before.get(key)?.count ?? 0);
    if (d > 0) out.set(key, { ...row, count: d });
  }
  return out;
}

export type RequestSource = 'controller' | 'submitter' | 'scheduler' | 'garbage-collector' | 'leases' | 'informers' | 'other';

/** Who makes a row's requests (see the file comment). Pure. */
export function requestSource(row: Pick<RequestRow, 'verb' | 'group' | 'resource' | 'subresource'>): RequestSource {
  if (row.resource === '') return 'other'; // /metrics, /healthz, discovery
  if (row.resource === 'leases') return 'leases';
  if (row.verb === 'LIST' || row.verb === 'WATCH') return 'informers';
  if (row.group === 'governance.m87.io' && row.resource === 'proposals' && row.subresource === '' && row.verb === 'POST') return 'submitter';
  if (row.group === '' && row.resource === 'pods' && (row.subresource === 'binding' || row.subresource === 'status')) return 'scheduler';
  if (row.group === 'events.k8s.io') return 'scheduler';
  if (row.verb === 'GET' && row.group === 'governance.m87.io' && (row.resource === 'proposals' || row.resource === 'jobs') && row.subresource === '') return 'garbage-collector';
  if (row.group === 'authorization.k8s.io' || row.group === 'authentication.k8s.io') return 'other';
  return 'controller';
}

export interface RequestSummary {
  /** Every request in the interval. */
  total: number;
  bySource: Record<RequestSource, number>;
  /** The rows (e.g. "POST governance.m87.io/decisions": 1), largest first. */
  rows: Record<string, number>;
}

export function summarizeRequests(diff: RequestCounts): RequestSummary {
  const bySource: Record<RequestSource, number> = { controller: 0, submitter: 0, scheduler: 0, 'garbage-collector': 0, leases: 0, informers: 0, other: 0 };
  let total = 0;
  for (const row of diff.values()) {
    total += row.count;
    bySource[requestSource(row)] += row.count;
  }
  const rows = Object.fromEntries([...diff.entries()].sort((a, b) => b[1].count - a[1].count).map(([k, r]) => [k, r.count]));
  return { total, bySource, rows };
}
