// Password rules for builtin accounts (docs/design.md §2.4): one check for `postern user`,
// the dashboard and the desktop app (core/accounts/service.ts calls it). A password
// is refused when it is shorter than 10 characters, on the common-password list
// (common-passwords.ts), or one simple pattern — each with a sentence that says
// what to type instead.
import { COMMON_PASSWORDS_TEXT } from './common-passwords.ts';

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

const COMMON = new Set(
  COMMON_PASSWORDS_TEXT.split('\n')
    .map((l) => l.trim().toLowerCase())
    .filter(Boolean),
);

const ROWS = ['1234567890', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm', 'abcdefghijklmnopqrstuvwxyz'];

const ADVICE = 'choose a longer one, for example four unrelated words such as "violin cactus harbour spoon"';

/** One character repeated, or a run along the alphabet, the digits or a keyboard row (either way). */
function isSimplePattern(pw: string): boolean {
  const p = pw.toLowerCase();
  if (new Set(p).size <= 2) return true;
  for (const row of ROWS) {
    for (const r of [row, [...row].reverse().join('')]) {
      const twice = r + r;
      if (twice.includes(p)) return true;
    }
  }
  return false;
}

/** Why `password` may not be used, or null. */
export function passwordProblem(password: string, name = ''): string | null {
  if (!password) return `the password is empty: ${ADVICE}`;
  if (password.length > MAX_PASSWORD_LENGTH) return `the password is longer than ${MAX_PASSWORD_LENGTH} characters`;
  if ([...password].length < MIN_PASSWORD_LENGTH)
    return `the password is too short (${[...password].length} characters; at least ${MIN_PASSWORD_LENGTH} are needed): ${ADVICE}`;
  const lower = password.toLowerCase();
  if (COMMON.has(lower) || COMMON.has(lower.replace(/[!?.\s]+$/, '')))
    return `that password is on the list of the most common passwords, which attackers try first: ${ADVICE}`;
  if (isSimplePattern(password)) return `that password is a simple pattern that attackers try first: ${ADVICE}`;
  if (name && lower.includes(name.toLowerCase()) && lower.split(name.toLowerCase()).join('').length < 6)
    return `that password is mostly the account name: ${ADVICE}`;
  return null;
}
