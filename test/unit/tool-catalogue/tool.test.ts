// The Tool kind (zod side; the API server side is test/integration/api/tools.test.ts), the tool hash and
// the shipped catalogue.
import { describe, expect, it } from 'vitest';
import { DIGEST_PINNED_IMAGE, isPlaceholderImage, PLACEHOLDER_DIGEST } from '../../../src/api/image.ts';
import { Tool } from '../../../src/api/kinds.ts';
import { ToolSpec, type ToolSpecInput } from '../../../src/api/tool.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { CanonicalizationError } from '../../../src/hash/canonical.ts';
import { catalogueOf, parseTool, ToolCatalogueError } from '../../../src/tool-catalogue/catalogue.ts';
import { DEFAULT_CATALOGUE, SHIPPED_TOOLS } from '../../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../../src/tool-catalogue/tool-hash.ts';

const DIGEST = 'b'.repeat(64);

function spec(overrides: Partial<ToolSpecInput> = {}): ToolSpecInput {
  return {
    description: 'runs a thing',
    effects: ['COMPUTE'],
    minWriteScope: 'none',
    executionModes: ['commit'],
    args: { target: { type: 'string', required: true, maxLength: 128, pathLike: true } },
    image: `ghcr.io/acme/thing@sha256:${DIGEST}`,
    argv: [{ literal: 'thing' }, { literal: '--' }, { arg: 'target' }],
    timeoutSeconds: 30,
    network: false,
    ...overrides,
  };
}

/** The first issue's path and message, as the controller and kubectl would report them. */
function firstIssue(input: unknown): { path: string; message: string } | undefined {
  const r = ToolSpec.safeParse(input);
  if (r.success) return undefined;
  const issue = r.error.issues[0];
  return { path: (issue?.path ?? []).join('.'), message: issue?.message ?? '' };
}

describe('Tool spec schema', () => {
  it('accepts a complete tool and fills the documented defaults', () => {
    const parsed = ToolSpec.parse(spec());
    expect(parsed.env).toEqual([]);
    expect(parsed.workspace).toEqual({ access: 'readOnly', outputs: [] });
    expect(parsed.args.target).toMatchObject({ required: true, allowLeadingDash: false });
  });

  it.each([
    ['python:3.12', 'a tag'],
    ['python:3.12@sha256:' + DIGEST, 'a tag and a digest'],
    ['python@sha256:' + DIGEST.slice(1), 'a short digest'],
    ['python@sha256:' + DIGEST.toUpperCase(), 'upper-case hex'],
    ['python@sha512:' + DIGEST + DIGEST, 'another algorithm'],
    ['Python@sha256:' + DIGEST, 'an upper-case repository'],
    ['python', 'no digest at all'],
  ])('refuses image %s (%s), naming the field', (image) => {
    const issue = firstIssue(spec({ image }));
    expect(issue?.path).toBe('image');
    expect(issue?.message).toMatch(/pinned by digest/);
  });

  it.each(['python@sha256:' + DIGEST, 'localhost:5000/m87/tool-git@sha256:' + DIGEST, 'ghcr.io/m87/tool-python-pytest@sha256:' + DIGEST])(
    'accepts digest-pinned image %s',
    (image) => {
      expect(DIGEST_PINNED_IMAGE.test(image)).toBe(true);
      expect(firstIssue(spec({ image }))).toBeUndefined();
    },
  );

  it.each<[string, Partial<ToolSpecInput>, string, RegExp]>([
    ['a placeholder naming no argument', { argv: [{ literal: 'x' }, { arg: 'nope' }] }, 'argv.1.arg', /names no argument/],
    [
      'an optional argument without default in argv (it would shift later items)',
      { args: { target: { type: 'string', maxLength: 8 } } },
      'argv.2.arg',
      /required or have a default/,
    ],
    ['an argv item that is both literal and arg', { argv: [{ literal: 'x', arg: 'target' }] }, 'argv.0', /exactly one of literal or arg/],
    ['a literal with NUL', { argv: [{ literal: 'x\u0000y' }, { arg: 'target' }] }, 'argv.0.literal', /NUL/],
    ['a placeholder as the program (argv[0])', { argv: [{ arg: 'target' }] }, 'argv.0', /argv\[0\] must be a literal/],
    ['a string argument without maxLength', { args: { target: { type: 'string', required: true } } }, 'args.target.maxLength', /needs maxLength/],
    ['an enum argument without values', { args: { target: { type: 'enum', required: true } } }, 'args.target.enum', /enum/],
    ['pathLike on an int', { args: { target: { type: 'int', required: true, pathLike: true } } }, 'args.target.type', /string arguments only/],
    ['minimum above maximum', { args: { target: { type: 'int', required: true, minimum: 5, maximum: 1 } } }, 'args.target.minimum', /must not exceed/],
    ['a default longer than maxLength', { args: { target: { type: 'string', maxLength: 2, default: 'abc' } } }, 'args.target.default', /longer than maxLength/],
    ['a secret reference in env', { env: [{ name: 'TOKEN', value: 'x', valueFrom: { secretKeyRef: {} } } as never] }, 'env.0', /valueFrom|Unrecognized/],
    ['a repeated env name', { env: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] }, 'env', /must not repeat/],
    ['a writable workspace with write scope none', { workspace: { access: 'writable', outputs: [] } }, 'workspace.access', /minWriteScope/],
    [
      'a file output escaping the workspace',
      { workspace: { access: 'readOnly', outputs: [{ name: 'r', kind: 'file', path: '../r.xml', maxBytes: 10 }] } },
      'workspace.outputs.0.path',
      /relative to the workspace/,
    ],
    ['an output over the cap', { workspace: { access: 'readOnly', outputs: [{ name: 'p', kind: 'patch', maxBytes: 2_000_000 }] } }, 'workspace.outputs.0.maxBytes', /1048576/],
    ['a git input without a url argument', { workspace: { access: 'readOnly', git: { repositoryArg: 'target', commitArg: 'target' }, outputs: [] } }, 'workspace.git.repositoryArg', /format url/],
    ['an unknown field', { shell: true } as Partial<ToolSpecInput>, '', /Unrecognized key/],
  ])('refuses %s, naming the field', (_what, overrides, path, message) => {
    const issue = firstIssue(spec(overrides));
    expect(issue?.path).toBe(path);
    expect(issue?.message).toMatch(message);
  });

  it('the Tool kind validates apiVersion, kind and spec', () => {
    expect(Tool.safeParse({ apiVersion: 'governance.m87.io/v1alpha1', kind: 'Tool', metadata: { name: 'thing' }, spec: spec() }).success).toBe(true);
    expect(Tool.safeParse({ apiVersion: 'governance.m87.io/v1alpha1', kind: 'Tool', metadata: { name: 'thing' }, spec: spec({ image: 'x:latest' }) }).success).toBe(false);
  });
});

