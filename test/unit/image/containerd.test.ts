// Import errors name what is wrong before anything is sent: no socket, not a socket, no ctr.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../../dev/image/build.ts';
import { importImage } from '../../../dev/image/containerd.ts';

const work = mkdtempSync(join(tmpdir(), 'm87-import-test-'));
const socket = join(work, 'fake.sock');
let server: Server;
const image = { layout: join(work, 'no-layout'), repository: 'm87.local/m87', tag: '0.1.0', digest: `sha256:${'0'.repeat(64)}` } as BuiltImage;

beforeAll(async () => {
  server = createServer((c) => c.destroy());
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(work, { recursive: true, force: true });
});

describe('importImage', () => {
  it('says when there is no containerd socket', async () => {
    await expect(importImage(image, { address: join(work, 'missing.sock') })).rejects.toThrow(/no containerd socket at .*missing\.sock/);
  });

  it('says when the address is not a socket', async () => {
    writeFileSync(join(work, 'plain'), '');
    await expect(importImage(image, { address: join(work, 'plain') })).rejects.toThrow(/is not a socket/);
  });

  it('says how to get ctr when it is missing', async () => {
    await expect(importImage(image, { address: socket, ctr: join(work, 'no-ctr') })).rejects.toThrow(/is missing: install containerd as root \(apt-get install containerd\)/);
  });
});
