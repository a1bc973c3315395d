// Example Proposals of the demo and the e2e tier, written against the shipped AgentProfiles and the shipped
// tool catalogue (the Tools the chart installs: git-checkout, apply-patch, run-tests, http-get, notify):
// Casey (READ_REPO, WRITE_PATCH, RUN_TESTS), Jordan, Riley, and Human (what no agent may propose: DEPLOY,
// NETWORK_CALL, …; people listed as its subjects). Work on code needs the demo's repository (served over git
// smart HTTP in veth mode, its host in the policy's allowedEgress); a status check needs the egress target.
import type { ProposalSpecInput } from '../../src/api/proposal.ts';
import { serviceAccountUsername } from '../cluster/service-account.ts';
import { AGENT_NAMESPACE, type Agent } from './stack.ts';

type Step = ProposalSpecInput['steps'][number];

const reversible = (description: string, cleanupCost: 'LOW' | 'MEDIUM' | 'HIGH' = 'LOW') =>
  ({ class: 'REVERSIBLE', rollbackProof: { description }, executionMode: 'commit', cleanupCost }) as const;

function agentSpec(agent: Agent, rest: Omit<ProposalSpecInput, 'agent' | 'submittedBy'>): ProposalSpecInput {
  return { agent, submittedBy: serviceAccountUsername(AGENT_NAMESPACE, agent), ...rest };
}

function humanSpec(person: string, rest: Omit<ProposalSpecInput, 'agent' | 'submittedBy'>): ProposalSpecInput {
  return { agent: 'human', submittedBy: person, ...rest };
}

/** Where the demo's repository is served and at which commit (Stack.repository). */
export interface RepositoryRef {
  readonly url: string;
  readonly commit: string;
  readonly destination: { readonly host: string; readonly port: number };
}

/** The repository's passing test file (the failing one is tests/test_calc.py). */
export const SMOKE_TESTS = 'tests/test_smoke.py';

/** Check the repository out at its pinned commit (through the runner's egress gate), then run `tests` with pytest. */
function checkoutAndTest(repo: RepositoryRef, tests: string): Pick<ProposalSpecInput, 'steps' | 'envelope'> {
  return {
    steps: [
      { tool: 'git-checkout', args: { repository: repo.url, commit: repo.commit } },
      { tool: 'run-tests', args: { path: tests } },
    ],
    envelope: { egress: [{ host: repo.destination.host, port: repo.destination.port }], autonomyBudget: { maxRuntimeSeconds: 120, maxExternalIO: 10 } },
  };
}

/** Casey runs the repository's smoke tests; the JUnit report is an output with its digest in the receipt. ALLOW. */
export function runTestsSpec(repo: RepositoryRef): ProposalSpecInput {
  return agentSpec('casey', {
    summary: 'Run the smoke tests of calc at the pinned commit and keep the test report',
    intent: { id: 'calc-smoke', goal: 'Confirm the package still imports before the add() fix.', mode: 'fix' },
    effects: ['READ_REPO', 'RUN_TESTS'],
    ...checkoutAndTest(repo, SMOKE_TESTS),
    truthAccount: {
      observations: ['CI run 4812 failed in tests/test_calc.py::test_add.'],
      claims: [{ text: 'The package itself is importable; only add() is wrong.', confidence: 0.8 }],
    },
    riskScore: 0.2,
    reversibility: reversible('The run only writes to the job workspace, discarded with the Pod.'),
  });
}

/** Riley wants the database password and to send a report: READ_SECRETS is denied, no override. */
export function readSecretsSpec(notifyUrl: string): ProposalSpecInput {
  return agentSpec('riley', {
    summary: 'Read the database password to check the nightly report query',
    intent: { id: 'nightly-report-check', goal: 'Find out why the nightly report query times out.', mode: 'report' },
    effects: ['READ_SECRETS', 'SEND_NOTIFICATION'],
    steps: [{ tool: 'notify', args: { url: notifyUrl, message: 'db-credentials checked' } }],
    truthAccount: { observations: ['The nightly report job timed out three nights in a row.'], claims: [] },
    riskScore: 0.3,
    reversibility: { class: 'IRREVERSIBLE', executionMode: 'commit', cleanupCost: 'HIGH' },
  });
}

/**
 * A person proposes a deploy, smoke-tested first: the repository's smoke tests (checkout + pytest), or — where
 * no repository is served (the real node) — a GET of the service's status page (/status on `smoke`, a
 * destination the policy allows) through the runner's egress gate. DEPLOY always needs a human approval.
 */
export function deploySpec(person: string, environment: string, smoke: RepositoryRef | { readonly host: string; readonly port: number }): ProposalSpecInput {
  const work: Pick<ProposalSpecInput, 'effects' | 'steps' | 'envelope'> =
    'url' in smoke
      ? { effects: ['DEPLOY', 'READ_REPO', 'RUN_TESTS'], ...checkoutAndTest(smoke, SMOKE_TESTS) }
      : {
          effects: ['DEPLOY', 'NETWORK_CALL'],
          steps: [{ tool: 'http-get', args: { url: `http://${smoke.host}:${smoke.port}/status` } }],
          envelope: { egress: [{ host: smoke.host, port: smoke.port }] },
        };
  return humanSpec(person, {
    summary: `Smoke-test and deploy checkout v1.4.2 to ${environment}`,
    intent: { id: `release-checkout-1-4-2-${environment}`, goal: `Roll the tested checkout build v1.4.2 out to ${environment}.`, mode: 'ship' },
    ...work,
    truthAccount: {
      observations: ['Build 1.4.2 passed the full test suite (run 4820).', `${environment} runs checkout v1.4.1.`],
      claims: [{ text: 'v1.4.2 changes only the cart total calculation.', confidence: 0.9 }],
    },
    riskScore: 0.3,
    reversibility: reversible(`Redeploy v1.4.1, which ${environment} keeps as the rollback target.`, 'MEDIUM'),
  });
}

