// The file system that holds the data dir, described for people (docs/design.md §3.6, §5):
// systeminformation's fsSize() (`df`, run asynchronously) names the mount point, device
// and type; the one whose mount point is the longest prefix of the data dir's real path
// is the one. fsSize leaves out memory file systems (tmpfs): when the best match is not
// the data dir's device, the numbers come from statfs and the mount point from walking
// up the path until the device changes. Not on the SMTP path: the setup check only.
import fs from 'node:fs';
import path from 'node:path';
import si from 'systeminformation';

export interface DiskDescription {
  /** The data dir, links resolved. */
  dir: string;
  mount: string;
  /** Device or source ('/dev/sda2'), '' when unknown. */
  device: string;
  /** File system type ('ext4', 'tmpfs'), '' when unknown. */
  type: string;
  sizeBytes: number;
  /** Available to Postern (not counting blocks reserved for root). */
  freeBytes: number;
  /** Used share in percent, as df counts it: used / (used + available). */
  usedPercent: number;
}

/** The entry whose mount point is the longest path prefix of `real` (path boundaries respected). */
export function longestMount<T extends { mount: string }>(list: T[], real: string): T | null {
  let best: T | null = null;
  for (const m of list) {
    const mount = m.mount.length > 1 ? m.mount.replace(/\/+$/, '') : m.mount;
    const inside = mount === '/' || real === mount || real.startsWith(`${mount}/`);
    if (inside && (!best || mount.length > best.mount.length)) best = m;
  }
  return best;
}

/** The mount point of `real`'s file system: the highest ancestor on the same device. */
export function mountPointOf(real: string): string {
  const dev = fs.statSync(real).dev;
  let cur = real;
  for (;;) {
    const parent = path.dirname(cur);
    if (parent === cur || fs.statSync(parent).dev !== dev) return cur;
    cur = parent;
  }
}

export async function describeDisk(dir: string, fsSize: () => Promise<si.Systeminformation.FsSizeData[]> = () => si.fsSize()): Promise<DiskDescription> {
  const real = fs.realpathSync(dir);
  const st = fs.statfsSync(real);
  const own = { freeBytes: st.bavail * st.bsize, sizeBytes: st.blocks * st.bsize, used: (st.blocks - st.bfree) * st.bsize };
  const usedPercent = (used: number, avail: number) => (used + avail > 0 ? Math.round((1000 * used) / (used + avail)) / 10 : 0);
  let list: si.Systeminformation.FsSizeData[] = [];
  try {
    list = await fsSize();
  } catch {
    // no df: statfs alone
  }
  const best = longestMount(list, real);
  const dev = fs.statSync(real).dev;
  const sameDevice = (() => {
    try {
      return !!best && fs.statSync(best.mount).dev === dev;
    } catch {
      return false;
    }
  })();
  if (best && sameDevice) {
    return {
      dir: real,
      mount: best.mount,
      device: best.fs,
      type: best.type,
      sizeBytes: best.size,
      freeBytes: best.available,
      usedPercent: usedPercent(best.used, best.available),
    };
  }
  const mount = mountPointOf(real);
  const { device, type } = fromMountTable(mount);
  return { dir: real, mount, device, type, sizeBytes: own.sizeBytes, freeBytes: own.freeBytes, usedPercent: usedPercent(own.used, own.freeBytes) };
}

/** Source and type of the mount at `mount` from /proc/self/mounts (Linux); '' elsewhere. */
function fromMountTable(mount: string): { device: string; type: string } {
  try {
    const lines = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n');
    const hit = lines.map((l) => l.split(' ')).filter((f) => f[1] === mount.replace(/ /g, '\\040'));
    const last = hit.at(-1);
    return { device: last?.[0] ?? '', type: last?.[2] ?? '' };
  } catch {
    return { device: '', type: '' };
  }
}
