// The layering of src/ is enforced by the lint config (eslint.config.js): these cases prove the rule fires on
// a wrong-way import and stays quiet on a right-way one, linting real files of the tree with one line added.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const eslint = new ESLint({ cwd: ROOT });

async function restrictedImports(file: string, extraLine: string): Promise<string[]> {
  const text = `${extraLine}\n${readFileSync(join(ROOT, file), 'utf8')}`;
  const [result] = await eslint.lintText(text, { filePath: join(ROOT, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import layering', () => {
  it.each([
    ['src/governance/evaluate.ts', "import '../controller/names.ts';", /may import only/],
    ['src/governance/evaluate.ts', "import 'node:fs';", /pure: no I\/O/],
    ['src/api/proposal.ts', "import '../hash/canonical.ts';", /may import only nothing else/],
    ['src/hash/canonical.ts', "import '../api/proposal.ts';", /may import only/],
    ['src/runtime/workqueue.ts', "import '../governance/index.ts';", /may import only/],
    ['src/runner/runner.ts', "import '../controller/names.ts';", /may import only/],
    ['src/controller/names.ts', "import '../../dev/cluster/index.ts';", /development or test support/],
    ['src/controller/names.ts', "import '../cli/output.ts';", /may import only/],
    ['src/client/client.ts', "import '../controller/names.ts';", /may import only/],
    ['src/console/server.ts', "import '../controller/names.ts';", /may import only/],
  ])('%s: %s is refused', async (file, line, message) => {
    const messages = await restrictedImports(file, line);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(message);
  }, 60_000);

  it.each([
    ['src/governance/evaluate.ts', "import '../api/proposal.ts';"],
    ['src/controller/names.ts', "import '../runtime/index.ts';"],
    ['src/cli/output.ts', "import '../controller/names.ts';"],
    ['src/cli/output.ts', "import '../client/index.ts';"],
  ])('%s: %s is allowed', async (file, line) => {
    expect(await restrictedImports(file, line)).toEqual([]);
  }, 60_000);
});
