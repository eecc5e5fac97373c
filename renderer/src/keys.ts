/**
 * React keys for a list shown as it came and never edited (a message's headers, a
 * domain's TXT records): each item's own text, and `#2`, `#3`… for a text seen again.
 */
export function keyed<T>(items: T[], text: (item: T) => string): { key: string; item: T }[] {
  const seen = new Map<string, number>();
  return items.map((item) => {
    const t = text(item);
    const n = (seen.get(t) ?? 0) + 1;
    seen.set(t, n);
    return { key: n === 1 ? t : `${t}#${n}`, item };
  });
}