/** The read half of a read-then-network pair: the person checks the repository out and runs its smoke tests. ALLOW. */
export function readRepoSpec(person: string, repo: RepositoryRef): ProposalSpecInput {
  return humanSpec(person, {
    summary: 'Read the calc repository and run its smoke tests',
    intent: { id: 'checkout-status', goal: 'Know the state of the checkout service.', mode: 'report' },
    effects: ['READ_REPO', 'RUN_TESTS'],
    ...checkoutAndTest(repo, SMOKE_TESTS),
    truthAccount: { observations: ['The calc repository changed today.'], claims: [] },
    riskScore: 0.2,
    reversibility: reversible('Nothing leaves the job workspace.'),
  });
}

/** The network half: GET urls through the runner's egress gate, destination allowlisted in the envelope. */
export function networkCallSpec(person: string, urls: readonly string[], egress: { host: string; port: number }, maxExternalIO?: number): ProposalSpecInput {
  const steps: Step[] = urls.map((url) => ({ tool: 'http-get', args: { url } }));
  return humanSpec(person, {
    summary: `Fetch ${urls.length === 1 ? 'the status page' : `${urls.length} status pages`} of the checkout service`,
    intent: { id: 'checkout-status', goal: 'Know the state of the checkout service.', mode: 'report' },
    effects: ['NETWORK_CALL'],
    steps,
    truthAccount: { observations: ['The checkout service status page is internal.'], claims: [] },
    riskScore: 0.3,
    envelope: {
      egress: [egress],
      ...(maxExternalIO !== undefined ? { autonomyBudget: { maxExternalIO } } : {}),
    },
    reversibility: reversible('A GET changes nothing.'),
  });
}

/** Casey asks for a tool the catalogue does not have. */
export function unknownToolSpec(): ProposalSpecInput {
  return agentSpec('casey', {
    summary: 'Clean up the build directory with a shell command',
    intent: { id: 'cleanup', goal: 'Free disk space.', mode: 'fix' },
    effects: ['WRITE_PATCH'],
    steps: [{ tool: 'shell', args: { command: 'rm -rf build/' } }],
    truthAccount: { observations: ['The build directory is 2 GiB.'], claims: [] },
    riskScore: 0.2,
    reversibility: reversible('Rebuild.'),
  });
}

/** A patch that touches a file outside the workspace: the engine denies it (PATH_OUTSIDE_WORKSPACE). */
export const ESCAPING_PATCH = ['--- a/../../etc/cron.d/m87', '+++ b/../../etc/cron.d/m87', '@@ -0,0 +1 @@', '+* * * * * root true', ''].join('\n');

/**
 * Casey fixes the failing test of the demo's repository, in three steps each in its tool's image (Tool objects
 * the chart installs): git-checkout at the pinned commit (through the runner's egress gate) → apply-patch (the
 * fix; outputs the resulting patch) → run-tests (pytest; outputs the JUnit report). ALLOW.
 */
export function fixFailingTestSpec(repo: RepositoryRef, patch: string): ProposalSpecInput {
  return agentSpec('casey', {
    summary: 'Fix the failing test in calc: add() subtracts',
    intent: { id: 'fix-calc-add', goal: 'Make tests/test_calc.py::test_add pass.', mode: 'fix' },
    effects: ['READ_REPO', 'WRITE_PATCH', 'RUN_TESTS'],
    steps: [
      { tool: 'git-checkout', args: { repository: repo.url, commit: repo.commit } },
      { tool: 'apply-patch', args: { patch } },
      { tool: 'run-tests', args: { path: 'tests' } },
    ],
    envelope: { egress: [{ host: repo.destination.host, port: repo.destination.port }], autonomyBudget: { maxRuntimeSeconds: 120, maxExternalIO: 10 } },
    truthAccount: {
      observations: ['tests/test_calc.py::test_add fails: add(2, 3) returns -1.'],
      claims: [{ text: 'calc.add subtracts instead of adding.', confidence: 0.9 }],
    },
    riskScore: 0.2,
    reversibility: reversible('The patch is applied in the job workspace only and offered as an output; nothing is pushed.'),
  });
}

/** The same job with a step naming a tool that is not in the catalogue: denied, naming steps[1].tool. */
export function uncataloguedToolSpec(repo: RepositoryRef): ProposalSpecInput {
  const spec = fixFailingTestSpec(repo, '');
  return { ...spec, summary: 'Fix the failing test with a tool nobody installed', steps: [spec.steps[0]!, { tool: 'git-push', args: { remote: 'origin' } }] };
}
