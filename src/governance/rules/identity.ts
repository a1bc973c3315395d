import type { RuleContext } from '../context.ts';
import { quote, type Findings } from '../findings.ts';

/** The submitter must be a subject of the AgentProfile the proposal names (the seed let anyone claim any agent). */
export function identityRule(ctx: RuleContext, out: Findings): void {
  const { agent, submittedBy } = ctx.spec;
  if (ctx.profile === undefined) {
    out.add('AGENT_UNKNOWN', `AgentProfile ${quote(agent)} does not exist.`);
    return;
  }
  if (!ctx.profile.subjects.has(submittedBy)) {
    out.add('SUBMITTER_NOT_AGENT_SUBJECT', `${quote(submittedBy)} is not a subject of AgentProfile ${quote(agent)}.`);
  }
}
