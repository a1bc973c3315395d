// The MCP server's contract without a cluster, through the SDK's own client over an in-memory transport:
// which tools exist and what they take (identity is never a parameter), and that bad input and missing
// credentials come back as tool errors naming the reason and the field — before anything is sent.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { M87ClientError, MAX_PROPOSAL_BYTES } from '../../../src/client/index.ts';
import { AgentSession } from '../../../src/mcp/agent-session.ts';
import { createMcpServer } from '../../../src/mcp/server.ts';

let loads = 0;
const session = new AgentSession({
  load: () => {
    loads += 1;
    throw new M87ClientError('NoCredentials', 'no credentials: pass --kubeconfig, set KUBECONFIG, …');
  },
  namespace: 'team-a',
  agent: 'casey',
});
const server = createMcpServer(session);
const client = new Client({ name: 'unit', version: '1.0.0' });
const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
await server.connect(serverSide);
await client.connect(clientSide);
afterAll(async () => {
  await client.close();
  await server.close();
});

const { submittedBy: _s, agent: _a, ...draft } = (parse(readFileSync(join(import.meta.dirname, '../../../examples/proposal-allow.yaml'), 'utf8')) as { spec: Record<string, unknown> }).spec;

async function call(name: string, args: Record<string, unknown>): Promise<{ text: string; error?: { reason: string; field?: string } }> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  expect(r.isError).toBe(true);
  return {
    text: r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n'),
    error: (r.structuredContent as { error?: { reason: string; field?: string } } | undefined)?.error,
  };
}

describe('m87 mcp tools', () => {
  it('offers the five tools; none takes an identity', async () => {
    const tools = (await client.listTools()).tools;
    expect(tools.map((t) => t.name).sort()).toEqual(['explain_decision', 'get_status', 'list_tools', 'propose', 'wait_for_result']);
    for (const t of tools) {
      const text = JSON.stringify(t.inputSchema);
      expect(text).not.toMatch(/"(user|username|identity|token|kubeconfig)"/);
    }
    const propose = tools.find((t) => t.name === 'propose')!;
    const proposal = (propose.inputSchema.properties as Record<string, { properties: Record<string, unknown>; required: string[] }>).proposal!;
    expect(proposal.required).toEqual(expect.arrayContaining(['summary', 'intent', 'effects', 'steps', 'truthAccount']));
    expect(proposal.required).not.toContain('submittedBy');
  });

  it('bad input is refused before the credentials are even looked at', async () => {
    const before = loads;
    expect((await call('propose', { proposal: { ...draft, steps: [{ tool: 'Bad Tool' }] } })).text).toMatch(/proposal\.steps\[0\]\.tool/);
    expect((await call('propose', { proposal: { ...draft, submittedBy: 'alice' } })).text).toMatch(/identity is not a parameter/);
    const big = { ...draft, artifacts: [1, 2].map(() => ({ type: 'document', content: 'x'.repeat(MAX_PROPOSAL_BYTES / 2 + 1) })) };
    expect((await call('propose', { proposal: big })).error).toEqual(expect.objectContaining({ reason: 'TooLarge', field: 'spec' }));
    expect(loads).toBe(before);
  });

  it('without credentials every tool says so', async () => {
    for (const [name, args] of [
      ['propose', { proposal: draft }],
      ['list_tools', {}],
      ['get_status', { name: 'p' }],
      ['wait_for_result', { name: 'p', timeoutSeconds: 1 }],
      ['explain_decision', { name: 'p' }],
    ] as const) {
      const r = await call(name, args);
      expect(r.error?.reason, name).toBe('NoCredentials');
      expect(r.text).toMatch(/^NoCredentials: no credentials/);
    }
  });

  it('wait_for_result bounds the wait', async () => {
    expect((await call('wait_for_result', { name: 'p', timeoutSeconds: 100_000 })).text).toMatch(/timeoutSeconds/);
  });
});
