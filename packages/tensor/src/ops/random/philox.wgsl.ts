/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"): a counter-based
 * generator, so element i of call c under seed s is the same number on every machine and in any
 * dispatch order. WGSL has no 64-bit multiply, so the high half comes from 16-bit limbs.
 */
export const philoxWgsl = /* wgsl */ `
fn mulhi32(a: u32, b: u32) -> u32 {
  let al = a & 0xffffu; let ah = a >> 16u;
  let bl = b & 0xffffu; let bh = b >> 16u;
  let ll = al * bl; let lh = al * bh; let hl = ah * bl; let hh = ah * bh;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}
fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    let hi0 = mulhi32(0xD2511F53u, c.x); let lo0 = 0xD2511F53u * c.x;
    let hi1 = mulhi32(0xCD9E8D57u, c.z); let lo1 = 0xCD9E8D57u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}
// 24 random bits to [0, 1) exactly, and (0, 1] for logarithms.
fn unitOpen(x: u32) -> f32 { return f32(x >> 8u) * (1.0 / 16777216.0); }
fn unitPositive(x: u32) -> f32 { return (f32(x >> 8u) + 1.0) * (1.0 / 16777216.0); }
`;
