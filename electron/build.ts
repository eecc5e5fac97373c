// `npm run build:electron`: bundles the Electron main process and the preload with
// esbuild into dist/electron/ (package.json "main": dist/electron/main.cjs).
//
// Why CommonJS for main: electron-store 12 is ESM-only, but a bundle does not care —
// esbuild folds it (and the whole core: smtp-server, mailauth, ajv…) into one file,
// so the packaged app needs neither node_modules nor Node's type stripping. CJS then
// is the format with the fewest surprises in Electron 45: `__dirname` for the
// preload path, synchronous start-up before app 'ready' (protocol registration, the
// single-instance lock), and CJS dependencies' dynamic `require()`s keep working
// (an ESM bundle turns them into "Dynamic require is not supported" throws).
// The one CJS trap, `import.meta` (empty in a CJS bundle), fails the build here.
// The preload must be CommonJS anyway: sandboxed preloads cannot be ESM.
//
// Needs no Electron binary: `electron` stays external (Electron provides it at run time).
// Also writes dist/package.json, the manifest electron-builder packages (see appManifest).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Message, type Plugin } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OUT_DIR = path.join(root, 'dist', 'electron');

const common: BuildOptions = {
  bundle: true,
  format: 'cjs',
  external: ['electron', 'node:sqlite'], // a builtin of Electron's Node (the history index, core/history/)
  sourcemap: 'linked',
  logLevel: 'silent',
  metafile: true,
  absWorkingDir: root,
};

/**
 * core/work/worker-file.ts finds the worker thread's code through import.meta, which
 * a CJS bundle lacks: in main.cjs it is replaced by this, which reads the worker's own
 * bundle (postern-worker.cjs, beside main.cjs) and runs it as code — a file inside
 * app.asar can be read but not started as a worker.
 */
const workerFilePlugin: Plugin = {
  name: 'postern-worker-file',
  setup(b) {
    b.onLoad({ filter: /[\\/]core[\\/]work[\\/]worker-file\.ts$/ }, () => ({
      loader: 'ts',
      contents: [
        "import fs from 'node:fs';",
        "import path from 'node:path';",
        'export type WorkerSource = { file: string } | { code: string };',
        "export function workerSource(): WorkerSource { return { code: fs.readFileSync(path.join(__dirname, 'postern-worker.cjs'), 'utf8') }; }",
      ].join('\n'),
    }));
  },
};

function fatalWarnings(warnings: Message[]): Message[] {
  // import.meta would be undefined at run time in a CJS bundle: refuse, don't ship a crash.
  return warnings.filter((w) => w.id === 'empty-import-meta' || /import\.meta/.test(w.text));
}

/**
 * dist/package.json: the packaged app's manifest (electron-builder's two-package.json
 * layout, `directories.app: dist`). It lists no dependencies — everything is in the
 * bundle — so the package ships without node_modules.
 */
export function appManifest(rootPkg: Record<string, unknown>): Record<string, unknown> {
  const pick = (k: string) => (rootPkg[k] !== undefined ? { [k]: rootPkg[k] } : {});
  return {
    name: rootPkg.name,
    productName: 'Postern',
    version: rootPkg.version,
    ...pick('description'),
    ...pick('license'),
    ...pick('author'),
    ...pick('homepage'),
    main: 'electron/main.cjs',
    private: true,
  };
}

export async function buildElectron(outDir = OUT_DIR): Promise<{ file: string; bytes: number }[]> {
  const targets: BuildOptions[] = [
    // Electron 45 runs Node 24 in main.
    { ...common, entryPoints: ['electron/main.ts'], outfile: path.join(outDir, 'main.cjs'), platform: 'node', target: 'node22', plugins: [workerFilePlugin] },
    // The worker thread of core/work/pool.ts (DKIM verification and signing with a deadline),
    // and of the history index's writer (it takes writer-thread.ts, hence the plugin).
    {
      ...common,
      entryPoints: ['core/work/worker.ts'],
      outfile: path.join(outDir, 'postern-worker.cjs'),
      platform: 'node',
      target: 'node22',
      plugins: [workerFilePlugin],
    },
    // The sandboxed preload gets a renderer `require` that knows only `electron` and a few shims.
    { ...common, entryPoints: ['electron/preload.ts'], outfile: path.join(outDir, 'preload.cjs'), platform: 'browser', target: 'chrome120' },
  ];
  const out: { file: string; bytes: number }[] = [];
  const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, '..', 'package.json'), `${JSON.stringify(appManifest(rootPkg), null, 2)}\n`);
  for (const opts of targets) {
    const r = await build(opts);
    const bad = fatalWarnings(r.warnings);
    if (bad.length) throw new Error(`${opts.outfile}: ${bad.map((w) => `${w.location?.file}:${w.location?.line}: ${w.text}`).join('; ')}`);
    for (const w of r.warnings) console.warn(`warning: ${w.location?.file ?? ''}:${w.location?.line ?? ''} ${w.text}`);
    for (const [file, o] of Object.entries(r.metafile!.outputs))
      if (file.endsWith('.cjs')) out.push({ file: path.relative(root, path.resolve(root, file)), bytes: o.bytes });
  }
  return out;
}

if (import.meta.main) {
  try {
    for (const o of await buildElectron()) console.log(`built ${o.file} (${(o.bytes / 1024).toFixed(0)} KiB)`);
  } catch (e) {
    console.error(`build:electron failed: ${(e as Error).message}`);
    process.exit(1);
  }
}
