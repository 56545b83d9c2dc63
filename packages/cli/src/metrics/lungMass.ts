/**
 * A crude shortcut signal from a saliency map: the fraction of its mass outside the central lung
 * region. On a frontal chest X-ray the lungs lie in the middle of the picture; a map whose mass
 * sits on the borders, corners or burnt-in text markers points at something other than anatomy
 * (DeGrave et al. 2021). The region is a fixed box (x from 15% to 85% of the width, y from 10% to
 * 90% of the height), not a segmentation: it flags, it does not prove.
 */
export const centralLungBox = { left: 0.15, right: 0.85, top: 0.1, bottom: 0.9 } as const;

export function massOutsideLung(map: ArrayLike<number>, width: number, height: number): number {
  if (map.length !== width * height) throw new Error(`massOutsideLung: ${map.length} values for ${width}x${height}`);
  const x0 = Math.round(centralLungBox.left * width);
  const x1 = Math.round(centralLungBox.right * width);
  const y0 = Math.round(centralLungBox.top * height);
  const y1 = Math.round(centralLungBox.bottom * height);
  let total = 0;
  let outside = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = Math.max(0, map[y * width + x]);
      total += v;
      if (x < x0 || x >= x1 || y < y0 || y >= y1) outside += v;
    }
  }
  return total === 0 ? 0 : outside / total;
}

/** The fraction of the image area outside the box: what a uniform map would give. */
export function areaOutsideLung(width: number, height: number): number {
  const w = Math.round(centralLungBox.right * width) - Math.round(centralLungBox.left * width);
  const h = Math.round(centralLungBox.bottom * height) - Math.round(centralLungBox.top * height);
  return 1 - (w * h) / (width * height);
}
