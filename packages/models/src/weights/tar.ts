// Minimal tar reader for the oldest torch.save format (PyTorch <= 0.1.x wrote a PAX tar with
// entries sys_info, pickle, tensors, storages). We only need names, sizes and data offsets.

import { type ByteSource, WeightFormatError } from './byteSource.ts';

export interface TarEntry {
  name: string;
  offset: number;
  size: number;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

function cString(b: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return latin1.decode(b.subarray(start, end));
}

/** Octal (or GNU base-256) numeric header field. */
function tarNumber(b: Uint8Array, start: number, len: number): number {
  if (b[start] & 0x80) {
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = cString(b, start, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

/** True when the bytes carry the POSIX `ustar` magic at offset 257. */
export function isTar(head: Uint8Array): boolean {
  return head.length >= 262 && latin1.decode(head.subarray(257, 262)) === 'ustar';
}

export function readTarEntries(src: ByteSource): TarEntry[] {
  const entries: TarEntry[] = [];
  let pos = 0;
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  let gnuLongName: string | undefined;
  while (pos + 512 <= src.size) {
    const h = src.read(pos, 512);
    if (h.every((x) => x === 0)) break; // end-of-archive marker
    let checksum = 0;
    for (let i = 0; i < 512; i++) checksum += i >= 148 && i < 156 ? 32 : h[i];
    if (checksum !== tarNumber(h, 148, 8)) throw new WeightFormatError(src.name, `tar: header at byte ${pos} has a bad checksum`);
    const prefix = cString(h, 345, 155);
    const baseName = cString(h, 0, 100);
    let name = prefix ? `${prefix}/${baseName}` : baseName;
    let size = tarNumber(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const dataAt = pos + 512;
    if (dataAt + size > src.size) {
      throw new WeightFormatError(src.name, `tar: entry ${name} (${size} bytes at ${dataAt}) runs past the end of the file (truncated?)`);
    }
    if (type === 'x' || type === 'g' || type === 'L') {
      const body = src.read(dataAt, size);
      if (type === 'x') {
        // PAX records: "<len> key=value\n", overriding the next header's fields.
        const text = utf8.decode(body);
        let i = 0;
        while (i < text.length) {
          const sp = text.indexOf(' ', i);
          if (sp < 0) break;
          const len = parseInt(text.slice(i, sp), 10);
          if (!(len > 0)) break;
          const rec = text.slice(sp + 1, i + len - 1);
          const eq = rec.indexOf('=');
          const key = rec.slice(0, eq);
          const value = rec.slice(eq + 1);
          if (key === 'path') paxPath = value;
          if (key === 'size') paxSize = parseInt(value, 10);
          i += len;
        }
      } else if (type === 'L') {
        gnuLongName = cString(body, 0, body.length);
      }
    } else {
      if (paxPath !== undefined) name = paxPath;
      else if (gnuLongName !== undefined) name = gnuLongName;
      if (paxSize !== undefined) size = paxSize;
      paxPath = paxSize = gnuLongName = undefined;
      if (dataAt + size > src.size) {
        throw new WeightFormatError(src.name, `tar: entry ${name} (${size} bytes at ${dataAt}) runs past the end of the file (truncated?)`);
      }
      if (type === '0' || type === '\0' || type === '7') entries.push({ name, offset: dataAt, size });
    }
    pos = dataAt + Math.ceil(size / 512) * 512;
  }
  return entries;
}
