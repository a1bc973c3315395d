import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Challenge } from '../api/decision.ts';

const HEX64 = /^[0-9a-f]{64}$/;

function assertSecret(secret: string | Uint8Array): void {
  if (secret.length === 0) throw new Error('challenge secret is empty');
}

// The secret rarely changes; a prepared key makes each HMAC cheaper. Only strings are cached: a caller
// could change a buffer's bytes in place, a string cannot change.
let cachedSecret: string | undefined;
let cachedKey: KeyObject | undefined;

function hmacKey(secret: string | Uint8Array): string | Uint8Array | KeyObject {
  if (typeof secret !== 'string') return secret;
  if (secret !== cachedSecret || cachedKey === undefined) {
    cachedKey = createSecretKey(Buffer.from(secret, 'utf8'));
    cachedSecret = secret;
  }
  return cachedKey;
}

/** HMAC-SHA256(secret, `${proposalHash}:${answer}`), lowercase hex. */
export function challengeId(secret: string | Uint8Array, proposalHash: string, answer: string): string {
  assertSecret(secret);
  return createHmac('sha256', hmacKey(secret)).update(`${proposalHash}:${answer}`).digest('hex');
}

/**
 * A challenge bound to one proposal: the id commits to the expected answer without revealing it, so the
 * Decision records only {prompt, id} and the verifier needs nothing but the secret.
 */
export function makeChallenge(secret: string | Uint8Array, proposalHash: string, expected: string, prompt: string): Challenge {
  return { prompt, id: challengeId(secret, proposalHash, expected) };
}

/**
 * True when `response` (trimmed; otherwise exact and case-sensitive) is the expected answer of the
 * challenge `id` for this proposal. The ids are compared in constant time.
 */
export function verifyChallenge(secret: string | Uint8Array, proposalHash: string, id: string, response: string | undefined): boolean {
  if (response === undefined || !HEX64.test(id)) return false;
  const answer = response.trim();
  if (answer === '') return false;
  const expected = challengeId(secret, proposalHash, answer);
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(id, 'hex'));
}
