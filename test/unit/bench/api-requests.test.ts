import { describe, expect, it } from 'vitest';
import { diffRequestCounts, parseRequestCounts, requestSource, summarizeRequests } from '../../../bench/api-requests.ts';

const scrape = (decisions: number, pods: number): string =>
  [
    '# HELP apiserver_request_total [STABLE] Counter of apiserver requests',
    '# TYPE apiserver_request_total counter',
    `apiserver_request_total{code="201",component="apiserver",dry_run="",group="governance.m87.io",resource="decisions",scope="resource",subresource="",verb="POST",version="v1alpha1"} ${decisions}`,
    `apiserver_request_total{code="409",component="apiserver",dry_run="",group="governance.m87.io",resource="decisions",scope="resource",subresource="",verb="POST",version="v1alpha1"} 1`,
    `apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} ${pods}`,
    'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 7',
    'apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 100',
    'apiserver_request_duration_seconds_bucket{le="0.1"} 3',
  ].join('\n');

describe('apiserver_request_total accounting', () => {
  it('sums over codes, diffs two scrapes and attributes rows to their source', () => {
    const before = parseRequestCounts(scrape(10, 5));
    expect(before.get('POST governance.m87.io/decisions')?.count).toBe(11);
    const diff = diffRequestCounts(before, parseRequestCounts(scrape(13, 7)));
    expect(summarizeRequests(diff)).toEqual({
      total: 5,
      bySource: { controller: 5, submitter: 0, scheduler: 0, 'garbage-collector': 0, leases: 0, informers: 0, other: 0 },
      rows: { 'POST governance.m87.io/decisions': 3, 'POST /pods': 2 },
    });
  });

  it('knows which rows the controller never makes', () => {
    expect(requestSource({ verb: 'PATCH', group: '', resource: 'pods', subresource: 'status' })).toBe('scheduler');
    expect(requestSource({ verb: 'POST', group: 'events.k8s.io', resource: 'events', subresource: '' })).toBe('scheduler');
    expect(requestSource({ verb: 'POST', group: '', resource: 'events', subresource: '' })).toBe('controller');
    expect(requestSource({ verb: 'POST', group: 'governance.m87.io', resource: 'proposals', subresource: '' })).toBe('submitter');
    expect(requestSource({ verb: 'PATCH', group: 'governance.m87.io', resource: 'proposals', subresource: 'status' })).toBe('controller');
    expect(requestSource({ verb: 'WATCH', group: 'governance.m87.io', resource: 'jobs', subresource: '' })).toBe('informers');
    expect(requestSource({ verb: 'PUT', group: 'coordination.k8s.io', resource: 'leases', subresource: '' })).toBe('leases');
    expect(requestSource({ verb: 'GET', group: 'governance.m87.io', resource: 'proposals', subresource: '' })).toBe('garbage-collector');
    expect(requestSource({ verb: 'GET', group: 'governance.m87.io', resource: 'decisions', subresource: '' })).toBe('controller');
  });
});
