// Weight files read by path, through a file descriptor (Node only: the package's Node entry
// imports this module, which also teaches openSource() to accept paths).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { type ByteSource, WeightFormatError, checkRange, setFileOpener } from './byteSource.ts';

// readSync's length is an int32; stay well under it.
const maxReadChunk = 1 << 30;

export function fileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  let open = true;
  const size = fstatSync(fd).size;
  const src: ByteSource = {
    name: path,
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      src.readInto(offset, out);
      return out;
    },
    readInto(offset, dest) {
      checkRange(src, offset, dest.length);
      let done = 0;
      while (done < dest.length) {
        const want = Math.min(maxReadChunk, dest.length - done);
        const got = readSync(fd, dest, done, want, offset + done);
        if (got <= 0) throw new WeightFormatError(path, `unexpected end of file at byte ${offset + done}`);
        done += got;
      }
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
  return src;
}

setFileOpener(fileSource);
