// Builds the dashboard (renderer/) into dist/renderer. Relative asset URLs (`base:
// './'`) so the same build serves over HTTP (core/http) and from a file in Electron.
// No inline script or style is emitted: the CSP is `script-src 'self'; style-src 'self'`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
