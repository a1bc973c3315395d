import type { GovernancePolicySpec } from '../api/governance-policy.ts';
import type { ProposalSpec } from '../api/proposal.ts';
import type { ToolCatalogue } from '../tool-catalogue/catalogue.ts';
import { renderArgv } from '../tool-catalogue/render-argv.ts';
import type { ReasonCode } from './codes.ts';
import { lookupTool } from './tool-index.ts';

type CleanupCost = 'LOW' | 'MEDIUM' | 'HIGH';

export interface Cleanup {
  cost: CleanupCost;
  budgetMultiplierPercent: number;
  retryLimit: number;
}

/**
 * Cleanup cost → budget multiplier and retry limit. A declared cost always applies; an undeclared one
 * counts as MEDIUM, except for read-only proposals, which leave nothing to clean up (LOW).
 */
export function cleanupFor(declared: string | undefined, readOnly: boolean, table: GovernancePolicySpec['reversibility']['cleanupCost']): Cleanup {
  const cost: CleanupCost = declared === 'LOW' || declared === 'MEDIUM' || declared === 'HIGH' ? declared : declared === undefined && readOnly ? 'LOW' : 'MEDIUM';
  const entry = table[cost];
  return { cost, budgetMultiplierPercent: entry.budgetMultiplierPercent, retryLimit: entry.retryLimit };
}

/** Only `draft` and `preview` are non-committing; anything else is treated as a commit. */
export function isCommit(mode: string | undefined): boolean {
  return mode !== 'draft' && mode !== 'preview';
}

export interface GateFinding {
  code: ReasonCode;
  message: string;
}

function proofProblems(proof: NonNullable<NonNullable<ProposalSpec['reversibility']>['rollbackProof']>, catalogue: ToolCatalogue): string[] {
  const problems: string[] = [];
  if (proof.description.trim() === '') problems.push('description is empty');
  if (proof.rollbackTool !== undefined && proof.rollbackTool !== '') {
    const lookup = lookupTool(proof.rollbackTool, catalogue);
    if (!lookup.found) problems.push(`rollbackTool ${proof.rollbackTool} is not ${lookup.problem === 'unknown' ? 'in the tool catalogue' : 'a valid Tool'}`);
    else {
      const rendered = renderArgv(lookup.tool.spec, proof.rollbackArgs);
      if (!rendered.ok) for (const i of rendered.issues) problems.push(`rollbackArgs.${i.arg} ${i.message}`);
    }
  } else if (proof.rollbackArgs !== undefined && Object.keys(proof.rollbackArgs).length > 0) {
    problems.push('rollbackArgs given without a rollbackTool');
  }
  return problems;
}

/**
 * The reversibility gate (seed §2.1, without its escape hatches): read-only proposals pass; everything
 * else needs a class; REVERSIBLE needs a usable rollback proof; PARTIALLY_REVERSIBLE needs one to commit;
 * IRREVERSIBLE always needs a human.
 */
export function reversibilityGate(readOnly: boolean, rev: ProposalSpec['reversibility'], catalogue: ToolCatalogue): GateFinding[] {
  const findings: GateFinding[] = [];
  const proof = rev?.rollbackProof;
  if (proof !== undefined) {
    const problems = proofProblems(proof, catalogue);
    if (problems.length > 0) findings.push({ code: 'ROLLBACK_PROOF_INVALID', message: `Rollback proof is unusable: ${problems.join('; ')}.` });
  }
  if (readOnly) return findings;
  const cls = rev?.class;
  switch (cls) {
    case undefined:
      findings.push({ code: 'REVERSIBILITY_CLASS_MISSING', message: 'Non-read action missing a reversibility class declaration.' });
      break;
    case 'REVERSIBLE':
      if (proof === undefined) findings.push({ code: 'ROLLBACK_PROOF_MISSING', message: 'REVERSIBLE action requires a rollback proof.' });
      break;
    case 'PARTIALLY_REVERSIBLE':
      if (proof === undefined && isCommit(rev?.executionMode)) {
        findings.push({
          code: 'PARTIAL_COMMIT_NEEDS_ROLLBACK_PROOF',
          message: 'PARTIALLY_REVERSIBLE commit requires a rollback proof; resubmit with executionMode draft or preview, or add a proof.',
        });
      }
      break;
    case 'IRREVERSIBLE':
      findings.push({ code: 'IRREVERSIBLE_REQUIRES_HUMAN', message: 'IRREVERSIBLE action requires explicit human approval.' });
      break;
    default:
      findings.push({ code: 'PROPOSAL_INVALID', message: `Unknown reversibility class ${String(cls)}.` });
  }
  return findings;
}
