// The run's random seed (chosen by the chaos globalSetup, or M87_CHAOS_SEED), and a seeded generator for the
// random moments of the scenarios, so a failing run can be repeated.
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    chaosSeed: number;
  }
}

export function chaosSeed(): number {
  return inject('chaosSeed');
}

/** mulberry32: small, fast, good enough to pick delays; seeded per scenario. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generator for one scenario: the run's seed mixed with the scenario's name. */
export function scenarioRandom(name: string): () => number {
  let h = chaosSeed() >>> 0;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return seededRandom(h);
}
