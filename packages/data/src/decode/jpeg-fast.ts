import type { Image } from '../image.ts';
import { BYTE_TO_FLOAT } from './byteToFloat.ts';

/**
 * Fast path for the JPEGs chest X-rays almost always are: baseline (SOF0/SOF1), 8-bit, one
 * interleaved scan, grey or YCbCr, any sampling factors, restart intervals. Bit-identical to
 * jpeg-js (the same integer IDCT, nearest-neighbour chroma upsampling and YCbCr formula in the
 * same order of operations), about 4x faster: table-driven Huffman decoding with a 32-bit bit
 * buffer instead of one closure call per bit, each block transformed as soon as it is decoded
 * (no array of 64-int blocks for the whole image), DC-only blocks filled without the IDCT (the
 * same constant jpeg-js computes), and samples written straight to float (no RGB byte copy).
 *
 * `neutralAsGrey`: YCbCr files whose chroma is 128 everywhere (R = G = B) come back as one channel.
 *
 * Returns `undefined` for everything else (progressive, 2/4 components, 12-bit, several scans,
 * DNL) and for anything jpeg-js would treat specially (bad Huffman code, a marker or the end of
 * the data inside the entropy-coded segment, a missing restart marker, unknown markers): the
 * caller then decodes with jpeg-js, so its tolerance and error messages are kept.
 */

const ZIGZAG = Int32Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22,
  15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

// jpeg-js's (poppler's) fixed-point constants
const COS1 = 4017;
const SIN1 = 799;
const COS3 = 3406;
const SIN3 = 2276;
const COS6 = 1567;
const SIN6 = 3784;
const SQRT2 = 5793;
const SQRT1D2 = 2896;

const FAST_BITS = 9;

interface Huffman {
  /** (length << 8) | value for codes of at most FAST_BITS bits, indexed by the next FAST_BITS bits; 0: longer */
  fast: Uint16Array;
  /** largest code of each length (1..16), -1 where none */
  maxcode: Int32Array;
  mincode: Int32Array;
  valptr: Int32Array;
  values: Uint8Array;
  /**
   * For AC tables: (value << 8) | (run << 4) | bits used, when the code and the coefficient's
   * magnitude bits both fit in the next FAST_BITS bits (most coefficients); 0 otherwise.
   */
  fastAc: Int32Array;
}

/** Canonical codes from the DHT counts, as jpeg-js's tree assigns them; undefined when over-subscribed. */
function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman | undefined {
  const fast = new Uint16Array(1 << FAST_BITS);
  const maxcode = new Int32Array(18).fill(-1);
  const mincode = new Int32Array(17);
  const valptr = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    valptr[len] = k;
    mincode[len] = code;
    const n = counts[len - 1];
    for (let i = 0; i < n; i++, code++, k++) {
      if (code >= 1 << len) return undefined;
      if (len <= FAST_BITS) {
        const shift = FAST_BITS - len;
        const entry = (len << 8) | values[k];
        for (let j = code << shift, e = (code + 1) << shift; j < e; j++) fast[j] = entry;
      }
    }
    if (n) maxcode[len] = code - 1;
    code <<= 1;
  }
  const fastAc = new Int32Array(1 << FAST_BITS);
  for (let i = 0; i < fastAc.length; i++) {
    const e = fast[i];
    if (!e) continue;
    const len = e >> 8;
    const rs = e & 255;
    const run = rs >> 4;
    const size = rs & 15;
    if (size === 0 || len + size > FAST_BITS) continue;
    // the magnitude bits follow the code inside the same window; jpeg-js's receiveAndExtend
    const v = (i >> (FAST_BITS - len - size)) & ((1 << size) - 1);
    const value = v >= 1 << (size - 1) ? v : v + (-1 << size) + 1;
    fastAc[i] = (value * 256) | (run << 4) | (len + size);
  }
  return { fast, maxcode, mincode, valptr, values, fastAc };
}

/**
 * MSB-first bit buffer over the entropy-coded data. It stops at a marker (0xFF not followed by a
 * stuffed 0) and at the end of the data and appends zero bits from then on, counted in `phantom`:
 * jpeg-js reads such a marker as an error (and zeros past the end), so using any of those bits
 * sends the file to jpeg-js.
 */
