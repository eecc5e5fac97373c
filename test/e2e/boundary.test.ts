// The renderer's boundary (docs/design.md §9.2): it
// imports React, TanStack Virtual, its own files, the TYPES of core/api.ts and the
// method list of core/api-methods.ts (a file that itself imports only types) —
// never core internals, never Node or Electron; the built bundle reaches for no
// Node module and contains no inline script or style the CSP would refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DIST, ensureRenderer, ROOT } from './support.ts';

const SRC = path.join(ROOT, 'renderer', 'src');
// uPlot draws the Traffic page's chart (docs/design.md §7.4).
const ALLOWED_PACKAGES = new Set(['react', 'react/jsx-runtime', 'react-dom/client', '@tanstack/react-virtual', 'uplot', 'uplot/dist/uPlot.min.css']);

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : /\.(ts|tsx)$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

/** Every import/export-from in a file, with whether it is type-only. */
function imports(code: string): { spec: string; typeOnly: boolean }[] {
  const out: { spec: string; typeOnly: boolean }[] = [];
  for (const m of code.matchAll(/^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/gm)) out.push({ spec: m[4], typeOnly: !!m[2] });
  for (const m of code.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push({ spec: m[1], typeOnly: false });
  for (const m of code.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1], typeOnly: false });
  return out;
}

test('renderer/src imports only React, TanStack Virtual, itself, the types of core/api.ts and the method list', () => {
  const list = files(SRC);
  assert.ok(list.length > 10);
  const apiFile = path.join(ROOT, 'core', 'api.ts');
  const methodsFile = path.join(ROOT, 'core', 'api-methods.ts');
  // The one core file the bundle takes a value from: it must stay a list of names.
  for (const { spec, typeOnly } of imports(fs.readFileSync(methodsFile, 'utf8'))) {
    assert.ok(typeOnly, `core/api-methods.ts imports "${spec}" as a value: it must import only types`);
  }
  let seenApi = 0;
  for (const f of list) {
    for (const { spec, typeOnly } of imports(fs.readFileSync(f, 'utf8'))) {
      const where = `${path.relative(ROOT, f)} imports "${spec}"`;
      if (spec.startsWith('.')) {
        const target = path.resolve(path.dirname(f), spec);
        if (target.startsWith(SRC + path.sep) || target === path.join(SRC, 'styles.css')) continue;
        if (target === methodsFile) continue;
        assert.equal(target, apiFile, `${where}: outside renderer/src only core/api.ts (and core/api-methods.ts) may be imported`);
        assert.ok(typeOnly, `${where}: core/api.ts only with \`import type\` / \`export type\``);
        seenApi++;
        continue;
      }
      assert.ok(ALLOWED_PACKAGES.has(spec), `${where}: not an allowed package`);
    }
  }
  assert.ok(seenApi >= 1, 'the contract types come from core/api.ts');
});

test('the built page: no Node modules, no inline script or style, assets only from itself', async () => {
  await ensureRenderer();
  const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline <script>');
  assert.doesNotMatch(html, /<style/i, 'no <style> element');
  assert.doesNotMatch(html, /\sstyle=/i, 'no style attribute');
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i, 'nothing from another origin');
  const assets = fs.readdirSync(path.join(DIST, 'assets'));
  const js = assets.filter((a) => a.endsWith('.js'));
  assert.ok(js.length >= 1);
  for (const a of js) {
    const code = fs.readFileSync(path.join(DIST, 'assets', a), 'utf8');
    assert.doesNotMatch(code, /from\s*["']node:|require\(["']node:|["']electron["']/, `${a} reaches for Node or Electron`);
    assert.doesNotMatch(code, /\beval\(|new Function\(/, `${a} needs unsafe-eval`);
  }
});
