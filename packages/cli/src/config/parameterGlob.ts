/**
 * Globs over dotted parameter names (torchvision style, e.g. `layer1.0.conv1.weight`):
 * `*` matches within one dotted segment, `**` across segments, `?` one character of a segment.
 * Segment-aware matching keeps `layer1*` from also freezing `layer10…` style surprises explicit.
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

/** True when any glob matches the parameter name. */
export function matchesAnyGlob(name: string, globs: readonly string[]): boolean {
  return globs.some((g) => globToRegExp(g).test(name));
}