class BitReader {
  acc = 0;
  n = 0;
  phantom = 0;
  atMarker = false;
  constructor(
    readonly data: Uint8Array,
    public pos: number,
  ) {}

  fill(): void {
    const d = this.data;
    while (this.n <= 24) {
      let b = 0;
      if (this.atMarker || this.pos >= d.length) {
        this.phantom += 8;
      } else {
        b = d[this.pos];
        if (b === 0xff) {
          if (this.pos + 1 < d.length && d[this.pos + 1] === 0) {
            this.pos += 2;
          } else {
            this.atMarker = true;
            this.phantom += 8;
            b = 0;
          }
        } else {
          this.pos++;
        }
      }
      this.acc = (this.acc << 8) | b;
      this.n += 8;
    }
  }

  bits(len: number): number {
    if (len === 0) return 0;
    if (this.n < len) this.fill();
    this.n -= len;
    return (this.acc >>> this.n) & ((1 << len) - 1);
  }

  /** a Huffman-coded value, or -1 for a code not in the table */
  huffman(h: Huffman): number {
    if (this.n < 16) this.fill();
    const e = h.fast[(this.acc >>> (this.n - FAST_BITS)) & ((1 << FAST_BITS) - 1)];
    if (e) {
      this.n -= e >> 8;
      return e & 255;
    }
    for (let len = FAST_BITS + 1; len <= 16; len++) {
      const c = (this.acc >>> (this.n - len)) & ((1 << len) - 1);
      if (c <= h.maxcode[len]) {
        this.n -= len;
        return h.values[h.valptr[len] + c - h.mincode[len]];
      }
    }
    return -1;
  }

  /** jpeg-js's receiveAndExtend */
  extend(len: number): number {
    const v = this.bits(len);
    return v >= 1 << (len - 1) ? v : v + (-1 << len) + 1;
  }

  /** whether bits past a marker or the end of the data were used */
  get overrun(): boolean {
    return this.n < this.phantom;
  }

  /** discards the rest of the current byte; true when the reader is right at a marker, as jpeg-js needs at a restart */
  alignedAtMarker(): boolean {
    const real = this.n - this.phantom;
    if (real < 0 || real >= 8) return false;
    const d = this.data;
    return this.pos + 1 < d.length && d[this.pos] === 0xff && d[this.pos + 1] !== 0;
  }
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  qt?: Int32Array;
  dc?: Huffman;
  ac?: Huffman;
  pred: number;
  blocksPerLine: number;
  blocksPerColumn: number;
  /** IDCT output, blocksPerLine * 8 samples a row */
  plane: Uint8ClampedArray;
  /** every block of the plane is the constant 128 (chroma of grey content), known without a scan */
  flat128: boolean;
}

/**
 * jpeg-js's quantizeAndInverse on one block, written to `out` (a component plane) at `o` with row
 * length `stride`. Same expressions in the same order, so the same integers.
 */
