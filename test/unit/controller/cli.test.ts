import { describe, expect, it } from 'vitest';
import { parseDuration, runController } from '../../../src/cli/controller-command.ts';

describe('m87 controller flags', () => {
  it('parses Go-style durations and names the flag on error', () => {
    expect(parseDuration('15s', '--lease-duration')).toBe(15_000);
    expect(parseDuration('500ms', '--retry-period')).toBe(500);
    expect(parseDuration('1m', '--lease-duration')).toBe(60_000);
    expect(parseDuration(undefined, '--lease-duration')).toBeUndefined();
    expect(() => parseDuration('5', '--renew-deadline')).toThrow(/--renew-deadline/);
  });

  it('refuses unknown flags and bad values with the usage exit code', async () => {
    await expect(runController(['--bogus'])).rejects.toMatchObject({ exitCode: 2 });
    await expect(runController(['--leader-elect', 'maybe'])).rejects.toThrow(/--leader-elect/);
    await expect(runController(['--metrics-addr', 'nonsense'])).rejects.toMatchObject({ exitCode: 2 });
    await expect(runController(['--retention', 'sometimes'])).rejects.toThrow(/--retention/);
    await expect(runController(['--retention-rate', '0'])).rejects.toThrow(/--retention-rate/);
    await expect(runController(['--retention-rate', 'fast'])).rejects.toMatchObject({ exitCode: 2 });
    await expect(runController(['--audit-file', ''])).rejects.toThrow(/--audit-file/);
    await expect(runController(['--memory-saver', 'lots'])).rejects.toThrow(/--memory-saver/);
  });
});
