// Free TCP ports on the loopback interface. A port found free can still be taken before the component binds
// it, so callers treat a bind failure as "pick another port and retry" (see isAddressInUse).
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('ports: the OS did not report the port it assigned'));
      });
    });
  });
}

/** n distinct free ports (distinct within this call: the OS may hand out a just-closed port again). */
export async function freeLoopbackPorts(count: number, avoid: ReadonlySet<number> = new Set()): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempts = 0; ports.size < count; attempts++) {
    if (attempts > count * 20) throw new Error(`ports: could not find ${count} distinct free loopback ports`);
    const port = await freeLoopbackPort();
    if (!avoid.has(port)) ports.add(port);
  }
  return [...ports];
}

/** Whether a component's log shows it failed because its listen address was taken. */
export function isAddressInUse(logTail: string): boolean {
  return /address already in use|EADDRINUSE/i.test(logTail);
}