function idct(zz: Int32Array, qt: Int32Array, p: Int32Array, out: Uint8ClampedArray, o: number, stride: number): void {
  let v0: number;
  let v1: number;
  let v2: number;
  let v3: number;
  let v4: number;
  let v5: number;
  let v6: number;
  let v7: number;
  let t: number;
  // dequantised as each row is read (| 0: jpeg-js stores the products in an Int32Array)
  for (let i = 0; i < 8; ++i) {
    const r = 8 * i;
    const q0 = (zz[r] * qt[r]) | 0;
    const q1 = (zz[r + 1] * qt[r + 1]) | 0;
    const q2 = (zz[r + 2] * qt[r + 2]) | 0;
    const q3 = (zz[r + 3] * qt[r + 3]) | 0;
    const q4 = (zz[r + 4] * qt[r + 4]) | 0;
    const q5 = (zz[r + 5] * qt[r + 5]) | 0;
    const q6 = (zz[r + 6] * qt[r + 6]) | 0;
    const q7 = (zz[r + 7] * qt[r + 7]) | 0;
    if (q1 === 0 && q2 === 0 && q3 === 0 && q4 === 0 && q5 === 0 && q6 === 0 && q7 === 0) {
      t = (SQRT2 * q0 + 512) >> 10;
      p[r] = t;
      p[1 + r] = t;
      p[2 + r] = t;
      p[3 + r] = t;
      p[4 + r] = t;
      p[5 + r] = t;
      p[6 + r] = t;
      p[7 + r] = t;
      continue;
    }
    v0 = (SQRT2 * q0 + 128) >> 8;
    v1 = (SQRT2 * q4 + 128) >> 8;
    v2 = q2;
    v3 = q6;
    v4 = (SQRT1D2 * (q1 - q7) + 128) >> 8;
    v7 = (SQRT1D2 * (q1 + q7) + 128) >> 8;
    v5 = q3 << 4;
    v6 = q5 << 4;
    t = (v0 - v1 + 1) >> 1;
    v0 = (v0 + v1 + 1) >> 1;
    v1 = t;
    t = (v2 * SIN6 + v3 * COS6 + 128) >> 8;
    v2 = (v2 * COS6 - v3 * SIN6 + 128) >> 8;
    v3 = t;
    t = (v4 - v6 + 1) >> 1;
    v4 = (v4 + v6 + 1) >> 1;
    v6 = t;
    t = (v7 + v5 + 1) >> 1;
    v5 = (v7 - v5 + 1) >> 1;
    v7 = t;
    t = (v0 - v3 + 1) >> 1;
    v0 = (v0 + v3 + 1) >> 1;
    v3 = t;
    t = (v1 - v2 + 1) >> 1;
    v1 = (v1 + v2 + 1) >> 1;
    v2 = t;
    t = (v4 * SIN3 + v7 * COS3 + 2048) >> 12;
    v4 = (v4 * COS3 - v7 * SIN3 + 2048) >> 12;
    v7 = t;
    t = (v5 * SIN1 + v6 * COS1 + 2048) >> 12;
    v5 = (v5 * COS1 - v6 * SIN1 + 2048) >> 12;
    v6 = t;
    p[r] = v0 + v7;
    p[7 + r] = v0 - v7;
    p[1 + r] = v1 + v6;
    p[6 + r] = v1 - v6;
    p[2 + r] = v2 + v5;
    p[5 + r] = v2 - v5;
    p[3 + r] = v3 + v4;
    p[4 + r] = v3 - v4;
  }
  for (let c = 0; c < 8; ++c) {
    if (p[8 + c] === 0 && p[16 + c] === 0 && p[24 + c] === 0 && p[32 + c] === 0 && p[40 + c] === 0 && p[48 + c] === 0 && p[56 + c] === 0) {
      t = (SQRT2 * p[c] + 8192) >> 14;
      const v = 128 + ((t + 8) >> 4);
      for (let y = 0, q = o + c; y < 8; y++, q += stride) out[q] = v;
      continue;
    }
    v0 = (SQRT2 * p[c] + 2048) >> 12;
    v1 = (SQRT2 * p[32 + c] + 2048) >> 12;
    v2 = p[16 + c];
    v3 = p[48 + c];
    v4 = (SQRT1D2 * (p[8 + c] - p[56 + c]) + 2048) >> 12;
    v7 = (SQRT1D2 * (p[8 + c] + p[56 + c]) + 2048) >> 12;
    v5 = p[24 + c];
    v6 = p[40 + c];
    t = (v0 - v1 + 1) >> 1;
    v0 = (v0 + v1 + 1) >> 1;
    v1 = t;
    t = (v2 * SIN6 + v3 * COS6 + 2048) >> 12;
    v2 = (v2 * COS6 - v3 * SIN6 + 2048) >> 12;
    v3 = t;
    t = (v4 - v6 + 1) >> 1;
    v4 = (v4 + v6 + 1) >> 1;
    v6 = t;
    t = (v7 + v5 + 1) >> 1;
    v5 = (v7 - v5 + 1) >> 1;
    v7 = t;
    t = (v0 - v3 + 1) >> 1;
    v0 = (v0 + v3 + 1) >> 1;
    v3 = t;
    t = (v1 - v2 + 1) >> 1;
    v1 = (v1 + v2 + 1) >> 1;
    v2 = t;
    t = (v4 * SIN3 + v7 * COS3 + 2048) >> 12;
    v4 = (v4 * COS3 - v7 * SIN3 + 2048) >> 12;
    v7 = t;
    t = (v5 * SIN1 + v6 * COS1 + 2048) >> 12;
    v5 = (v5 * COS1 - v6 * SIN1 + 2048) >> 12;
    v6 = t;
    // straight to the samples: 128 + ((x + 8) >> 4), and out is a Uint8ClampedArray, so integers
    // clamp to [0, 255] as jpeg-js clamps
    const q = o + c;
    out[q] = 128 + ((v0 + v7 + 8) >> 4);
    out[q + 7 * stride] = 128 + ((v0 - v7 + 8) >> 4);
    out[q + stride] = 128 + ((v1 + v6 + 8) >> 4);
    out[q + 6 * stride] = 128 + ((v1 - v6 + 8) >> 4);
    out[q + 2 * stride] = 128 + ((v2 + v5 + 8) >> 4);
    out[q + 5 * stride] = 128 + ((v2 - v5 + 8) >> 4);
    out[q + 3 * stride] = 128 + ((v3 + v4 + 8) >> 4);
    out[q + 4 * stride] = 128 + ((v3 - v4 + 8) >> 4);
  }
}

