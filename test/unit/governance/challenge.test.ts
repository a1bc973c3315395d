import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { challengeId, makeChallenge, verifyChallenge } from '../../../src/governance/challenge.ts';

const H = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);

describe('challenge', () => {
  it('id = HMAC-SHA256(secret, proposalHash:expected), hex', () => {
    const c = makeChallenge('s3cret', H, 'repo_read_then_network', 'Type the topology name.');
    expect(c).toEqual({ prompt: 'Type the topology name.', id: createHmac('sha256', 's3cret').update(`${H}:repo_read_then_network`).digest('hex') });
    expect(challengeId(Buffer.from('s3cret'), H, 'x')).toBe(challengeId('s3cret', H, 'x'));
  });

  it('verifies the exact answer, ignoring surrounding whitespace', () => {
    const { id } = makeChallenge('s3cret', H, 'repo_read_then_network', 'p');
    expect(verifyChallenge('s3cret', H, id, 'repo_read_then_network')).toBe(true);
    expect(verifyChallenge('s3cret', H, id, '  repo_read_then_network\n')).toBe(true);
  });

  it('refuses a wrong, differently cased, missing or empty answer', () => {
    const { id } = makeChallenge('s3cret', H, 'repo_read_then_network', 'p');
    for (const answer of ['repo_read_then_notify', 'REPO_READ_THEN_NETWORK', 'repo_read then_network', '', '   ', undefined]) {
      expect(verifyChallenge('s3cret', H, id, answer), String(answer)).toBe(false);
    }
  });

  it('is bound to the proposal and the secret (no bait-and-switch, no forgery without the secret)', () => {
    const { id } = makeChallenge('s3cret', H, 'repo_read_then_network', 'p');
    expect(verifyChallenge('s3cret', OTHER, id, 'repo_read_then_network')).toBe(false);
    expect(verifyChallenge('dev-secret-change-me', H, id, 'repo_read_then_network')).toBe(false);
  });

  it('refuses malformed ids without throwing', () => {
    for (const id of ['', 'zz', 'AB'.repeat(32), 'ab'.repeat(31), 'ab'.repeat(33)]) expect(verifyChallenge('s3cret', H, id, 'x')).toBe(false);
  });

  it('refuses an empty secret', () => {
    expect(() => challengeId('', H, 'x')).toThrow(/secret is empty/);
  });
});
