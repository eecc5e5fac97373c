// Draws Postern's icons into build/ (run `node electron/icons.ts`; the PNGs are
// committed): the app icon (build/icon.png, 1024 px) and the tray icons per state,
// build/tray/{running,stopped,error,attention}{,Template}{,@2x}.png.
// A tiny rasteriser: shapes are signed distance functions, sampled 4×4 per pixel
// for anti-aliasing, composited "over", and written as RGBA PNG with node:zlib.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

type Sdf = (x: number, y: number) => number;
type Rgba = [number, number, number, number];
/** A layer: where (sdf ≤ 0), what colour (a function of y for gradients), or a hole. */
interface Layer {
  sdf: Sdf;
  color?: Rgba | ((x: number, y: number) => Rgba);
  clear?: boolean;
}

// ---- shapes (coordinates in 0..1 of the image) ---------------------------------

const circle =
  (cx: number, cy: number, r: number): Sdf =>
  (x, y) =>
    Math.hypot(x - cx, y - cy) - r;
const roundRect =
  (cx: number, cy: number, hw: number, hh: number, r: number): Sdf =>
  (x, y) => {
    const qx = Math.abs(x - cx) - hw + r;
    const qy = Math.abs(y - cy) - hh + r;
    return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
  };
const segment =
  (ax: number, ay: number, bx: number, by: number, w: number): Sdf =>
  (x, y) => {
    const px = x - ax,
      py = y - ay,
      dx = bx - ax,
      dy = by - ay;
    const t = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy)));
    return Math.hypot(px - t * dx, py - t * dy) - w / 2;
  };
const union =
  (...s: Sdf[]): Sdf =>
  (x, y) =>
    Math.min(...s.map((f) => f(x, y)));
const minus =
  (a: Sdf, b: Sdf): Sdf =>
  (x, y) =>
    Math.max(a(x, y), -b(x, y));
const rotate = (s: Sdf, cx: number, cy: number, deg: number): Sdf => {
  const c = Math.cos((-deg * Math.PI) / 180),
    n = Math.sin((-deg * Math.PI) / 180);
  return (x, y) => s(cx + (x - cx) * c - (y - cy) * n, cy + (x - cx) * n + (y - cy) * c);
};
const ring =
  (s: Sdf, w: number): Sdf =>
  (x, y) =>
    Math.abs(s(x, y) + w / 2) - w / 2;

// ---- raster and PNG --------------------------------------------------------------

export function render(size: number, layers: Layer[]): Buffer {
  const px = Buffer.alloc(size * size * 4);
  const S = 4;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      let r = 0,
        g = 0,
        b = 0,
        a = 0; // premultiplied
      for (const layer of layers) {
        let cover = 0;
        for (let sy = 0; sy < S; sy++) for (let sx = 0; sx < S; sx++) if (layer.sdf((i + (sx + 0.5) / S) / size, (j + (sy + 0.5) / S) / size) <= 0) cover++;
        if (!cover) continue;
        const c = cover / (S * S);
        if (layer.clear) {
          r *= 1 - c;
          g *= 1 - c;
          b *= 1 - c;
          a *= 1 - c;
          continue;
        }
        const col = typeof layer.color === 'function' ? layer.color((i + 0.5) / size, (j + 0.5) / size) : layer.color!;
        const la = (col[3] / 255) * c;
        r = (col[0] / 255) * la + r * (1 - la);
        g = (col[1] / 255) * la + g * (1 - la);
        b = (col[2] / 255) * la + b * (1 - la);
        a = la + a * (1 - la);
      }
      const o = (j * size + i) * 4;
      px[o] = a ? Math.round((r / a) * 255) : 0;
      px[o + 1] = a ? Math.round((g / a) * 255) : 0;
      px[o + 2] = a ? Math.round((b / a) * 255) : 0;
      px[o + 3] = Math.round(a * 255);
    }
  }
  return png(size, size, px);
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td));
  return Buffer.concat([len, td, crc]);
}

export function png(w: number, h: number, rgba: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(6, 9); // RGBA
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) rgba.copy(raw, y * (w * 4 + 1) + 1, y * w * 4, (y + 1) * w * 4); // filter 0
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---- Postern's drawings ------------------------------------------------------------

const WHITE: Rgba = [255, 255, 255, 255];
const INK: Rgba = [31, 41, 55, 255];
const BLACK: Rgba = [0, 0, 0, 255];
export const STATE_COLORS = {
  running: [22, 163, 74, 255] as Rgba,
  stopped: [107, 114, 128, 255] as Rgba,
  error: [220, 38, 38, 255] as Rgba,
  attention: [217, 119, 6, 255] as Rgba,
};
export type IconState = keyof typeof STATE_COLORS;