/**
 * A block with only its DC coefficient: every row pass but the first and every column pass takes
 * the all-zero-AC branch of `idct`, so the block is one constant; the same integer steps give it.
 */
function dcOnly(dc: number, q0: number, out: Uint8ClampedArray, o: number, stride: number): number {
  const p0 = (dc * q0) | 0;
  const t1 = (SQRT2 * p0 + 512) >> 10;
  const t2 = (SQRT2 * t1 + 8192) >> 14;
  const s = 128 + ((t2 + 8) >> 4);
  const v = Math.min(255, Math.max(0, s));
  for (let y = 0, r = o; y < 8; y++, r += stride) {
    out[r] = v;
    out[r + 1] = v;
    out[r + 2] = v;
    out[r + 3] = v;
    out[r + 4] = v;
    out[r + 5] = v;
    out[r + 6] = v;
    out[r + 7] = v;
  }
  return v;
}

/** `rgbCoded`: the three components are R, G, B as they are (see jpegColorSpace.ts), not YCbCr. */
export function decodeJpegFast(d: Uint8Array, neutralAsGrey = false, rgbCoded = false): Image | undefined {
  const len = d.length;
  if (len < 4 || d[0] !== 0xff || d[1] !== 0xd8) return undefined;
  const qts: Array<Int32Array | undefined> = [];
  const dcTables: Array<Huffman | undefined> = [];
  const acTables: Array<Huffman | undefined> = [];
  let comps: Component[] | undefined;
  let width = 0;
  let height = 0;
  let maxH = 1;
  let maxV = 1;
  let restart = 0;
  let scanned = false;
  let o = 2;
  for (;;) {
    if (o + 2 > len || d[o] !== 0xff) return undefined;
    const m = d[o + 1];
    if (m === 0xd9) break; // EOI
    if (o + 4 > len) return undefined;
    const segLen = (d[o + 2] << 8) | d[o + 3];
    const s = o + 4;
    const e = o + 2 + segLen;
    if (segLen < 2 || e > len) return undefined;
    if ((m >= 0xe0 && m <= 0xef) || m === 0xfe) {
      // APPn, COM: nothing jpeg-js's decode uses
    } else if (m === 0xdb) {
      let q = s;
      while (q < e) {
        const spec = d[q++];
        const table = new Int32Array(64);
        if (spec >> 4 === 0) {
          if (q + 64 > e) return undefined;
          for (let j = 0; j < 64; j++) table[ZIGZAG[j]] = d[q++];
        } else if (spec >> 4 === 1) {
          if (q + 128 > e) return undefined;
          for (let j = 0; j < 64; j++, q += 2) table[ZIGZAG[j]] = (d[q] << 8) | d[q + 1];
        } else {
          return undefined;
        }
        qts[spec & 15] = table;
      }
      if (q !== e) return undefined;
    } else if (m === 0xc0 || m === 0xc1) {
      if (comps || segLen < 8 || d[s] !== 8) return undefined;
      height = (d[s + 1] << 8) | d[s + 2];
      width = (d[s + 3] << 8) | d[s + 4];
      const n = d[s + 5];
      if ((n !== 1 && n !== 3) || segLen !== 8 + 3 * n || !width || !height) return undefined;
      comps = [];
      for (let i = 0; i < n; i++) {
        const c = s + 6 + 3 * i;
        const h = d[c + 1] >> 4;
        const v = d[c + 1] & 15;
        if (h < 1 || h > 4 || v < 1 || v > 4 || comps.some((x) => x.id === d[c])) return undefined;
        comps.push({ id: d[c], h, v, tq: d[c + 2], pred: 0, blocksPerLine: 0, blocksPerColumn: 0, plane: new Uint8ClampedArray(0), flat128: true });
      }
      maxH = Math.max(...comps.map((c) => c.h));
      maxV = Math.max(...comps.map((c) => c.v));
    } else if (m === 0xc4) {
      let q = s;
      while (q < e) {
        const spec = d[q];
        if (q + 17 > e) return undefined;
        const counts = d.subarray(q + 1, q + 17);
        let total = 0;
        for (let j = 0; j < 16; j++) total += counts[j];
        if (q + 17 + total > e) return undefined;
        const h = buildHuffman(counts, d.subarray(q + 17, q + 17 + total));
        if (!h) return undefined;
        (spec >> 4 === 0 ? dcTables : acTables)[spec & 15] = h;
        q += 17 + total;
      }
    } else if (m === 0xdd) {
      if (segLen !== 4) return undefined;
      restart = (d[s] << 8) | d[s + 1];
    } else if (m === 0xda) {
      if (!comps || scanned) return undefined;
      const n = d[s];
      if (n !== comps.length || segLen !== 6 + 2 * n) return undefined;
      const order: Component[] = [];
      for (let i = 0; i < n; i++) {
        const c = comps.find((x) => x.id === d[s + 1 + 2 * i]);
        if (!c || order.includes(c)) return undefined;
        c.dc = dcTables[d[s + 2 + 2 * i] >> 4];
        c.ac = acTables[d[s + 2 + 2 * i] & 15];
        if (!c.dc || !c.ac) return undefined;
        order.push(c);
      }
      for (const c of comps) {
        c.qt = qts[c.tq];
        if (!c.qt) return undefined;
      }
      const end = decodeScan(d, s + 1 + 2 * n + 3, width, height, order, maxH, maxV, restart);
      if (end < 0) return undefined;
      scanned = true;
      o = end;
      continue;
    } else {
      return undefined; // SOF2 and other processes, DNL, DAC, fill bytes, anything unknown
    }
    o = e;
  }
  if (!comps || !scanned) return undefined;
  return toImage(comps, width, height, maxH, maxV, neutralAsGrey, rgbCoded);
}

