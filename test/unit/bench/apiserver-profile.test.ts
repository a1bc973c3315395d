import { describe, expect, it } from 'vitest';
import { categorize, goPackage, parsePprofTop } from '../../../bench/apiserver-profile.ts';

const TOP = `File: kube-apiserver
Type: cpu
Time: 2026-12-06 22:10:00 UTC
Duration: 30s, Total samples = 20s (66.67%)
Showing nodes accounting for 20s, 100% of 20s total
      flat  flat%   sum%        cum   cum%
        4s 20.00% 20.00%         5s 25.00%  runtime.mallocgc
        3s 15.00% 35.00%         3s 15.00%  crypto/tls.(*Conn).Read
        2s 10.00% 45.00%        12s 60.00%  k8s.io/apiserver/pkg/storage/cacher.(*Cacher).Watch
     500ms  2.50% 47.50%      600ms  3.00%  runtime.scanobject (inline)
      10ms  0.05% 47.55%         1s  5.00%  sync.(*Map[go.shape.string,k8s.io/api/core/v1.Pod]).Load
         0     0% 47.55%         2s 10.00%  encoding/json.Unmarshal
`;

describe('API server profile summary', () => {
  it('names the package of a Go symbol', () => {
    expect(goPackage('runtime.mallocgc')).toBe('runtime');
    expect(goPackage('crypto/tls.(*Conn).Read')).toBe('crypto/tls');
    expect(goPackage('k8s.io/apiserver/pkg/storage/cacher.(*Cacher).Watch.func1')).toBe('k8s.io/apiserver/pkg/storage/cacher');
    expect(goPackage('sync.(*Map[go.shape.string,k8s.io/api/core/v1.Pod]).Load')).toBe('sync');
    expect(goPackage('runtime.scanobject (inline)')).toBe('runtime');
  });

  it('parses pprof -top rows and sums self time by package', () => {
    const s = parsePprofTop(TOP);
    expect(s.header).toContain('Duration: 30s, Total samples = 20s');
    expect(s.functions).toHaveLength(6);
    expect(s.functions[0]).toEqual({ flatPercent: 20, cumPercent: 25, name: 'runtime.mallocgc' });
    expect(s.functions[3]?.name).toBe('runtime.scanobject (inline)');
    expect(s.packages[0]).toEqual({ name: 'runtime', flatPercent: 22.5 });
    expect(s.packages.map((p) => p.name)).toEqual(['runtime', 'crypto/tls', 'k8s.io/apiserver/pkg/storage/cacher', 'sync', 'encoding/json']);
  });

  it('sums the cumulative share of the functions of each category, and leaves out categories nothing matched', () => {
    const rows = [
      { flatPercent: 0, cumPercent: 37, name: 'k8s.io/apiserver/pkg/endpoints/handlers/finisher.finishRequest.func1' },
      { flatPercent: 0, cumPercent: 10.5, name: 'k8s.io/apiserver/pkg/registry/generic/registry.(*Store).Create' },
      { flatPercent: 0, cumPercent: 3.1, name: 'k8s.io/apiextensions-apiserver/pkg/registry/customresource.customResourceStrategy.Validate' },
      { flatPercent: 0, cumPercent: 4.3, name: 'k8s.io/apiextensions-apiserver/pkg/registry/customresource.statusStrategy.ValidateUpdate' },
      { flatPercent: 0, cumPercent: 15.5, name: 'runtime.gcBgMarkWorker' },
      { flatPercent: 0, cumPercent: 15.5, name: 'runtime.gcBgMarkWorker.func2' },
      { flatPercent: 0, cumPercent: 2, name: 'crypto/tls.(*Conn).Write' },
      { flatPercent: 0, cumPercent: 0.3, name: 'crypto/tls.(*Conn).Read' },
    ];
    expect(categorize(rows)).toEqual([
      { name: 'API request handlers (all)', cumPercent: 37 },
      { name: 'create', cumPercent: 10.5 },
      { name: 'CRD validation (OpenAPI schema, CEL rules)', cumPercent: 7.4 },
      { name: 'TLS record write / read', cumPercent: 2.3 },
      { name: 'garbage collection (background mark)', cumPercent: 15.5 },
    ]);
  });
});
