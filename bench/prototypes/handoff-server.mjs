// Prototype (issue 17, docs/cli-start.md option C): a warm `ns` that runs each call handed
// to it by bench/prototypes/handoff-client.c with the CLI's main() in its own process.
//   node handoff-server.mjs SOCKET
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { main } from '../../packages/cli/dist/index.js';

const path = process.argv[2];
rmSync(path, { force: true });
createServer({ allowHalfOpen: true }, (sock) => {
  const chunks = [];
  sock.on('data', (d) => chunks.push(d));
  sock.on('end', async () => {
    const argv = Buffer.concat(chunks).toString('utf8').split('\0').slice(0, -1);
    let out = '';
    const status = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (out += t) });
    sock.end(`${out}\0${status}`);
  });
}).listen(path, () => process.send?.('ready'));