/** Decodes the scan into the component planes; the offset of the marker after it, or -1. */
function decodeScan(d: Uint8Array, start: number, width: number, height: number, order: Component[], maxH: number, maxV: number, restart: number): number {
  const mcusPerLine = Math.ceil(width / 8 / maxH);
  const mcusPerColumn = Math.ceil(height / 8 / maxV);
  for (const c of order) {
    c.flat128 = true;
    c.blocksPerLine = Math.ceil((Math.ceil(width / 8) * c.h) / maxH);
    c.blocksPerColumn = Math.ceil((Math.ceil(height / 8) * c.v) / maxV);
    c.plane = new Uint8ClampedArray(c.blocksPerLine * c.blocksPerColumn * 64);
  }
  const single = order.length === 1;
  const total = single ? order[0].blocksPerLine * order[0].blocksPerColumn : mcusPerLine * mcusPerColumn;
  const interval = restart || total;
  const zz = new Int32Array(64);
  const work = new Int32Array(64);
  const r = new BitReader(d, start);
  let mcu = 0;

  // one block: Huffman decode into zz, then (when it lies inside the image) transform into the plane
  const block = (c: Component, row: number, col: number): boolean => {
    const t = r.huffman(c.dc!);
    if (t < 0 || t > 16) return false;
    const diff = t === 0 ? 0 : r.extend(t);
    c.pred += diff;
    zz[0] = c.pred;
    let ac = false;
    const acTable = c.ac!;
    const fastAc = acTable.fastAc;
    for (let k = 1; k < 64; ) {
      if (r.n < 16) r.fill();
      const f = fastAc[(r.acc >>> (r.n - FAST_BITS)) & ((1 << FAST_BITS) - 1)];
      if (f) {
        k += (f >> 4) & 15;
        if (k > 63) return false;
        r.n -= f & 15;
        zz[ZIGZAG[k]] = f >> 8;
        ac = true;
        k++;
        continue;
      }
      const rs = r.huffman(acTable);
      if (rs < 0) return false;
      const s = rs & 15;
      const run = rs >> 4;
      if (s === 0) {
        if (run < 15) break;
        k += 16;
        continue;
      }
      k += run;
      if (k > 63) return false;
      zz[ZIGZAG[k]] = r.extend(s);
      ac = true;
      k++;
    }
    if (row < c.blocksPerColumn && col < c.blocksPerLine) {
      const stride = c.blocksPerLine * 8;
      const at = row * 8 * stride + col * 8;
      if (ac) {
        idct(zz, c.qt!, work, c.plane, at, stride);
        c.flat128 = false;
      } else if (dcOnly(zz[0], c.qt![0], c.plane, at, stride) !== 128) {
        c.flat128 = false;
      }
    }
    if (ac) zz.fill(0);
    return true;
  };

  while (mcu < total) {
    for (const c of order) c.pred = 0;
    for (let n = 0; n < interval && mcu < total; n++, mcu++) {
      if (single) {
        const c = order[0];
        if (!block(c, (mcu / c.blocksPerLine) | 0, mcu % c.blocksPerLine)) return -1;
      } else {
        const mcuRow = (mcu / mcusPerLine) | 0;
        const mcuCol = mcu % mcusPerLine;
        for (const c of order) {
          for (let j = 0; j < c.v; j++) {
            for (let k = 0; k < c.h; k++) if (!block(c, mcuRow * c.v + j, mcuCol * c.h + k)) return -1;
          }
        }
      }
      if (r.overrun) return -1;
    }
    if (mcu < total) {
      // jpeg-js expects a restart marker right after the interval's last byte
      if (!r.alignedAtMarker() || d[r.pos + 1] < 0xd0 || d[r.pos + 1] > 0xd7) return -1;
      r.pos += 2;
      r.acc = 0;
      r.n = 0;
      r.phantom = 0;
      r.atMarker = false;
    }
  }
  if (r.overrun) return -1;
  if (single && restart && total % restart !== 0) {
    // jpeg-js's single-component loop runs the last interval to its end (blocks past the image are
    // skipped, or decoded when the MCU grid is taller) and then needs the marker right there
    if (order[0].h > 1 || order[0].v > 1 || !r.alignedAtMarker()) return -1;
  }
  // jpeg-js skips to the first marker after the scan (all bytes before it are entropy data) and past a trailing RST
  let p = r.pos;
  while (p + 1 < d.length && !(d[p] === 0xff && d[p + 1] !== 0)) p++;
  if (p + 1 >= d.length) return -1;
  if (d[p + 1] >= 0xd0 && d[p + 1] <= 0xd7) p += 2;
  return p;
}

