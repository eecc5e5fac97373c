#!/usr/bin/env node
// Postern's sources are TypeScript run by Node ≥ 24 directly. Under an older Node
// (Debian's is 20), re-run with the Node 24 that `npm install` put in node_modules.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
  // More libuv threads: every message costs file and directory fsyncs, which run there.
  process.env.UV_THREADPOOL_SIZE ??= '16';
  const { run } = await import('../core/cli.ts');
  await run(process.argv.slice(2));
}
