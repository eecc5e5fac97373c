// Waiting for a condition instead of sleeping a fixed time: a busy machine makes
// a fixed sleep either too short (a flake) or, everywhere else, too long.

/**
 * Resolves once `cond()` is true (it may be async), checking every `everyMs`;
 * rejects after `timeoutMs`, naming `what`.
 */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'the condition', everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
