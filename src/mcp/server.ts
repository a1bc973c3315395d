// The MCP server of `m87 mcp`: the tools an agent runtime calls to work with M87 — list the tool catalogue,
// propose, read the status, wait for the result, explain a decision. Every call acts with the server's own
// credentials (the agent's), so RBAC, admission and the audit log see the agent; identity is never a
// parameter: spec.submittedBy is whoever the API server says the credentials are.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { objectName } from '../api/primitives.ts';
import {
  checkDraft,
  explainRecorded,
  isClientError,
  M87ClientError,
  ProposalDraft,
  readProposalState,
  replayDecision,
  submitProposal,
  waitForProposal,
  type ProposalState,
} from '../client/index.ts';
import type { AgentSession } from './agent-session.ts';
import { loadCatalogue } from './catalogue.ts';

export const SERVER_NAME = 'm87';
export const SERVER_VERSION = '0.1.0';

/** Longest wait_for_result may block (a client may call it again). */
export const MAX_WAIT_SECONDS = 3600;
/** Progress heartbeat while nothing changes. */
const HEARTBEAT_MS = 15_000;

const name = objectName('Name of the Proposal.');
const namespace = objectName('Namespace of the Proposal; default: the server\'s namespace.').optional();

/** The proposal an agent writes: the Proposal spec without submittedBy (filled in), agent optional when the server has a default. */
const ProposalInput = ProposalDraft.extend({
  agent: ProposalDraft.shape.agent.optional().meta({ description: 'AgentProfile to act as; default: the server\'s --agent.' }),
  submittedBy: z
    .never({ error: 'identity is not a parameter: spec.submittedBy is filled in from the credentials m87 mcp runs with' })
    .optional()
    .meta({ description: 'Never set: filled in from the credentials.' }),
});

function ok(summary: string, data: object): CallToolResult {
  return { content: [{ type: 'text', text: `${summary}\n\n${JSON.stringify(data, null, 2)}` }], structuredContent: data as Record<string, unknown> };
}

function failure(err: unknown): CallToolResult {
  const e = err instanceof M87ClientError ? err : new M87ClientError('Unavailable', err instanceof Error ? err.message : String(err));
  const error = { reason: e.reason, message: e.message, ...(e.field !== undefined ? { field: e.field } : {}) };
  return { isError: true, content: [{ type: 'text', text: `${e.reason}: ${e.message}` }], structuredContent: { error } };
}

async function guarded(fn: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await fn();
  } catch (err) {
    return failure(err);
  }
}

function describeState(s: ProposalState): string {
  const parts = [`Proposal ${s.namespace}/${s.name}: ${s.phase}`];
  if (s.decision) {
    parts.push(`decision ${s.decision.outcome}: ${s.decision.reasons.map((r) => `${r.code} (${r.message})`).join('; ')}`);
  }
  if (s.approval.state !== 'not-required' && s.approval.state !== 'unknown') {
    parts.push(`approval ${s.approval.state} (${s.approval.accepted}/${s.approval.required})`);
  }
  if (s.job) parts.push(`job ${s.job.phase ?? 'Pending'}${s.job.reason ? ` (${s.job.reason})` : ''}${s.job.receipt ? `, receipt ${s.job.receipt.status}` : ''}`);
  return parts.join('; ');
}

