/**
 * Hand-built FUSE wire images for protocol tests. Every field is given with its byte offset and
 * width as include/uapi/linux/fuse.h (7.45) lays it out, so an expected image never comes from the
 * code under test.
 */

/** [offset, width in bytes, value] of an integer field, or [offset, 'utf8', text] of raw bytes. */
export type Field = readonly [number, 1 | 2 | 4 | 8, number | bigint] | readonly [number, 'utf8', string];

const U8 = 1;
const U16 = 2;
const U32 = 4;

/** A zero-filled struct of `size` bytes with `fields` written little-endian; fields must not overlap. */
export function struct(size: number, fields: readonly Field[]): Buffer {
  const buf = Buffer.alloc(size);
  const taken = new Uint8Array(size);
  for (const [off, width, value] of fields) {
    const len = width === 'utf8' ? Buffer.byteLength(value as string) : width;
    if (off < 0 || off + len > size) throw new RangeError(`field at ${off} (+${len}) is outside ${size} bytes`);
    for (let i = off; i < off + len; i++) {
      if (taken[i]) throw new RangeError(`field at ${off} overlaps another at byte ${i}`);
      taken[i] = 1;
    }
    if (width === 'utf8') buf.write(value as string, off, 'utf8');
    else if (width === U8) buf.writeUInt8(Number(value), off);
    else if (width === U16) buf.writeUInt16LE(Number(value), off);
    else if (width === U32) buf.writeUInt32LE(Number(value), off);
    else buf.writeBigUInt64LE(BigInt(value), off);
  }
  return buf;
}

/** Bytes of a C string: the text and its NUL. */
export function cstr(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.of(0)]);
}

/** fuse_in_header: len u32 @0, opcode u32 @4, unique u64 @8, nodeid u64 @16, uid @24, gid @28, pid @32, total_extlen u16 @36, padding u16 @38. */
export const IN_HEADER_BYTES = 40;

export interface RequestFixture {
  readonly opcode: number;
  readonly unique?: bigint;
  readonly nodeid?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly pid?: number;
  /** Extension bytes after the body (a multiple of 8). */
  readonly ext?: Buffer;
}

/** A whole request as the kernel hands it over in one read(): header, op body, extensions. */
export function request(r: RequestFixture, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat([...body, r.ext ?? Buffer.alloc(0)]);
  const EXTLEN_UNIT = 8;
  const header = struct(IN_HEADER_BYTES, [
    [0, 4, IN_HEADER_BYTES + payload.length],
    [4, 4, r.opcode],
    [8, 8, r.unique ?? 2n],
    [16, 8, r.nodeid ?? 1],
    [24, 4, r.uid ?? 0],
    [28, 4, r.gid ?? 0],
    [32, 4, r.pid ?? 0],
    [36, 2, (r.ext?.length ?? 0) / EXTLEN_UNIT],
  ]);
  return Buffer.concat([header, payload]);
}
