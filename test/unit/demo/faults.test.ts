// The demo's pure helpers: every forged annotation set is refused by the runner's verification with the code
// EXPECTED_REFUSAL promises (what the e2e tier and the demo rely on), the challenge answer an approver reads
// off a prompt, the metrics parser and the table renderer.
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../../src/api/group.ts';
import { ANNOTATION_FAULTS, EXPECTED_REFUSAL, forgeAnnotations, UNKNOWN_TOOL } from '../../../dev/demo/faults.ts';
import { parseExposition, MetricsSnapshot } from '../../../dev/demo/metrics.ts';
import { challengeAnswer } from '../../../dev/demo/observe.ts';
import { renderTable } from '../../../dev/demo/table.ts';
import { RunnerStop } from '../../../src/runner/codes.ts';
import { verifyJob, type DehEvidence } from '../../../src/runner/verify.ts';
import { generateSigningKey } from '../../../src/integrity/signing.ts';
import { envelope, signedAnnotations } from '../runner/fixture.ts';

const key = generateSigningKey();

function refusal(annotations: ReadonlyMap<string, string>): string {
  const evidence: DehEvidence = { jobUID: '', claimed: '', recomputed: '', verified: false };
  try {
    verifyJob(annotations, key.publicKeyPem, evidence);
  } catch (e) {
    if (e instanceof RunnerStop) return e.code;
    throw e;
  }
  return 'VERIFIED';
}

describe('forgeAnnotations', () => {
  const genuine = new Map(Object.entries(signedAnnotations(key, envelope({ steps: [{ tool: 'write-file', args: { content: 'v1', path: 'NOTES.md' } }] }))));

  it('the genuine annotations verify', () => {
    expect(refusal(genuine)).toBe('VERIFIED');
  });

  it.each(ANNOTATION_FAULTS)('%s is refused with its expected code (or, for null, verifies)', (fault) => {
    const forged = forgeAnnotations(genuine, fault);
    expect(refusal(forged)).toBe(EXPECTED_REFUSAL[fault] ?? 'VERIFIED');
    expect(genuine.get(ANNOTATIONS.envelope)).not.toContain('rewritten'); // the input is left alone
  });

  it('unknown-tool appends a step outside the manifest with a consistent DEH', () => {
    const forged = forgeAnnotations(genuine, 'unknown-tool');
    const env = JSON.parse(forged.get(ANNOTATIONS.envelope) ?? '{}') as { steps: { tool: string }[] };
    expect(env.steps.map((s) => s.tool)).toEqual(['write-file', UNKNOWN_TOOL]);
  });
});

describe('challengeAnswer', () => {
  it('reads the topology name or the literal answer off the prompt', () => {
    expect(
      challengeAnswer('This proposal completes the toxic topology repo_read_then_network (READ_REPO + NETWORK_CALL) for bob within 300s. Type the topology name exactly to acknowledge the risk.'),
    ).toBe('repo_read_then_network');
    expect(challengeAnswer('The recent effects of bob could not be read. Type session_history_unknown to acknowledge the risk.')).toBe('session_history_unknown');
    expect(() => challengeAnswer('Say something nice.')).toThrow(/cannot tell/);
  });
});

describe('metrics', () => {
  it('parses the exposition format and sums matching samples', () => {
    const m = new MetricsSnapshot(
      parseExposition(
        '# HELP m87_jobs_total Jobs.\n# TYPE m87_jobs_total counter\nm87_jobs_total{result="Succeeded"} 4\nm87_jobs_total{result="Failed"} 1\nm87_leader 1\nm87_x{a="q\\"uote"} 2\n',
      ),
    );
    expect(m.value('m87_jobs_total')).toBe(5);
    expect(m.value('m87_jobs_total', { result: 'Failed' })).toBe(1);
    expect(m.value('m87_leader')).toBe(1);
    expect(m.value('m87_x', { a: 'q"uote' })).toBe(2);
    expect(m.value('absent')).toBe(0);
  });
});

describe('renderTable', () => {
  it('wraps cells to their column width', () => {
    const out = renderTable(
      [
        { header: 'A', maxWidth: 5 },
        { header: 'B', maxWidth: 10 },
      ],
      [['one two three', 'x']],
    );
    expect(out.split('\n')).toEqual(['┌───────┬───┐', '│ A     │ B │', '├───────┼───┤', '│ one   │ x │', '│ two   │   │', '│ three │   │', '└───────┴───┘']);
  });
});
