import type { AgentProfileSpec } from '../api/agent-profile.ts';
import { BUDGET_BOUNDS } from '../api/envelope.ts';
import { RETENTION_DEFAULTS, type GovernancePolicySpec } from '../api/governance-policy.ts';

/**
 * The predecessor's constants (reference/seed-api.md §1.7, §1.10, §3, §4, §7.2, §7.3, §7.7, §2.1) as the
 * `default` GovernancePolicy and the shipped AgentProfiles. The Helm chart and the tests take them from here.
 */
export const DEFAULT_POLICY_SPEC: GovernancePolicySpec = {
  quarantineTier: 0,
  rateLimit: { proposalsPerMinute: 30 },
  session: { windowSeconds: 300 },
  toxicPairs: [
    { name: 'repo_read_then_network', effects: ['READ_REPO', 'NETWORK_CALL'], outcome: 'REQUIRE_HUMAN' },
    { name: 'repo_read_then_notify', effects: ['READ_REPO', 'SEND_NOTIFICATION'], outcome: 'REQUIRE_HUMAN' },
    { name: 'secrets_then_network', effects: ['READ_SECRETS', 'NETWORK_CALL'], outcome: 'DENY' },
    { name: 'secrets_then_notify', effects: ['READ_SECRETS', 'SEND_NOTIFICATION'], outcome: 'DENY' },
    { name: 'tests_then_network', effects: ['RUN_TESTS', 'NETWORK_CALL'], outcome: 'REQUIRE_HUMAN' },
    { name: 'artifact_then_network', effects: ['BUILD_ARTIFACT', 'NETWORK_CALL'], outcome: 'REQUIRE_HUMAN' },
    { name: 'repo_read_then_pr', effects: ['READ_REPO', 'CREATE_PR'], outcome: 'REQUIRE_HUMAN' },
    { name: 'write_then_merge', effects: ['WRITE_PATCH', 'MERGE'], outcome: 'REQUIRE_HUMAN' },
    { name: 'write_then_deploy', effects: ['WRITE_PATCH', 'DEPLOY'], outcome: 'REQUIRE_HUMAN' },
    { name: 'config_then_network', effects: ['READ_CONFIG', 'NETWORK_CALL'], outcome: 'REQUIRE_HUMAN' },
    { name: 'config_then_notify', effects: ['READ_CONFIG', 'SEND_NOTIFICATION'], outcome: 'REQUIRE_HUMAN' },
  ],
  tripwires: {
    // Case-sensitive JavaScript regular expressions, searched anywhere in the artifact content.
    patterns: [
      { name: 'import_socket', pattern: '\\bimport\\s+socket\\b' },
      { name: 'import_requests', pattern: '\\bimport\\s+requests\\b' },
      { name: 'import_urllib', pattern: '\\bimport\\s+urllib\\b' },
      { name: 'from_urllib', pattern: '\\bfrom\\s+urllib\\b' },
      { name: 'import_httpx', pattern: '\\bimport\\s+httpx\\b' },
      { name: 'import_aiohttp', pattern: '\\bimport\\s+aiohttp\\b' },
      { name: 'subprocess', pattern: '\\bsubprocess\\b' },
      { name: 'os_environ', pattern: 'os\\.environ' },
      { name: 'os_system', pattern: 'os\\.system' },
      { name: 'os_popen', pattern: 'os\\.popen' },
      { name: 'eval', pattern: '\\beval\\s*\\(' },
      { name: 'exec', pattern: '\\bexec\\s*\\(' },
      { name: 'dunder_import', pattern: '\\b__import__\\b' },
      { name: 'sensitive_file_access', pattern: 'open\\(\\s*[\'"](?:/etc/|/proc/)' },
    ],
    maxCodeBytes: 250000,
    scannedTypes: ['code', 'python_code', 'shell_script'],
  },
  virtualFilesystem: [
    { mountPoint: '/dev/shm', policy: 'DENY', reason: 'Shared memory can be used to pass data between processes outside the sandbox.' },
    { mountPoint: '/sys', policy: 'DENY', reason: 'sysfs exposes kernel and hardware state.' },
    { mountPoint: '/run', policy: 'DENY', reason: 'Runtime sockets and state (container runtime, service sockets).' },
    { mountPoint: '/dev/pts', policy: 'DENY', reason: 'Pseudo-terminals allow interaction with other sessions.' },
    { mountPoint: '/dev/mqueue', policy: 'DENY', reason: 'POSIX message queues are an inter-process channel.' },
    {
      mountPoint: '/proc',
      policy: 'ALLOWLIST',
      reason: 'procfs exposes other processes, environment and kernel state; only a few harmless files are readable.',
      allowedPaths: [
        '/proc/self/status',
        '/proc/self/limits',
        '/proc/self/cgroup',
        '/proc/version',
        '/proc/cpuinfo',
        '/proc/meminfo',
        '/proc/loadavg',
      ],
    },
  ],
  evidence: { minObservationsForNonRead: 1 },
  reversibility: {
    cleanupCost: {
      LOW: { budgetMultiplierPercent: 100, retryLimit: 5 },
      MEDIUM: { budgetMultiplierPercent: 80, retryLimit: 3 },
      HIGH: { budgetMultiplierPercent: 50, retryLimit: 1 },
    },
  },
  approvals: {
    requiredCount: 1,
    expirySeconds: 3600,
    challengeSecretRef: { namespace: 'm87-system', name: 'm87-challenge-secret', key: 'secret' },
  },
  envelope: {
    defaults: {
      modelId: 'm87-runner-v1',
      modelSource: 'closed',
      safetyMode: 'safe_default',
      inferencePolicy: { reasoningMode: false, toolAccessProfile: 'default', maxComputeClass: 'standard' },
      autonomyBudget: {
        maxSteps: BUDGET_BOUNDS.maxSteps.default,
        maxToolCalls: BUDGET_BOUNDS.maxToolCalls.default,
        maxParallelAgents: BUDGET_BOUNDS.maxParallelAgents.default,
        maxRuntimeSeconds: BUDGET_BOUNDS.maxRuntimeSeconds.default,
        maxExternalIO: BUDGET_BOUNDS.maxExternalIO.default,
        maxWriteScope: 'sandbox',
      },
    },
    ceiling: {
      maxSteps: BUDGET_BOUNDS.maxSteps.max,
      maxToolCalls: BUDGET_BOUNDS.maxToolCalls.max,
      maxParallelAgents: BUDGET_BOUNDS.maxParallelAgents.max,
      maxRuntimeSeconds: BUDGET_BOUNDS.maxRuntimeSeconds.max,
      maxExternalIO: BUDGET_BOUNDS.maxExternalIO.max,
      maxWriteScope: 'prod',
    },
    allowedEgress: [],
  },
  retention: { ...RETENTION_DEFAULTS },
};

