// Where the worker thread's code is (core/work/pool.ts). Running from source (Node's
// type stripping): worker.ts beside this file. The desktop app's CommonJS bundle has
// no import.meta: electron/build.ts replaces this module with one that reads the
// worker's own bundle, dist/electron/postern-worker.cjs, and runs it as code
// (`eval`), which also works from inside app.asar.
import { fileURLToPath } from 'node:url';

export type WorkerSource = { file: string } | { code: string };

export function workerSource(): WorkerSource {
  return { file: fileURLToPath(new URL('./worker.ts', import.meta.url)) };
}
