import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { findTool, parseToolManifest, TOOL_MANIFEST, ToolManifestError, toolManifestHash, validateStepArgs } from '../../../src/tool-catalogue/manifest.ts';

const raw = JSON.parse(readFileSync(new URL('../../../src/tool-catalogue/manifest.json', import.meta.url), 'utf8')) as Record<string, unknown>;

function tool(name: string) {
  const t = findTool(name);
  if (t === undefined) throw new Error(`no tool ${name}`);
  return t;
}

describe('tool manifest', () => {
  it('ships the initial tools with their effects, write scopes and network needs', () => {
    const summary = TOOL_MANIFEST.tools.map((t) => [t.name, t.effects.join('+'), t.minWriteScope, t.network]);
    expect(summary).toEqual([
      ['echo', 'COMPUTE', 'none', false],
      ['file_write', 'WRITE_PATCH', 'sandbox', false],
      ['run_tests', 'RUN_TESTS', 'sandbox', false],
      ['http_get', 'NETWORK_CALL', 'none', true],
      ['notify', 'SEND_NOTIFICATION', 'none', true],
    ]);
    expect(TOOL_MANIFEST.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(tool('file_write').args.path?.pathLike).toBe(true);
    expect(tool('run_tests').suites?.unit).toEqual(['node', '--version']);
  });

  it('hashes the canonical form of the parsed manifest, so formatting does not matter and content does', () => {
    expect(toolManifestHash()).toBe(canonicalHash(TOOL_MANIFEST));
    expect(toolManifestHash()).toMatch(/^[0-9a-f]{64}$/);
    const reformatted = parseToolManifest(JSON.parse(JSON.stringify(raw, null, 7)));
    expect(toolManifestHash(reformatted)).toBe(toolManifestHash());
    const changed = structuredClone(raw) as { tools: { timeoutSeconds: number }[] };
    (changed.tools[0] as { timeoutSeconds: number }).timeoutSeconds = 11;
    expect(toolManifestHash(parseToolManifest(changed))).not.toBe(toolManifestHash());
  });

  it('is frozen: nobody can alter the catalogue the engine and the runner share at runtime', () => {
    expect(Object.isFrozen(TOOL_MANIFEST)).toBe(true);
    expect(Object.isFrozen(tool('echo').args)).toBe(true);
  });

  it('refuses invalid manifests and names the field', () => {
    const dup = structuredClone(raw) as { tools: unknown[] };
    dup.tools.push(dup.tools[0]);
    expect(() => parseToolManifest(dup)).toThrow(/tools\[5\]\.name: duplicate tool echo/);
    const badEffect = structuredClone(raw) as { tools: { effects: string[] }[] };
    (badEffect.tools[1] as { effects: string[] }).effects = ['WRITE_EVERYTHING'];
    expect(() => parseToolManifest(badEffect)).toThrow(ToolManifestError);
    expect(() => parseToolManifest(badEffect)).toThrow(/tools\[1\]\.effects\[0\]/);
    const suites = structuredClone(raw) as { tools: { suites?: Record<string, string[]> }[] };
    (suites.tools[2] as { suites: Record<string, string[]> }).suites = { unit: ['node', '--version'] };
    expect(() => parseToolManifest(suites)).toThrow(/args\.suite\.enum: must list exactly the configured suites/);
    expect(() => parseToolManifest({ ...raw, extra: 1 })).toThrow(ToolManifestError);
  });
});

describe('validateStepArgs', () => {
  it('accepts valid arguments', () => {
    expect(validateStepArgs(tool('file_write'), { path: 'a.txt', content: 'x' })).toEqual([]);
    expect(validateStepArgs(tool('run_tests'), { suite: 'unit' })).toEqual([]);
    expect(validateStepArgs(tool('notify'), { url: 'https://hooks.example.com/x', message: 'hi' })).toEqual([]);
  });

  it('names each bad argument', () => {
    expect(validateStepArgs(tool('file_write'), { path: 'a.txt' })).toEqual([{ arg: 'content', message: 'is required' }]);
    expect(validateStepArgs(tool('file_write'), { path: '', content: 'x' })).toEqual([{ arg: 'path', message: 'is required' }]);
    expect(validateStepArgs(tool('echo'), { message: 'x', shell: 'sh' })).toEqual([{ arg: 'shell', message: 'is not an argument of tool echo' }]);
    expect(validateStepArgs(tool('run_tests'), { suite: 'rm -rf /' })).toEqual([{ arg: 'suite', message: 'must be one of unit, failing' }]);
    expect(validateStepArgs(tool('echo'), { message: 'x'.repeat(4097) })).toEqual([{ arg: 'message', message: 'is longer than 4096 characters' }]);
    expect(validateStepArgs(tool('http_get'), { url: 'file:///etc/passwd' })).toEqual([{ arg: 'url', message: 'must be an http or https URL, not file:' }]);
    expect(validateStepArgs(tool('http_get'), { url: 'not a url' })).toEqual([{ arg: 'url', message: 'is not a URL' }]);
    expect(validateStepArgs(tool('http_get'), { url: 'https://user:pw@example.com/' })).toEqual([{ arg: 'url', message: 'must not carry credentials' }]);
    expect(validateStepArgs(tool('echo'), { message: 42 })).toEqual([{ arg: 'message', message: 'must be a string' }]);
  });

  it('looks a tool up by name', () => {
    expect(validateStepArgs('run_tests', { suite: 'unit' })).toEqual([]);
    expect(validateStepArgs('run_tests', { suite: 'all' })).toEqual([{ arg: 'suite', message: 'must be one of unit, failing' }]);
    expect(validateStepArgs('shell', { cmd: 'id' })).toEqual([{ arg: '', message: 'tool shell is not in the tool manifest' }]);
  });

  it('does not treat inherited properties as arguments', () => {
    expect(validateStepArgs(tool('echo'), Object.create({ message: 'inherited' }) as Record<string, string>)).toEqual([{ arg: 'message', message: 'is required' }]);
  });
});
