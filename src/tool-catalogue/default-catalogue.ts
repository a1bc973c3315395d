import { PLACEHOLDER_DIGEST } from '../api/image.ts';
import type { ToolSpecInput } from '../api/tool.ts';
import { catalogueOf, type ToolCatalogue } from './catalogue.ts';

/**
 * The shipped catalogue: the Tools the Helm chart installs (charts/m87/files/tools.yaml, generated from
 * here by `npm run gen` via examples/tools.yaml). Platform admins edit, add or remove them as objects.
 *
 * The images carry the PLACEHOLDER digest (sha256:000…0) until the project's offline image build writes
 * the real digests here; isPlaceholderImage() finds them, and a unit test lists every tool still using one.
 */
const placeholder = (repository: string): string => `${repository}@${PLACEHOLDER_DIGEST}`;

/** Image of the git tools: git and the m87-apply-patch entrypoint. */
export const GIT_TOOL_IMAGE = placeholder('ghcr.io/m87/tool-git');
/** Image of run-tests: Python 3 with pytest. */
export const PYTEST_TOOL_IMAGE = placeholder('ghcr.io/m87/tool-python-pytest');
/** The M87 image: http-get and notify are served by the runner itself, through its egress gate. */
export const M87_TOOL_IMAGE = placeholder('ghcr.io/m87/m87');

export const SHIPPED_TOOLS: Readonly<Record<string, ToolSpecInput>> = {
  'git-checkout': {
    description:
      'Checks out a git repository at a pinned commit. The runner fetches the repository through its egress gate (its host must be in the envelope egress), verifies the commit and mounts the tree; this step prints the commit it got.',
    effects: ['READ_REPO'],
    minWriteScope: 'none',
    executionModes: ['commit', 'draft', 'preview'],
    args: {
      repository: { type: 'string', required: true, maxLength: 2048, format: 'url', description: 'Repository URL (http or https, smart HTTP).' },
      commit: { type: 'string', required: true, maxLength: 64, format: 'gitCommit', description: 'Full commit id to check out.' },
    },
    image: GIT_TOOL_IMAGE,
    argv: [
      { literal: 'git' },
      { literal: '-c' },
      { literal: 'safe.directory=/workspace' },
      { literal: '-C' },
      { literal: '/workspace' },
      { literal: 'log' },
      { literal: '-1' },
      { literal: '--format=%H %s' },
      { arg: 'commit' },
      { literal: '--' },
    ],
    env: [{ name: 'GIT_CONFIG_NOSYSTEM', value: '1' }],
    timeoutSeconds: 120,
    network: false,
    workspace: { access: 'readOnly', git: { repositoryArg: 'repository', commitArg: 'commit' }, outputs: [] },
  },
  'apply-patch': {
    description: 'Applies a unified diff to the workspace (every path must stay inside it) and outputs the resulting patch.',
    effects: ['WRITE_PATCH'],
    minWriteScope: 'sandbox',
    executionModes: ['commit', 'draft'],
    args: {
      patch: { type: 'string', required: true, maxLength: 65536, format: 'patch', description: 'The unified diff to apply.' },
    },
    image: GIT_TOOL_IMAGE,
    // A diff starts with "---" or "diff": it is an operand after "--", never an option.
    argv: [{ literal: 'm87-apply-patch' }, { literal: '--' }, { arg: 'patch' }],
    env: [{ name: 'GIT_CONFIG_NOSYSTEM', value: '1' }],
    timeoutSeconds: 60,
    network: false,
    workspace: { access: 'writable', outputs: [{ name: 'patch', kind: 'patch', maxBytes: 1_048_576 }] },
  },
  'run-tests': {
    description: "Runs the repository's tests with pytest (no network, no cache writes) and outputs a JUnit XML report.",
    effects: ['RUN_TESTS'],
    minWriteScope: 'sandbox',
    executionModes: ['commit', 'draft', 'preview'],
    args: {
      path: { type: 'string', maxLength: 1024, pathLike: true, default: '.', description: 'Test file or directory, relative to the workspace.' },
      maxFailures: { type: 'int', minimum: 1, maximum: 1000, default: '100', description: 'Stop after this many failures.' },
    },
    image: PYTEST_TOOL_IMAGE,
    argv: [
      { literal: 'python3' },
      { literal: '-m' },
      { literal: 'pytest' },
      { literal: '-p' },
      { literal: 'no:cacheprovider' },
      { literal: '--rootdir=/workspace' },
      { literal: '--junitxml=/workspace/.m87/test-report.xml' },
      { literal: '--maxfail' },
      { arg: 'maxFailures' },
      { literal: '--' },
      { arg: 'path' },
    ],
    env: [
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      { name: 'PYTHONHASHSEED', value: '0' },
    ],
    timeoutSeconds: 600,
    network: false,
    workspace: { access: 'writable', outputs: [{ name: 'test-report', kind: 'file', path: '.m87/test-report.xml', maxBytes: 262_144 }] },
  },
  'http-get': {
    description: 'Fetches a URL through the runner egress gate (the host must be in the envelope egress allowlist).',
    effects: ['NETWORK_CALL'],
    minWriteScope: 'none',
    executionModes: ['commit'],
    args: {
      url: { type: 'string', required: true, maxLength: 2048, format: 'url', description: 'The URL to fetch.' },
    },
    image: M87_TOOL_IMAGE,
    argv: [{ literal: 'm87' }, { literal: 'tool' }, { literal: 'http-get' }, { literal: '--' }, { arg: 'url' }],
    timeoutSeconds: 30,
    network: true,
    workspace: { access: 'none', outputs: [] },
  },
  notify: {
    description: 'POSTs a message to a URL through the runner egress gate (the host must be in the envelope egress allowlist).',
    effects: ['SEND_NOTIFICATION'],
    minWriteScope: 'none',
    executionModes: ['commit'],
    args: {
      url: { type: 'string', required: true, maxLength: 2048, format: 'url', description: 'Where to POST.' },
      message: { type: 'string', required: true, maxLength: 4096, multiline: true, description: 'The message body.' },
    },
    image: M87_TOOL_IMAGE,
    argv: [{ literal: 'm87' }, { literal: 'tool' }, { literal: 'notify' }, { literal: '--' }, { arg: 'url' }, { arg: 'message' }],
    timeoutSeconds: 30,
    network: true,
    workspace: { access: 'none', outputs: [] },
  },
};

/** The shipped catalogue, parsed (what a cluster with the chart's default Tools holds). */
export const DEFAULT_CATALOGUE: ToolCatalogue = catalogueOf(Object.entries(SHIPPED_TOOLS));