function agentSubject(name: string): string {
  return `system:serviceaccount:m87-agents:${name}`;
}

/**
 * The shipped AgentProfiles, keyed by object name. `human` lists no subjects: admins add people.
 * Deviation from the seed: every profile also holds COMPUTE (read-only), because the runner's `echo` tool
 * needs it and the seed's profiles predate a tool catalogue.
 */
export const DEFAULT_AGENT_PROFILES: Record<string, AgentProfileSpec> = {
  casey: {
    displayName: 'Casey',
    description: 'Code changes and testing.',
    subjects: [agentSubject('casey')],
    allowedEffects: ['READ_REPO', 'COMPUTE', 'WRITE_PATCH', 'RUN_TESTS'],
    maxRisk: 0.6,
  },
  jordan: {
    displayName: 'Jordan',
    description: 'Artifacts, notifications, PRs.',
    subjects: [agentSubject('jordan')],
    allowedEffects: ['SEND_NOTIFICATION', 'BUILD_ARTIFACT', 'CREATE_PR', 'READ_REPO', 'COMPUTE'],
    maxRisk: 0.5,
  },
  riley: {
    displayName: 'Riley',
    description: 'Analysis and reporting.',
    subjects: [agentSubject('riley')],
    allowedEffects: ['READ_REPO', 'BUILD_ARTIFACT', 'SEND_NOTIFICATION', 'COMPUTE'],
    maxRisk: 0.4,
  },
  human: {
    displayName: 'Human',
    description: 'Manual human proposals.',
    subjects: [],
    allowedEffects: [
      'READ_REPO',
      'COMPUTE',
      'WRITE_PATCH',
      'RUN_TESTS',
      'BUILD_ARTIFACT',
      'NETWORK_CALL',
      'SEND_NOTIFICATION',
      'CREATE_PR',
      'MERGE',
      'DEPLOY',
    ],
    maxRisk: 1.0,
  },
};
