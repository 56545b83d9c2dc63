// Writes stored (uncompressed) zip archives, optionally in zip64 form, so the reader's zip64
// path is tested without creating a > 4 GiB file: every size/offset field is saturated to
// 0xffffffff and the real values go in zip64 extra fields and a zip64 end record.

export interface ZipInput {
  name: string;
  data: Uint8Array;
}

export function buildZip(entries: ZipInput[], options: { zip64?: boolean; extraLocalPadding?: number } = {}): Uint8Array {
  const zip64 = options.zip64 ?? false;
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    offset += b.length;
  };
  for (const e of entries) {
    const name = enc.encode(e.name);
    // Local extra: a zip64 record when asked, plus optional padding like torch's alignment field.
    const pad = options.extraLocalPadding ?? 0;
    const localExtra = new Uint8Array((zip64 ? 20 : 0) + (pad ? 4 + pad : 0));
    const lx = new DataView(localExtra.buffer);
    let q = 0;
    if (zip64) {
      lx.setUint16(0, 1, true);
      lx.setUint16(2, 16, true);
      lx.setBigUint64(4, BigInt(e.data.length), true);
      lx.setBigUint64(12, BigInt(e.data.length), true);
      q = 20;
    }
    if (pad) {
      lx.setUint16(q, 0xcafe, true);
      lx.setUint16(q + 2, pad, true);
    }
    const local = new Uint8Array(30);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, zip64 ? 45 : 20, true);
    l.setUint32(18, zip64 ? 0xffffffff : e.data.length, true);
    l.setUint32(22, zip64 ? 0xffffffff : e.data.length, true);
    l.setUint16(26, name.length, true);
    l.setUint16(28, localExtra.length, true);
    const localOffset = offset;
    push(local);
    push(name);
    push(localExtra);
    push(e.data);
    const cExtra = new Uint8Array(zip64 ? 28 : 0);
    if (zip64) {
      const cx = new DataView(cExtra.buffer);
      cx.setUint16(0, 1, true);
      cx.setUint16(2, 24, true);
      cx.setBigUint64(4, BigInt(e.data.length), true);
      cx.setBigUint64(12, BigInt(e.data.length), true);
      cx.setBigUint64(20, BigInt(localOffset), true);
    }
    const c = new Uint8Array(46 + name.length + cExtra.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, zip64 ? 45 : 20, true);
    cv.setUint32(20, zip64 ? 0xffffffff : e.data.length, true);
    cv.setUint32(24, zip64 ? 0xffffffff : e.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, cExtra.length, true);
    cv.setUint32(42, zip64 ? 0xffffffff : localOffset, true);
    c.set(name, 46);
    c.set(cExtra, 46 + name.length);
    central.push(c);
  }
  const cdOffset = offset;
  for (const c of central) push(c);
  const cdSize = offset - cdOffset;
  if (zip64) {
    const rec = new Uint8Array(56);
    const r = new DataView(rec.buffer);
    r.setUint32(0, 0x06064b50, true);
    r.setBigUint64(4, 44n, true);
    r.setUint16(12, 45, true);
    r.setUint16(14, 45, true);
    r.setBigUint64(24, BigInt(entries.length), true);
    r.setBigUint64(32, BigInt(entries.length), true);
    r.setBigUint64(40, BigInt(cdSize), true);
    r.setBigUint64(48, BigInt(cdOffset), true);
    const recOffset = offset;
    push(rec);
    const loc = new Uint8Array(20);
    const lv = new DataView(loc.buffer);
    lv.setUint32(0, 0x07064b50, true);
    lv.setBigUint64(8, BigInt(recOffset), true);
    lv.setUint32(16, 1, true);
    push(loc);
  }
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, zip64 ? 0xffff : entries.length, true);
  ev.setUint16(10, zip64 ? 0xffff : entries.length, true);
  ev.setUint32(12, zip64 ? 0xffffffff : cdSize, true);
  ev.setUint32(16, zip64 ? 0xffffffff : cdOffset, true);
  push(eocd);
  const out = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
