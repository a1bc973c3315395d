import type { ToolSpecInput } from '../api/tool.ts';
import { catalogueOf, type ToolCatalogue } from './catalogue.ts';
import toolImages from './tool-images.json' with { type: 'json' };

/**
 * The shipped catalogue: the Tools the Helm chart installs (charts/m87/files/tools.yaml, generated from
 * here by `npm run gen` via examples/tools.yaml). Platform admins edit, add or remove them as objects.
 *
 * Their images are the project's own, built offline and reproducibly by `npm run image -- --tools`
 * (dev/image/tool-images.ts) from this host's packages; `--write-catalogue` writes their digests to
 * tool-images.json, pinned here, and test/integration/image/tool-images.test.ts fails when a fresh build
 * differs. The runner is not in them: a step Pod delivers it (docs/architecture.md, "Job execution").
 */
const pinned = (name: keyof typeof toolImages): string => `m87.local/${name}@${toolImages[name]}`;

/** git, git-remote-http(s), /bin/sh and m87-apply-patch. */
export const GIT_TOOL_IMAGE = pinned('tool-git');
/** CPython 3 with its standard library and pytest. */
export const PYTEST_TOOL_IMAGE = pinned('tool-python-pytest');
/** curl: http-get and notify, through the egress gate (http(s)_proxy). */
export const CURL_TOOL_IMAGE = pinned('tool-curl');

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
    description: 'Fetches a URL with curl through the runner egress gate (the host must be in the envelope egress allowlist); no redirects followed.',
    effects: ['NETWORK_CALL'],
    minWriteScope: 'none',
    executionModes: ['commit'],
    args: {
      url: { type: 'string', required: true, maxLength: 2048, format: 'url', description: 'The URL to fetch.' },
    },
    image: CURL_TOOL_IMAGE,
    argv: [
      { literal: 'curl' },
      { literal: '--fail' },
      { literal: '--silent' },
      { literal: '--show-error' },
      { literal: '--max-redirs' },
      { literal: '0' },
      { literal: '--proto' },
      { literal: '=http,https' },
      { literal: '--max-filesize' },
      { literal: '1048576' },
      { literal: '--' },
      { arg: 'url' },
    ],
    timeoutSeconds: 30,
    network: true,
    workspace: { access: 'none', outputs: [] },
  },
  notify: {
    description: 'POSTs a message with curl through the runner egress gate (the host must be in the envelope egress allowlist).',
    effects: ['SEND_NOTIFICATION'],
    minWriteScope: 'none',
    executionModes: ['commit'],
    args: {
      url: { type: 'string', required: true, maxLength: 2048, format: 'url', description: 'Where to POST.' },
      // The value of --data-raw (which never reads a file, unlike --data's @file): a leading dash is data.
      message: { type: 'string', required: true, maxLength: 4096, multiline: true, allowLeadingDash: true, description: 'The message body (text/plain).' },
    },
    image: CURL_TOOL_IMAGE,
    argv: [
      { literal: 'curl' },
      { literal: '--fail' },
      { literal: '--silent' },
      { literal: '--show-error' },
      { literal: '--max-redirs' },
      { literal: '0' },
      { literal: '--proto' },
      { literal: '=http,https' },
      { literal: '--header' },
      { literal: 'Content-Type: text/plain; charset=utf-8' },
      { literal: '--data-raw' },
      { arg: 'message' },
      { literal: '--' },
      { arg: 'url' },
    ],
    timeoutSeconds: 30,
    network: true,
    workspace: { access: 'none', outputs: [] },
  },
};

/** The shipped catalogue, parsed (what a cluster with the chart's default Tools holds). */
export const DEFAULT_CATALOGUE: ToolCatalogue = catalogueOf(Object.entries(SHIPPED_TOOLS));