/** jpeg-js indexes each plane with 0 | (x * (h / maxH)); the same expression per column */
function colIndex(c: Component, width: number, maxH: number): Int32Array {
  const sx = c.h / maxH;
  const out = new Int32Array(width);
  for (let x = 0; x < width; x++) out[x] = 0 | (x * sx);
  return out;
}

/** and 0 | (y * (v / maxV)) per row, here as the row's offset in the plane */
function rowStart(c: Component, height: number, maxV: number): Int32Array {
  const sy = c.v / maxV;
  const out = new Int32Array(height);
  for (let y = 0; y < height; y++) out[y] = (0 | (y * sy)) * c.blocksPerLine * 8;
  return out;
}

/** Planes to float HWC like jpeg-js's getData + our byte-to-float step: nearest upsampling, its YCbCr formula. */
function toImage(comps: Component[], width: number, height: number, maxH: number, maxV: number, neutralAsGrey: boolean, rgbCoded: boolean): Image {
  const [c1, c2, c3] = comps;
  const x1 = colIndex(c1, width, maxH);
  const y1 = rowStart(c1, height, maxV);
  if (comps.length === 1) return { width, height, channels: 1, data: greyToFloat(c1.plane, x1, y1, 1) };
  if (rgbCoded) {
    // flat planes of 128 mean mid-grey G and B here, not neutral chroma: no grey shortcut
    const data = rgbToFloat(
      [c1.plane, c2.plane, c3.plane],
      [x1, colIndex(c2, width, maxH), colIndex(c3, width, maxH)],
      [y1, rowStart(c2, height, maxV), rowStart(c3, height, maxV)],
    );
    return { width, height, channels: 3, data };
  }
  if (c2.flat128 && c3.flat128) {
    // grey stored as YCbCr (most colour X-ray JPEGs): with Cb = Cr = 128 jpeg-js's formula gives R = G = B = Y exactly
    const C = neutralAsGrey ? 1 : 3;
    return { width, height, channels: C, data: greyToFloat(c1.plane, x1, y1, C) };
  }
  const data = ycbcrToFloat(
    [c1.plane, c2.plane, c3.plane],
    [x1, colIndex(c2, width, maxH), colIndex(c3, width, maxH)],
    [y1, rowStart(c2, height, maxV), rowStart(c3, height, maxV)],
  );
  return { width, height, channels: 3, data };
}

