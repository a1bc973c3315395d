import { readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../../src/api/group.ts';
import { Receipt, RECEIPT_MAX_BYTES } from '../../../src/api/receipt.ts';
import { canonicalHash, canonicalJson } from '../../../src/hash/canonical.ts';
import { envelopeHash } from '../../../src/integrity/document-hashes.ts';
import type { ReasonCode } from '../../../src/runner/codes.ts';
import { generateSigningKey, signDeh } from '../../../src/integrity/signing.ts';
import { MAX_ANNOTATION_BYTES } from '../../../src/runner/podinfo.ts';
import { boundStep, envelope, fixture, JOB_UID, signedAnnotations, type Fixture } from './fixture.ts';

const open: Fixture[] = [];
afterEach(() => {
  for (const f of open.splice(0)) f.cleanup();
});

async function run(f: Fixture) {
  open.push(f);
  const outcome = await f.run();
  const written = f.terminationMessage();
  expect(Buffer.byteLength(written)).toBeLessThanOrEqual(RECEIPT_MAX_BYTES);
  expect(Receipt.safeParse(JSON.parse(written)).success).toBe(true);
  return outcome;
}

/** A refusal before anything ran: no step, no artifact, nothing written to the workspace, non-zero exit. */
async function expectRefusedBeforeSteps(f: Fixture, code: ReasonCode) {
  const outcome = await run(f);
  expect(outcome.receipt.reasonCode).toBe(code);
  expect(outcome.receipt.status).toBe('Refused');
  expect(outcome.exitCode).not.toBe(0);
  expect(outcome.receipt.steps).toEqual([]);
  expect(outcome.receipt.artifacts).toEqual([]);
  expect(outcome.receipt.usage.steps).toBe(0);
  expect(outcome.receipt.deh.verified).toBe(false);
  expect(readdirSync(f.workspace)).toEqual([]);
  return outcome;
}

function retamper(f: Fixture, change: (a: Record<string, string>) => void) {
  const a = signedAnnotations(f.key, envelope());
  change(a);
  f.writeAnnotations(a);
}

describe('runner envelope verification', () => {
  it('runs a correctly signed job and reports the DEH evidence', async () => {
    const env = envelope();
    const f = await fixture(env);
    const outcome = await run(f);
    expect(outcome.receipt).toMatchObject({ status: 'Succeeded', reasonCode: '', jobUID: JOB_UID });
    expect(outcome.receipt.deh).toEqual({ claimed: envelopeHash(env), recomputed: envelopeHash(env), verified: true });
    expect(outcome.exitCode).toBe(0);
    expect(JSON.parse(f.terminationMessage())).toEqual(outcome.receipt);
    // One line per container: the step's record, then the final container's receipt.
    expect(f.logs).toHaveLength(2);
    expect(JSON.parse(f.logs[0]!)).toMatchObject({ step: { index: 0, tool: 'echo', status: 'Succeeded' } });
    const line = JSON.parse(f.logs[1]!) as { receipt: unknown; status: string };
    expect(line.status).toBe('Succeeded');
    expect(line.receipt).toEqual(outcome.receipt);
  });

  it('a tampered envelope (budget raised after signing) → DEH_MISMATCH', async () => {
    const f = await fixture();
    retamper(f, (a) => {
      const e = JSON.parse(a[ANNOTATIONS.envelope]!) as ReturnType<typeof envelope>;
      e.autonomyBudget.maxSteps = 10000;
      a[ANNOTATIONS.envelope] = canonicalJson(e);
    });
    const outcome = await expectRefusedBeforeSteps(f, 'DEH_MISMATCH');
    expect(outcome.receipt.deh.claimed).not.toBe(outcome.receipt.deh.recomputed);
  });

  it('a tampered envelope with a recomputed DEH but the old signature → SIGNATURE_INVALID', async () => {
    const f = await fixture();
    retamper(f, (a) => {
      const e = envelope({ steps: [{ tool: 'echo', args: { message: 'pwned' } }] });
      a[ANNOTATIONS.envelope] = canonicalJson(e);
      a[ANNOTATIONS.envelopeHash] = envelopeHash(e);
    });
    await expectRefusedBeforeSteps(f, 'SIGNATURE_INVALID');
  });

  it('a tampered DEH annotation → DEH_MISMATCH', async () => {
    const f = await fixture();
    retamper(f, (a) => {
      a[ANNOTATIONS.envelopeHash] = 'f'.repeat(64);
    });
    await expectRefusedBeforeSteps(f, 'DEH_MISMATCH');
  });

  it('a signature by another key (with the right key id) → SIGNATURE_INVALID', async () => {
    const f = await fixture();
    const other = generateSigningKey();
    retamper(f, (a) => {
      a[ANNOTATIONS.signature] = signDeh(other.privateKeyPem, a[ANNOTATIONS.envelopeHash]!);
    });
    await expectRefusedBeforeSteps(f, 'SIGNATURE_INVALID');
  });

  it('a garbage signature → SIGNATURE_INVALID', async () => {
    const f = await fixture();
    retamper(f, (a) => {
      a[ANNOTATIONS.signature] = 'bm90IGEgc2lnbmF0dXJl';
    });
    await expectRefusedBeforeSteps(f, 'SIGNATURE_INVALID');
  });

  it('a job signed entirely by an unknown key → KEY_ID_MISMATCH', async () => {
    const f = await fixture();
    f.writeAnnotations(signedAnnotations(generateSigningKey(), envelope()));
    await expectRefusedBeforeSteps(f, 'KEY_ID_MISMATCH');
  });

  it('a changed job UID is not signed and not refused: the signed envelope runs and the receipt reports the UID given', async () => {
    // The Pod carries the Job's one signature, over the DEH; which Pod's report counts for which Job is the
    // controller's check (podAnnotationMismatch, ReceiptJobMismatch).
    const f = await fixture();
    retamper(f, (a) => {
      a[ANNOTATIONS.jobUID] = '00000000-0000-0000-0000-000000000000';
    });
    const outcome = await run(f);
    expect(outcome.receipt).toMatchObject({ status: 'Succeeded', jobUID: '00000000-0000-0000-0000-000000000000' });
    expect(outcome.receipt.deh.verified).toBe(true);
  });

  it('the runner reads each annotation as raw bytes: quotes, backslashes, newlines and non-ASCII in the envelope verify', async () => {
    const env = envelope({ steps: [boundStep('echo', { message: 'say "hi"\\n\nline two\ttab é✓😀' })] });
    const f = await fixture(env);
    const outcome = await run(f);
    expect(outcome.receipt.status).toBe('Succeeded');
    expect(outcome.receipt.deh.recomputed).toBe(envelopeHash(env));
  });

  it('a correctly signed envelope whose step carries no tool binding → TOOL_UNBOUND, nothing runs', async () => {
    const f = await fixture(envelope({ steps: [{ tool: 'echo', args: { message: 'x' } }] }));
    const outcome = await run(f);
    // The refused step is listed, never having run (exit code -1, no output).
    expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: 'TOOL_UNBOUND', steps: [{ tool: 'echo', exitCode: -1, outputHash: '' }], artifacts: [] });
    expect(outcome.receipt.usage.steps).toBe(0);
    expect(outcome.receipt.deh.verified).toBe(true);
  });

  it('a correctly signed envelope with another effect schema version → EFFECT_SCHEMA_VERSION_MISMATCH', async () => {
    const e = { ...envelope(), effectSchemaVersion: '2.0.0' };
    const f = await fixture(e);
    const outcome = await expectRefusedBeforeSteps(f, 'EFFECT_SCHEMA_VERSION_MISMATCH');
    expect(outcome.receipt.deh.recomputed).toBe(canonicalHash(e));
  });

  it('an effect schema version change without a new signature is caught earlier (DEH_MISMATCH)', async () => {
    const f = await fixture();
    retamper(f, (a) => {
      a[ANNOTATIONS.envelope] = canonicalJson({ ...envelope(), effectSchemaVersion: '2.0.0' });
    });
    await expectRefusedBeforeSteps(f, 'DEH_MISMATCH');
  });

  it('an envelope that is not JSON → ENVELOPE_MALFORMED', async () => {
    const f = await fixture();
    retamper(f, (a) => {
      a[ANNOTATIONS.envelope] = '{"modelId":';
    });
    await expectRefusedBeforeSteps(f, 'ENVELOPE_MALFORMED');
  });

  it('an envelope off the schema (float where an integer is meant) → ENVELOPE_SCHEMA_INVALID', async () => {
    const e = envelope();
    const bad = { ...e, autonomyBudget: { ...e.autonomyBudget, maxSteps: 2.5 } };
    const f = await fixture(bad);
    const outcome = await expectRefusedBeforeSteps(f, 'ENVELOPE_SCHEMA_INVALID');
    expect(outcome.message).toContain('envelope.autonomyBudget.maxSteps');
  });

  it('an envelope with a field the schema does not know, even correctly signed → ENVELOPE_SCHEMA_INVALID', async () => {
    const f = await fixture({ ...envelope(), extraPower: true });
    const outcome = await expectRefusedBeforeSteps(f, 'ENVELOPE_SCHEMA_INVALID');
    expect(outcome.message).toContain('envelope.extraPower: unknown field');
  });

  it.each([
    ['in a nested object', (e: Record<string, unknown>) => ({ ...e, reversibility: { ...(e.reversibility as object), skipGates: true } }), 'envelope.reversibility.skipGates'],
    ['in a step', (e: Record<string, unknown>) => ({ ...e, steps: [{ tool: 'echo', args: { message: 'x' }, shell: 'sh -c id' }] }), 'envelope.steps[0].shell'],
    ['in the budget', (e: Record<string, unknown>) => ({ ...e, autonomyBudget: { ...(e.autonomyBudget as object), unlimited: true } }), 'envelope.autonomyBudget.unlimited'],
    ['named __proto__', (e: Record<string, unknown>) => JSON.parse(canonicalJson(e).replace('{', '{"__proto__":{"admin":true},')) as unknown, 'envelope.__proto__'],
  ])('an unknown field %s, even correctly signed → ENVELOPE_SCHEMA_INVALID', async (_where, change, field) => {
    const f = await fixture(change(envelope()));
    const outcome = await expectRefusedBeforeSteps(f, 'ENVELOPE_SCHEMA_INVALID');
    expect(outcome.message).toContain(`${field}: unknown field`);
  });

  it('a missing annotation → ANNOTATION_MISSING, naming it', async () => {
    for (const key of Object.values(ANNOTATIONS)) {
      const f = await fixture();
      retamper(f, (a) => {
        delete a[key];
      });
      const outcome = await expectRefusedBeforeSteps(f, 'ANNOTATION_MISSING');
      expect(outcome.message).toContain(key);
    }
  });

  it('a podinfo file that is missing, not UTF-8 or larger than an annotation can be → ANNOTATIONS_UNREADABLE / ANNOTATIONS_MALFORMED', async () => {
    const f1 = await fixture();
    rmSync(join(f1.podinfo, '..data', 'signature'));
    const o1 = await expectRefusedBeforeSteps(f1, 'ANNOTATIONS_UNREADABLE');
    expect(o1.message).toContain('signature');
    const f2 = await fixture();
    writeFileSync(join(f2.podinfo, '..data', 'key-id'), Buffer.from([0x66, 0xff, 0xfe]));
    await expectRefusedBeforeSteps(f2, 'ANNOTATIONS_MALFORMED');
    const f3 = await fixture();
    writeFileSync(join(f3.podinfo, '..data', 'envelope'), 'x'.repeat(MAX_ANNOTATION_BYTES + 1));
    await expectRefusedBeforeSteps(f3, 'ANNOTATIONS_MALFORMED');
  });

  it('reads every file from the snapshot ..data names, even when the top-level links point elsewhere', async () => {
    const f = await fixture();
    open.push(f);
    const stale = join(f.dir, 'stale');
    writeFileSync(stale, 'f'.repeat(64));
    rmSync(join(f.podinfo, 'envelope-hash'));
    symlinkSync(stale, join(f.podinfo, 'envelope-hash'));
    const outcome = await f.run();
    expect(outcome.receipt.status).toBe('Succeeded');
  });

  it('a missing or invalid public key → PUBLIC_KEY_UNREADABLE / PUBLIC_KEY_INVALID', async () => {
    const f1 = await fixture();
    rmSync(f1.keyFile);
    await expectRefusedBeforeSteps(f1, 'PUBLIC_KEY_UNREADABLE');
    const f2 = await fixture();
    writeFileSync(f2.keyFile, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n');
    await expectRefusedBeforeSteps(f2, 'PUBLIC_KEY_INVALID');
  });

  it('missing configuration → CONFIG_MISSING', async () => {
    const f = await fixture();
    f.renv.env = { ...f.renv.env, M87_PODINFO_DIR: undefined };
    const outcome = await expectRefusedBeforeSteps(f, 'CONFIG_MISSING');
    expect(outcome.message).toContain('M87_PODINFO_DIR');
  });

  it('verification runs before the isolation checks', async () => {
    const f = await fixture();
    retamper(f, (a) => {
      a[ANNOTATIONS.envelopeHash] = '0'.repeat(64);
    });
    f.renv.isolation = { ...f.renv.isolation, getuid: () => 0 };
    await expectRefusedBeforeSteps(f, 'DEH_MISMATCH');
  });

});
