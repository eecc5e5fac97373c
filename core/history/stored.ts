// Where a transaction's stored copy is (docs/design.md §3.1, §3.2): a Maildir file named
// `…_<queueId>.<host>,S=<size>` (in new/ or, once read, cur/), or the outbound queue's
// `<queueId>.eml` while it waits. Read-only.
import fs from 'node:fs';
import path from 'node:path';

export interface StoredCopy {
  kind: 'maildir' | 'queue';
  file: string;
}

const QUEUE_ID = /^[0-9A-Z]{8,40}$/;

export function findStored(dataDir: string, queueId: string): StoredCopy | null {
  if (!QUEUE_ID.test(queueId)) return null;
  const maildirs = path.join(dataDir, 'maildir');
  let accounts: string[] = [];
  try {
    accounts = fs.readdirSync(maildirs);
  } catch {
    // no Maildir yet
  }
  const needle = `_${queueId}.`;
  for (const a of accounts) {
    for (const sub of ['new', 'cur']) {
      let names: string[];
      try {
        names = fs.readdirSync(path.join(maildirs, a, sub));
      } catch {
        continue;
      }
      const hit = names.find((n) => n.includes(needle));
      if (hit) return { kind: 'maildir', file: path.join(maildirs, a, sub, hit) };
    }
  }
  const eml = path.join(dataDir, 'queue', 'outbound', `${queueId}.eml`);
  return fs.existsSync(eml) ? { kind: 'queue', file: eml } : null;
}