/** Luma to float, written to C (1 or 3) channels. */
function greyToFloat(plane: Uint8ClampedArray, xs: Int32Array, ys: Int32Array, C: number): Float32Array {
  const lut = BYTE_TO_FLOAT;
  const width = xs.length;
  const height = ys.length;
  const data = new Float32Array(width * height * C);
  const identity = xs[width - 1] === width - 1; // full-resolution plane: column x is sample x
  for (let y = 0, k = 0; y < height; y++) {
    const r = ys[y];
    if (C === 1 && identity) {
      for (let x = 0; x < width; x++) data[k++] = lut[plane[r + x]];
    } else if (C === 1) {
      for (let x = 0; x < width; x++) data[k++] = lut[plane[r + xs[x]]];
    } else {
      for (let x = 0; x < width; x++, k += 3) data[k] = data[k + 1] = data[k + 2] = lut[plane[r + xs[x]]];
    }
  }
  return data;
}

/** Three planes already R, G, B, upsampled like `ycbcrToFloat`. */
function rgbToFloat(planes: Uint8ClampedArray[], xs: Int32Array[], ys: Int32Array[]): Float32Array {
  const lut = BYTE_TO_FLOAT;
  const width = xs[0].length;
  const height = ys[0].length;
  const data = new Float32Array(width * height * 3);
  for (let y = 0, k = 0; y < height; y++) {
    for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[k++] = lut[planes[c][ys[c][y] + xs[c][x]]];
  }
  return data;
}

function ycbcrToFloat(planes: Uint8ClampedArray[], xs: Int32Array[], ys: Int32Array[]): Float32Array {
  const lut = BYTE_TO_FLOAT;
  const [p1, p2, p3] = planes;
  const [x1, x2, x3] = xs;
  const [y1, y2, y3] = ys;
  const width = x1.length;
  const height = y1.length;
  const data = new Float32Array(width * height * 3);
  for (let y = 0, k = 0; y < height; y++) {
    const r1 = y1[y];
    const r2 = y2[y];
    const r3 = y3[y];
    for (let x = 0; x < width; x++) {
      const Y = p1[r1 + x1[x]];
      const cb = p2[r2 + x2[x]];
      const cr = p3[r3 + x3[x]];
      // jpeg-js's clampTo8bit, then truncation when the byte is stored
      const R = Y + 1.402 * (cr - 128);
      const G = Y - 0.3441363 * (cb - 128) - 0.71413636 * (cr - 128);
      const B = Y + 1.772 * (cb - 128);
      data[k++] = lut[R < 0 ? 0 : R > 255 ? 255 : R | 0];
      data[k++] = lut[G < 0 ? 0 : G > 255 ? 255 : G | 0];
      data[k++] = lut[B < 0 ? 0 : B > 255 ? 255 : B | 0];
    }
  }
  return data;
}
