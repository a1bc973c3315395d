// Proposals only the e2e tests make: they use the test catalogue's write-file Tool (test/support/tool-catalogue.ts,
// installed by e2eStack), which the product does not ship.
import type { ProposalSpecInput } from '../../src/api/proposal.ts';
import { serviceAccountUsername } from '../../dev/cluster/service-account.ts';
import { AGENT_NAMESPACE } from '../../dev/demo/stack.ts';

/** Casey writes one file in the workspace (write-file, WRITE_PATCH). ALLOW. */
export function writeFileSpec(path: string, content: string, summary = 'Write the release notes'): ProposalSpecInput {
  return {
    agent: 'casey',
    submittedBy: serviceAccountUsername(AGENT_NAMESPACE, 'casey'),
    summary,
    intent: { id: 'release-notes', goal: 'Write the release notes for checkout v1.4.2.', mode: 'build' },
    effects: ['WRITE_PATCH'],
    steps: [{ tool: 'write-file', args: { path, content } }],
    truthAccount: { observations: [`${path} does not exist yet.`], claims: [] },
    riskScore: 0.2,
    reversibility: { class: 'REVERSIBLE', rollbackProof: { description: `Delete ${path}.` }, executionMode: 'commit', cleanupCost: 'LOW' },
  };
}
