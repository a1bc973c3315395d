// `m87 mcp --http` listens on loopback only unless forced: whoever reaches the port acts as the agent.
import { describe, expect, it } from 'vitest';
import { AgentSession } from '../../../src/mcp/agent-session.ts';
import { isLoopback } from '../../../src/client/loopback.ts';
import { serveHttp } from '../../../src/mcp/http.ts';

describe('loopback only', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.1', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['example.org', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  it('refuses a non-loopback address before listening, and says how to force it', async () => {
    const session = new AgentSession({ load: () => { throw new Error('not used'); } });
    await expect(serveHttp(session, { host: '0.0.0.0', port: 0 })).rejects.toThrow(/not a loopback address.*--allow-non-loopback/);
  });
});
