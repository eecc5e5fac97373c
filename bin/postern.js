#!/usr/bin/env node
// Postern's sources are TypeScript run by Node ≥ 24 directly. Under an older Node
// (Debian's is 20), re-run with the Node 24 that `npm install` put in node_modules.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19) || major === 23) {
  const local = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(local)) {
    console.error(`postern: needs Node.js 24 (this is ${process.version}); run \`npm install\` in the Postern folder first`);
    process.exit(2);
  }
  const child = spawn(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // Forward each signal once (a `kill <this pid>` must reach Postern). A signal to the
  // whole process group reaches the child directly too; it ignores the repeat.
  const forwarded = new Set();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (forwarded.has(sig)) return;
      forwarded.add(sig);
      child.kill(sig);
    });
  }
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  // libuv's thread pool runs every file operation and fsync of a message. Two threads per
  // core, at least libuv's default of 4: on two cores 16 threads were 7 % slower than 4 —
  // they contend for the pool's lock more than their disk syncs overlap (docs/benchmarks.md).
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, 2 * availableParallelism()));
  const { run } = await import('../core/cli.ts');
  await run(process.argv.slice(2));
}
