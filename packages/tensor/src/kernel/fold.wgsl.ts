/**
 * `fold2(lid, a, b)`: the sums of `a` and of `b` over a workgroup's `wg` lanes, returned to every
 * lane (lane `lid` holds its partial a and b). Lane 0 adds the wg partials up in lane order
 * (deterministic) between two barriers, and a third keeps the next fold from overwriting them
 * early. A tree fold takes log2(wg) + 2 barriers, and lavapipe compiles a shader with barriers as
 * a coroutine with a suspension point per barrier, whose splitting was most of LLVM's time for
 * these small kernels (batchNorm2d.stats, two folds over 64 lanes: ~300 -> ~90 ms cold); lane 0's
 * wg loads from workgroup memory cost little next to the loads that made the partials (the
 * batch-norm passes ran no slower on lavapipe). wg is 64 or more: Mesa unrolls a loop of 32 or
 * fewer iterations, and lane 0's loads, under a per-lane branch, then become checked per-lane
 * loads (a 32-lane softmax fold compiled ~250 ms against ~50 ms with 64 lanes).
 */
export const fold2Wgsl = (wg: number): string => {
  if (wg < 64) throw new Error(`fold2Wgsl: a workgroup of at least 64 lanes, got ${wg}`);
  return `
var<workgroup> foldA: array<f32, ${wg}>;
var<workgroup> foldB: array<f32, ${wg}>;
fn fold2(lid: u32, a: f32, b: f32) -> vec2<f32> {
  foldA[lid] = a;
  foldB[lid] = b;
  workgroupBarrier();
  if (lid == 0u) {
    var x = 0.0;
    var y = 0.0;
    for (var i = 0u; i < ${wg}u; i++) {
      x += foldA[i];
      y += foldB[i];
    }
    foldA[0] = x;
    foldB[0] = y;
  }
  workgroupBarrier();
  let r = vec2<f32>(foldA[0], foldB[0]);
  workgroupBarrier();
  return r;
}
`;
};
