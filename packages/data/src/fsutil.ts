import { readFile } from 'node:fs/promises';

/** readFile as a plain Uint8Array view (Buffer's typings clash with Uint8Array under TS 5.9). */
export async function readBytes(file: string): Promise<Uint8Array> {
  const b = await readFile(file);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
