/** Raised for any file that cannot be turned into pixels; the message always names the file. */
export class ImageDecodeError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`cannot decode image '${file}': ${reason}`);
    this.name = 'ImageDecodeError';
  }
}
