// Minimal zip reader for PyTorch's zip checkpoints. torch.save writes every entry *stored*
// (uncompressed) and 64-byte aligned precisely so readers can map storages in place, so we only
// need the central directory, the local header lengths, and zip64 for files/entries past 4 GiB.

import { type ByteSource, WeightFormatError, readU16, readU32, readU64 } from './byteSource.ts';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Offset of the local file header. */
  localHeaderOffset: number;
}

const eocdSig = 0x06054b50;
const zip64LocatorSig = 0x07064b50;
const zip64EocdSig = 0x06064b50;
const centralSig = 0x02014b50;
const localSig = 0x04034b50;

const utf8 = new TextDecoder('utf-8');

/** Lists the entries of a zip archive, in central-directory order. */
export function readZipDirectory(src: ByteSource): ZipEntry[] {
  const fail = (problem: string): never => {
    throw new WeightFormatError(src.name, `zip: ${problem}`);
  };
  if (src.size < 22) fail('too short to hold an end-of-central-directory record (truncated?)');
  // The EOCD is 22 bytes plus a comment of up to 65535 bytes at the very end: scan backwards.
  const tailLen = Math.min(src.size, 22 + 0xffff);
  const tailStart = src.size - tailLen;
  const tail = src.read(tailStart, tailLen);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (readU32(tail, i) === eocdSig && i + 22 + readU16(tail, i + 20) <= tail.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('end-of-central-directory record not found (file truncated or not a zip)');
  let count = readU16(tail, eocd + 10);
  let cdSize = readU32(tail, eocd + 12);
  let cdOffset = readU32(tail, eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // zip64: a 20-byte locator sits right before the EOCD and points at the zip64 EOCD record.
    const locAt = tailStart + eocd - 20;
    if (locAt < 0) fail('zip64 locator missing');
    const loc = src.read(locAt, 20);
    if (readU32(loc, 0) !== zip64LocatorSig) fail('zip64 locator missing');
    const recAt = readU64(loc, 8, 'zip64 record offset');
    if (recAt + 56 > src.size) fail(`zip64 record offset ${recAt} is past the end of the file (truncated?)`);
    const rec = src.read(recAt, 56);
    if (readU32(rec, 0) !== zip64EocdSig) fail('zip64 end-of-central-directory record has a bad signature');
    count = readU64(rec, 32, 'zip64 entry count');
    cdSize = readU64(rec, 40, 'zip64 central directory size');
    cdOffset = readU64(rec, 48, 'zip64 central directory offset');
  }
  if (cdOffset + cdSize > src.size) {
    fail(`central directory (${cdOffset}+${cdSize}) lies past the end of the ${src.size}-byte file (truncated?)`);
  }
  const cd = src.read(cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || readU32(cd, p) !== centralSig) fail(`central directory entry ${i} is corrupt`);
    const method = readU16(cd, p + 10);
    const crc32 = readU32(cd, p + 16);
    let compressedSize = readU32(cd, p + 20);
    let size = readU32(cd, p + 24);
    const nameLen = readU16(cd, p + 28);
    const extraLen = readU16(cd, p + 30);
    const commentLen = readU16(cd, p + 32);
    let localHeaderOffset = readU32(cd, p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) fail(`central directory entry ${i} overruns the directory`);
    const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: present fields are exactly those saturated at 0xffffffff.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = readU16(cd, e);
      const len = readU16(cd, e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (): number => {
          if (q + 8 > e + 4 + len) fail(`zip64 extra field of ${name} is too short`);
          const v = readU64(cd, q, 'zip64 field');
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      e += 4 + len;
    }
    entries.push({ name, method, compressedSize, size, crc32, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Byte offset of an entry's data: local header (30 bytes) + its own name and extra lengths. */
export function zipEntryDataOffset(src: ByteSource, entry: ZipEntry): number {
  if (entry.localHeaderOffset + 30 > src.size) {
    throw new WeightFormatError(src.name, `zip: local header of ${entry.name} is past the end of the file (truncated?)`);
  }
  const h = src.read(entry.localHeaderOffset, 30);
  if (readU32(h, 0) !== localSig) throw new WeightFormatError(src.name, `zip: bad local header for ${entry.name}`);
  const start = entry.localHeaderOffset + 30 + readU16(h, 26) + readU16(h, 28);
  if (start + entry.compressedSize > src.size) {
    throw new WeightFormatError(
      src.name,
      `zip: data of ${entry.name} (${entry.compressedSize} bytes at ${start}) runs past the end of the ${src.size}-byte file (truncated?)`,
    );
  }
  return start;
}