export function createMcpServer(session: AgentSession): McpServer {
  const server = new McpServer({ name: SERVER_NAME, version: SERVER_VERSION }, { capabilities: { logging: {} } });

  server.registerTool(
    'list_tools',
    {
      title: 'List the M87 tool catalogue',
      description:
        'The tools a proposal\'s steps may use (name, effects it needs, arguments, write scope, network), and which of them your AgentProfile allows. ' +
        'Declare in `effects` every effect of every tool you use.',
      inputSchema: { agent: objectName('AgentProfile to check the tools against; default: the server\'s --agent.').optional() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ agent }) =>
      guarded(async () => {
        const identity = await session.whoAmI();
        const catalogue = await loadCatalogue(session.client(), agent ?? session.defaultAgent);
        return ok(`${catalogue.tools.length} tools (${catalogue.source}); you are ${identity.username}`, { you: identity.username, ...catalogue });
      }),
  );

  server.registerTool(
    'propose',
    {
      title: 'Propose work to M87',
      description:
        'Submit a Proposal: what you want to do (summary, intent, effects, steps with tools from list_tools, evidence, risk, reversibility). ' +
        'It is checked against the Proposal schema before it is sent (errors name the field) and submitted as you (spec.submittedBy is filled from your credentials). ' +
        'M87 then decides ALLOW, DENY, REQUIRE_HUMAN or NEED_MORE_EVIDENCE; follow it with wait_for_result.',
      inputSchema: {
        proposal: ProposalInput,
        name: name.optional().meta({ description: 'Name of the Proposal; default: <agent>-<intent id>-<random>.' }),
        namespace,
        dryRun: z.boolean().optional().meta({ description: 'Validate with the API server (admission included) without creating anything.' }),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        const agent = args.proposal.agent ?? session.defaultAgent;
        if (agent === undefined) throw new M87ClientError('Invalid', 'spec.agent: name the AgentProfile you act as (or start m87 mcp with --agent)', { field: 'spec.agent' });
        // Bad input is refused before anything — the identity lookup included — reaches the API server.
        checkDraft({ ...args.proposal, agent });
        const identity = await session.whoAmI();
        const ns = session.namespace(args.namespace);
        const created = await submitProposal(session.client(), { ...args.proposal, agent }, { namespace: ns, name: args.name, identity, dryRun: args.dryRun === true });
        const data = {
          namespace: ns,
          name: created.metadata.name ?? '',
          uid: created.metadata.uid,
          submittedBy: created.spec.submittedBy,
          agent: created.spec.agent,
          dryRun: args.dryRun === true,
        };
        return ok(
          args.dryRun === true
            ? `Proposal ${ns}/${data.name} is valid and would be accepted by the API server (dry run: nothing created)`
            : `Proposal ${ns}/${data.name} submitted as ${data.submittedBy}; call wait_for_result for the decision`,
          data,
        );
      }),
  );

  server.registerTool(
    'get_status',
    {
      title: 'Status of a proposal',
      description: 'Where a proposal stands now: phase, the decision with every reason, the approval state, and the job result with its receipt.',
      inputSchema: { name, namespace },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        await session.whoAmI();
        const state = await readProposalState(session.client(), session.namespace(args.namespace), args.name);
        return ok(describeState(state), state);
      }),
  );

  server.registerTool(
    'wait_for_result',
    {
      title: 'Wait for the result of a proposal',
      description:
        'Blocks until the proposal is finished (until=final: Succeeded, Failed, Denied, NeedsEvidence, Rejected, Expired) or decided (until=decision), ' +
        'or until timeoutSeconds pass, sending a progress notification on every phase change. Returns the decision with every reason, ' +
        'the approval state (pending while a human has not answered), the receipt and outputs. On timeout it returns the current state with timedOut=true.',
      inputSchema: {
        name,
        namespace,
        until: z.enum(['final', 'decision']).optional().meta({ description: 'final (default) or decision.' }),
        timeoutSeconds: z.int().min(1).max(MAX_WAIT_SECONDS).optional().meta({ description: `Default 120, at most ${MAX_WAIT_SECONDS}.` }),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        await session.whoAmI();
        const progressToken = extra._meta?.progressToken;
        let step = 0;
        const ns = session.namespace(args.namespace);
        let last = `Proposal ${ns}/${args.name}: waiting`;
        const started = Date.now();
        const notify = async (message: string): Promise<void> => {
          if (progressToken === undefined) return;
          step += 1;
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: step, message } }).catch(() => undefined);
        };
        // A human may take minutes: a heartbeat keeps clients that reset their timeout on progress waiting.
        const heartbeat = setInterval(() => {
          void notify(`${last} (still waiting after ${Math.round((Date.now() - started) / 1000)} s)`);
        }, HEARTBEAT_MS);
        let state;
        try {
          state = await waitForProposal(session.client(), ns, args.name, {
            until: args.until ?? 'final',
            timeoutMs: (args.timeoutSeconds ?? 120) * 1000,
            signal: extra.signal,
            onProgress: async (s) => {
              last = describeState(s);
              // Awaited, so the last phase's notification goes out before the result.
              await notify(last);
            },
          });
        } finally {
          clearInterval(heartbeat);
        }
        return ok(`${state.timedOut ? 'Timed out; so far: ' : ''}${describeState(state)}`, state);
      }),
  );

  server.registerTool(
    'explain_decision',
    {
      title: 'Explain the decision on a proposal',
      description:
        'Every finding of the recorded decision with the rule and the policy field behind it, what an approver must acknowledge, and — where your ' +
        'credentials may read the policy — a replay under today\'s policy compared with the record.',
      inputSchema: { name, namespace },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        await session.whoAmI();
        const client = session.client();
        const ns = session.namespace(args.namespace);
        const decision = await client.find('Decision', { namespace: ns, name: args.name });
        if (decision === undefined) {
          await client.get('Proposal', { namespace: ns, name: args.name }); // NotFound names the proposal
          throw new M87ClientError('NotFound', `Proposal ${ns}/${args.name} has no Decision yet: call wait_for_result with until=decision`);
        }
        const recorded = explainRecorded(decision);
        let replay: object;
        try {
          const r = await replayDecision(client, ns, args.name);
          replay = { available: true, ...r.replay };
        } catch (err) {
          if (!isClientError(err, 'Forbidden')) throw err;
          replay = { available: false, why: 'these credentials may not read the GovernancePolicy or every Decision; only the record is shown' };
        }
        const summary = `Decision ${recorded.outcome} on ${ns}/${args.name}: ${recorded.reasons.map((r) => `${r.code} [${r.rule}; configured by ${r.configuredBy}]: ${r.message}`).join('; ')}`;
        return ok(summary, { ...recorded, replay });
      }),
  );

  return server;
}
