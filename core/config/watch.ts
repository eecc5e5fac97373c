// Noticing an edit of a file from outside this process (docs/design.md §8.2): the config file
// (`postern user add`, an editor, the desktop app) and the ban file (`postern bans lift`).
// fs.watch on the file's folder — not on the file, whose inode an atomic rename
// replaces — filtered by name, debounced so that an editor's several writes are one
// change; and a poll of the file's identity (inode, size, mtime) as a fallback for
// file systems where fs.watch says nothing (network shares, some containers).
import fs from 'node:fs';
import path from 'node:path';

export interface FileWatch {
  close(): void;
}

export interface WatchOptions {
  /** Quiet time after the last event before `onChange` runs (default 150 ms). */
  debounceMs?: number;
  /** The fallback poll (default 1000 ms). */
  pollMs?: number;
}

function identity(file: string): string {
  try {
    const s = fs.statSync(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return 'missing';
  }
}

/** Calls `onChange` (debounced) whenever `file` may have changed. Never throws; timers do not hold the process. */
export function watchFile(file: string, onChange: () => void, o: WatchOptions = {}): FileWatch {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const name = path.basename(abs);
  const debounceMs = o.debounceMs ?? 150;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let last = identity(abs);
  const fire = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (closed) return;
      last = identity(abs);
      try {
        onChange();
      } catch {
        // the listener reports its own failures; a watcher never takes the process down
      }
    }, debounceMs);
    timer.unref();
  };
  let watcher: fs.FSWatcher | null = null;
  try {
    watcher = fs.watch(dir, { persistent: false }, (_event, changed) => {
      if (!changed || changed.toString() === name) fire();
    });
    watcher.on('error', () => {
      watcher?.close();
      watcher = null; // the poll carries on
    });
  } catch {
    watcher = null;
  }
  const poll = setInterval(() => {
    if (identity(abs) !== last) fire();
  }, o.pollMs ?? 1000);
  poll.unref();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
    },
  };
}
