// The disk check (docs/design.md §5, §3.6): free space on the file system that holds the
// data dir — the spool, the Maildirs and the log. A warning under 2 GB free or over 90 %
// used; a failure under `limits.minFreeBytes` (200 MB), where the gateway already
// answers new mail with 452 4.3.1.
import { describeDisk, type DiskDescription } from '../disk/describe.ts';
import { formatBytes } from '../disk/gauge.ts';
import { check, type DoctorCheck, type DoctorContext } from './common.ts';

/** Below this much free space: a warning. */
export const WARN_FREE_BYTES = 2 * 1000 ** 3;
/** Over this share used: a warning. */
export const WARN_USED_PERCENT = 90;

/** The check from a description (pure: the tests give their own). */
export function judgeDisk(d: DiskDescription, minFreeBytes: number): DoctorCheck {
  const where = `${d.mount}${d.type ? ` (${d.type}${d.device ? `, ${d.device}` : ''})` : ''}`;
  const detail = `${formatBytes(d.freeBytes)} free of ${formatBytes(d.sizeBytes)} (${d.usedPercent} % used) on ${where}, which holds the data dir ${d.dir}`;
  const fix = `Free space on ${d.mount} (old mail in the Maildirs, \`sudo journalctl --vacuum-size=200M\`, \`sudo apt clean\`) or move the data dir to a larger disk (--data-dir).`;
  if (d.freeBytes < minFreeBytes) {
    return check(
      'disk',
      'fail',
      `${detail}: below the minimum of ${formatBytes(minFreeBytes)}, new mail is refused (452 4.3.1, the sender tries again later)`,
      fix,
    );
  }
  if (d.freeBytes < WARN_FREE_BYTES || d.usedPercent > WARN_USED_PERCENT) {
    return check('disk', 'warn', `${detail}: getting full; below ${formatBytes(minFreeBytes)} free, new mail is refused until space is freed`, fix);
  }
  return check('disk', 'ok', detail);
}

export async function diskCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  return judgeDisk(await describeDisk(ctx.dataDir), ctx.config.limits.minFreeBytes);
}