describe('toolHash', () => {
  it('is the canonical hash of the parsed spec (one hashing implementation)', () => {
    expect(toolHash(spec())).toBe(canonicalHash(ToolSpec.parse(spec())));
    expect(toolHash(spec())).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ignores key order and explicit defaults, and changes with any content', () => {
    const reordered = Object.fromEntries(Object.entries(spec()).reverse());
    expect(toolHash(reordered)).toBe(toolHash(spec()));
    expect(toolHash(spec({ env: [], workspace: { access: 'readOnly', outputs: [] } }))).toBe(toolHash(spec()));
    const base = toolHash(spec());
    for (const changed of [
      spec({ image: `ghcr.io/acme/thing@sha256:${'c'.repeat(64)}` }),
      spec({ argv: [{ literal: 'thing' }, { literal: '-v' }, { literal: '--' }, { arg: 'target' }] }),
      spec({ env: [{ name: 'X', value: '1' }] }),
      spec({ effects: ['COMPUTE', 'READ_REPO'] }),
      spec({ timeoutSeconds: 31 }),
      spec({ network: true }),
    ]) {
      expect(toolHash(changed)).not.toBe(base);
    }
  });

  it('refuses to hash an invalid spec, naming the field', () => {
    expect(() => toolHash(spec({ image: 'thing:latest' }))).toThrow(CanonicalizationError);
    expect(() => toolHash(spec({ image: 'thing:latest' }))).toThrow(/spec\.image/);
  });

  it('a cached hash of a frozen spec matches a fresh computation', () => {
    const frozen = parseTool('thing', spec());
    expect(toolHash(frozen)).toBe(toolHash(structuredClone(frozen)));
    expect(toolHash(frozen)).toBe(toolHash(frozen));
  });
});

describe('catalogues', () => {
  it('parseTool and catalogueOf name the tool and the field, and refuse names no object can have', () => {
    expect(() => parseTool('thing', spec({ timeoutSeconds: 0 }))).toThrow(/tool thing: spec\.timeoutSeconds/);
    expect(() => parseTool('Bad_Name', spec())).toThrow(ToolCatalogueError);
    expect(() =>
      catalogueOf([
        ['a', spec()],
        ['a', spec()],
      ]),
    ).toThrow(/listed twice/);
    expect(Object.isFrozen(parseTool('thing', spec()).args)).toBe(true);
  });

  it('ships git-checkout, apply-patch, run-tests, http-get and notify', () => {
    const summary = [...DEFAULT_CATALOGUE].map(([name, t]) => [name, t.effects.join('+'), t.minWriteScope, t.network, t.workspace.access]);
    expect(summary).toEqual([
      ['git-checkout', 'READ_REPO', 'none', false, 'readOnly'],
      ['apply-patch', 'WRITE_PATCH', 'sandbox', false, 'writable'],
      ['run-tests', 'RUN_TESTS', 'sandbox', false, 'writable'],
      ['http-get', 'NETWORK_CALL', 'none', true, 'none'],
      ['notify', 'SEND_NOTIFICATION', 'none', true, 'none'],
    ]);
    expect(DEFAULT_CATALOGUE.get('git-checkout')?.workspace.git).toEqual({ repositoryArg: 'repository', commitArg: 'commit' });
    expect(DEFAULT_CATALOGUE.get('run-tests')?.image).toMatch(/python-pytest@sha256:/);
  });

  it('every shipped tool is pinned by digest', () => {
    for (const [name, t] of Object.entries(SHIPPED_TOOLS)) expect(t.image, name).toMatch(DIGEST_PINNED_IMAGE);
  });

  it('no shipped tool carries the placeholder digest: each pins an image the project builds (src/tool-catalogue/tool-images.json)', () => {
    const placeholders = Object.entries(SHIPPED_TOOLS)
      .filter(([, t]) => isPlaceholderImage(t.image))
      .map(([n]) => n);
    expect(PLACEHOLDER_DIGEST).toBe(`sha256:${'0'.repeat(64)}`);
    expect(placeholders).toEqual([]);
    for (const t of Object.values(SHIPPED_TOOLS)) expect(t.image).toMatch(/^m87\.local\/tool-[a-z-]+@sha256:[0-9a-f]{64}$/);
  });

  it('there are no built-in tools: the old underscore names are no Tool names', () => {
    for (const name of ['file_write', 'run_tests', 'http_get']) expect(() => parseTool(name, spec())).toThrow(/metadata\.name must be a DNS label/);
  });
});