/** The app icon: a blue tile, a white arched gate (a postern), a letter passing through it. */
export function appIcon(size = 1024): Buffer {
  const lerp = (a: number, b: number, t: number) => Math.round(a + (b - a) * t);
  const bg = (_x: number, y: number): Rgba => [lerp(59, 30, y), lerp(130, 64, y), lerp(246, 175, y), 255];
  const gate = union(roundRect(0.5, 0.58, 0.27, 0.22, 0), circle(0.5, 0.36, 0.27));
  const doorway = union(roundRect(0.5, 0.65, 0.17, 0.25, 0), circle(0.5, 0.4, 0.17));
  const letter = rotate(roundRect(0.53, 0.62, 0.2, 0.13, 0.025), 0.53, 0.62, -12);
  const flap = rotate(union(segment(0.345, 0.51, 0.53, 0.64, 0.035), segment(0.53, 0.64, 0.715, 0.51, 0.035)), 0.53, 0.62, -12);
  const blue: Rgba = [30, 64, 175, 255];
  return render(size, [
    { sdf: roundRect(0.5, 0.5, 0.46, 0.46, 0.2), color: bg },
    { sdf: minus(gate, doorway), color: WHITE },
    { sdf: roundRect(0.5, 0.81, 0.36, 0.022, 0.011), color: WHITE },
    { sdf: letter, color: [254, 243, 199, 255] },
    { sdf: ring(letter, 0.024), color: blue },
    { sdf: flap, color: blue },
  ]);
}

/** Envelope geometry shared by the tray icons (a 16-px grid, so lines land on pixels). */
const body = roundRect(0.47, 0.5, 0.41, 0.3, 0.07);
const flapLines = (w: number) => union(segment(0.12, 0.27, 0.47, 0.55, w), segment(0.47, 0.55, 0.82, 0.27, w));
const badge = circle(0.76, 0.74, 0.24);
const badgeHalo = circle(0.76, 0.74, 0.33);

/** Colour tray icon: a white letter with a dark outline (readable on dark and light panels), a state dot. */
export function trayIcon(state: IconState, size: number): Buffer {
  const line = size <= 16 ? 0.1 : 0.075;
  const layers: Layer[] = [
    { sdf: body, color: WHITE },
    { sdf: ring(body, line), color: INK },
    { sdf: flapLines(line), color: INK },
    { sdf: badgeHalo, clear: true },
    { sdf: badge, color: STATE_COLORS[state] },
  ];
  // Stopped is a hollow dot, not only a grey one: the states differ in shape, not just colour.
  if (state === 'stopped') layers.push({ sdf: circle(0.76, 0.74, 0.12), color: WHITE });
  if (state === 'error') layers.push({ sdf: union(segment(0.66, 0.64, 0.86, 0.84, 0.075), segment(0.86, 0.64, 0.66, 0.84, 0.075)), color: WHITE });
  if (state === 'attention') layers.push({ sdf: union(segment(0.76, 0.6, 0.76, 0.76, 0.08), circle(0.76, 0.865, 0.045)), color: WHITE });
  return render(size, layers);
}

/** macOS template (black + alpha, tinted by the menu bar): solid letter running, hollow stopped, marks for error/attention. */
export function trayTemplate(state: IconState, size: number): Buffer {
  const line = size <= 16 ? 0.1 : 0.08;
  const layers: Layer[] =
    state === 'stopped'
      ? [
          { sdf: ring(body, line), color: BLACK },
          { sdf: flapLines(line), color: BLACK },
        ]
      : [
          { sdf: body, color: BLACK },
          { sdf: flapLines(line), clear: true },
        ];
  if (state === 'error' || state === 'attention') {
    layers.push({ sdf: badgeHalo, clear: true }, { sdf: badge, color: BLACK });
    const mark =
      state === 'error'
        ? union(segment(0.66, 0.64, 0.86, 0.84, 0.08), segment(0.86, 0.64, 0.66, 0.84, 0.08))
        : union(segment(0.76, 0.6, 0.76, 0.76, 0.085), circle(0.76, 0.865, 0.05));
    layers.push({ sdf: mark, clear: true });
  }
  return render(size, layers);
}

export const TRAY_STATES: IconState[] = ['running', 'stopped', 'error', 'attention'];

/** Every file this script writes, relative to build/. */
export function iconFiles(): { file: string; draw: () => Buffer }[] {
  const out: { file: string; draw: () => Buffer }[] = [{ file: 'icon.png', draw: () => appIcon(1024) }];
  for (const s of TRAY_STATES) {
    out.push({ file: `tray/${s}.png`, draw: () => trayIcon(s, 16) }, { file: `tray/${s}@2x.png`, draw: () => trayIcon(s, 32) });
    out.push({ file: `tray/${s}Template.png`, draw: () => trayTemplate(s, 16) }, { file: `tray/${s}Template@2x.png`, draw: () => trayTemplate(s, 32) });
  }
  return out;
}

if (import.meta.main) {
  const buildDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'build');
  for (const { file, draw } of iconFiles()) {
    const p = path.join(buildDir, file);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, draw());
    console.log(`wrote build/${file}`);
  }
}
