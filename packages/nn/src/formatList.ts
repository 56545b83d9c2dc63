/**
 * A list for a one-line message, capped: a 200,000-key mismatch must not print a 2.7 MB line.
 * `formatList(['a','b','c','d'], 2)` is "a, b … and 2 more".
 */
export function formatList(items: readonly string[], limit = 10): string {
  if (items.length <= limit) return items.join(', ');
  return `${items.slice(0, limit).join(', ')} … and ${items.length - limit} more`;
}
