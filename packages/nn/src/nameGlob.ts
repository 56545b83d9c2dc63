/**
 * The one glob language over dotted names (`layer1.0.conv1.weight`), used by `Module.freeze`,
 * the CLI's `--freeze` and `cxr experiments run --only`:
 *   `*`   any characters within ONE dotted segment (`layer1.*.conv1.weight`)
 *   `**`  any characters across segments (`layer1.**`, `**.bias`)
 *   `?`   one character within a segment
 *   a pattern without wildcards is a name or a prefix: it selects itself and its subtree
 *   (`layer1` → `layer1.0.conv1.weight`, …; never `layer10…`)
 * A pattern with wildcards must match the WHOLE name, so `layer1.*.weight` does not reach
 * `layer1.0.conv1.weight` and `layer1*` does not reach `layer10.0.conv1.weight`.
 */

export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (ch === '*') source += '[^.]*';
    else if (ch === '?') source += '[^.]';
    else source += ch.replace(/[\\^$+()[\]{}|.]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** A predicate true for the names any of the patterns selects (see above). */
export function nameMatcher(patterns: string | readonly string[]): (name: string) => boolean {
  const list = typeof patterns === 'string' ? [patterns] : [...patterns];
  const tests = list.map((p): ((n: string) => boolean) => {
    if (/[*?]/.test(p)) {
      const re = globToRegExp(p);
      return (n) => re.test(n);
    }
    return (n) => n === p || n.startsWith(`${p}.`);
  });
  return (n) => tests.some((t) => t(n));
}
