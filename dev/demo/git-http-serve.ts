// `node dev/demo/git-http-serve.ts <projectRoot> <host>`: the git smart-HTTP server of git-http-server.ts as a
// process of its own, bound to `host` (an address that already exists where it runs: started by
// startGitHttpServerInNetns inside a network namespace attached to the real node's bridge). Prints one JSON
// line {"listening":<port>}, then {"request":"METHOD path"} per request; exits on SIGTERM.
import { startGitHttpServer } from './git-http-server.ts';

const [projectRoot, host] = process.argv.slice(2);
if (projectRoot === undefined || host === undefined) {
  process.stderr.write('usage: git-http-serve.ts <projectRoot> <host>\n');
  process.exit(2);
}
const server = await startGitHttpServer(projectRoot, { host, addressExists: true });
let reported = 0;
const flush = (): void => {
  for (; reported < server.requests.length; reported++) process.stdout.write(`${JSON.stringify({ request: server.requests[reported] })}\n`);
};
setInterval(flush, 50).unref();
process.stdout.write(`${JSON.stringify({ listening: server.port })}\n`);
process.on('SIGTERM', () => {
  flush();
  void server.stop().then(() => process.exit(0));
});
