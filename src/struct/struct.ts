import {
  alignUp, type RangeFault, readI64, readU16, readU32, readU64, readU64n, u64RangeFault, writeFixedBytes, writeI64, writeU16, writeU32, writeU64, writeU64n,
} from './le.js';

/**
 * C structs declared once, as a field list, the way the kernel and upstream headers lay them
 * out (#[repr(C)] in fuser): each field at the next offset its alignment allows unless the C
 * layout puts it elsewhere (`at`), the struct padded to its largest alignment. From the list come
 * SIZE and OFF (frozen numbers: hot paths read fields at OFF.x with the le.ts accessors), and a
 * whole-struct decode and encode for the rest. defineStruct throws at module load when the
 * fields do not add up to the size the C header states, or when an explicit offset overlaps or
 * misaligns, so a layout mistake never reaches a byte on the wire or on media.
 */

/**
 * u64 is decoded as a number (refused above 2^53 by the struct's RangeFault); u64n as a bigint,
 * for bit patterns (magics, CRCs, FUSE uniques); i32 and i64 are signed (i64 also within 2^53).
 */
type Scalar = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'i64' | 'u64n';

export interface Bytes {
  readonly kind: 'bytes';
  readonly size: number;
}

/** Bytes the C struct reserves (padding, reserved words): never decoded, written as zeroes. */
export interface Pad {
  readonly kind: 'pad';
  readonly size: number;
}

export interface Nested<S extends AnyStruct> {
  readonly kind: 'struct';
  readonly struct: S;
}

export interface ArrayOf<S extends AnyStruct> {
  readonly kind: 'array';
  readonly struct: S;
  readonly count: number;
}

/** A C union: as large and as aligned as its largest arm; the codec that knows which arm holds reads it at OFF. */
export interface Union {
  readonly kind: 'union';
  readonly arms: readonly FieldType[];
}

type FieldType = Scalar | Bytes | Pad | Nested<AnyStruct> | ArrayOf<AnyStruct> | Union;

export interface Placed<T extends FieldType> {
  readonly kind: 'placed';
  readonly type: T;
  readonly at: number;
}

type FieldDecl = FieldType | Placed<FieldType>;
export type Fields = Readonly<Record<string, FieldDecl>>;

/** A raw byte field (a UUID, a fixed-size name): decoded as a copy, encoded strncpy-style. */
export function bytes(size: number): Bytes {
  return { kind: 'bytes', size };
}

export function pad(size: number): Pad {
  return { kind: 'pad', size };
}

export function nested<S extends AnyStruct>(struct: S): Nested<S> {
  return { kind: 'struct', struct };
}

export function arrayOf<S extends AnyStruct>(struct: S, count: number): ArrayOf<S> {
  return { kind: 'array', struct, count };
}

export function union(...arms: FieldType[]): Union {
  return { kind: 'union', arms };
}

/** A field at the offset the C layout gives it, past padding the natural layout would not add. */
export function at<T extends FieldType>(offset: number, type: T): Placed<T> {
  return { kind: 'placed', type, at: offset };
}

type TypeOf<D> = D extends Placed<infer T> ? T : D;
type ValueOf<T> =
  T extends 'u64n' ? bigint
  : T extends Scalar ? number
  : T extends Bytes ? Buffer
  : T extends Nested<infer S> ? StructValue<S>
  : T extends ArrayOf<infer S> ? Array<StructValue<S>>
  : never;
type DataKeys<F extends Fields> = { [K in keyof F]: TypeOf<F[K]> extends Pad | Union ? never : K }[keyof F];

/** The decoded value of a struct: one property per field, padding and unions left out. */
type Values<F extends Fields> = { -readonly [K in DataKeys<F>]: ValueOf<TypeOf<F[K]>> };
type StructValue<S extends AnyStruct> = S extends Struct<infer F> ? Values<F> : never;

export interface Struct<F extends Fields> {
  /** The C name, for messages. */
  readonly name: string;
  /** sizeof: the fields' end padded to the struct's alignment, equal to the C size (checked). */
  readonly SIZE: number;
  readonly ALIGN: number;
  /** offsetof each field, from the struct's start. */
  readonly OFF: Readonly<{ [K in keyof F]: number }>;
  /** Every field but padding and unions; a u64 above 2^53 throws `fault` (by default the struct's). */
  decode(buf: Buffer, off?: number, fault?: RangeFault): Values<F>;
  /** Writes every field (padding as zeroes) at `off`; unions, unused array elements and bytes outside the fields are left alone. */
  encode(buf: Buffer, off: number, value: Values<F>): void;
  /** A new zeroed buffer of SIZE bytes holding `value`. */
  alloc(value: Values<F>): Buffer;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the constraint every Struct<F> meets
type AnyStruct = Struct<any>;

interface Layout {
  readonly size: number;
  readonly align: number;
}

function layoutOf(t: FieldType): Layout {
  switch (t) {
    case 'u8': return { size: 1, align: 1 };
    case 'u16': return { size: 2, align: 2 };
    case 'u32': case 'i32': return { size: 4, align: 4 };
    case 'u64': case 'i64': case 'u64n': return { size: 8, align: 8 };
  }
  switch (t.kind) {
    case 'bytes': case 'pad': return { size: t.size, align: 1 };
    case 'struct': return { size: t.struct.SIZE, align: t.struct.ALIGN };
    case 'array': return { size: t.struct.SIZE * t.count, align: t.struct.ALIGN };
    case 'union': {
      const arms = t.arms.map(layoutOf);
      return { size: Math.max(...arms.map((l) => l.size)), align: Math.max(...arms.map((l) => l.align)) };
    }
  }
}

type Reader = (buf: Buffer, off: number, fault: RangeFault) => unknown;
type Writer = (buf: Buffer, off: number, value: never) => void;

function readerOf(t: FieldType, label: string): Reader | undefined {
  switch (t) {
    case 'u8': return (b, o) => b.readUInt8(o);
    case 'u16': return readU16;
    case 'u32': return readU32;
    case 'i32': return (b, o) => b.readInt32LE(o);
    case 'u64': return (b, o, fault) => readU64(b, o, label, fault);
    case 'i64': return (b, o, fault) => readI64(b, o, label, fault);
    case 'u64n': return readU64n;
  }
  switch (t.kind) {
    case 'bytes': return (b, o) => Buffer.from(b.subarray(o, o + t.size));
    case 'pad': case 'union': return undefined;
    case 'struct': return (b, o, fault) => t.struct.decode(b, o, fault);
    case 'array': {
      const { struct, count } = t;
      return (b, o, fault) => {
        const list: unknown[] = new Array(count);
        for (let i = 0; i < count; i++) list[i] = struct.decode(b, o + i * struct.SIZE, fault);
        return list;
      };
    }
  }
}

function writerOf(t: FieldType, name: string): Writer {
  switch (t) {
    case 'u8': return (b, o, v: number) => { b.writeUInt8(v, o); };
    case 'u16': return writeU16;
    case 'u32': return writeU32;
    case 'i32': return (b, o, v: number) => { b.writeInt32LE(v, o); };
    case 'u64': return writeU64;
    case 'i64': return writeI64;
    case 'u64n': return writeU64n;
  }
  switch (t.kind) {
    case 'bytes': return (b, o, v: Uint8Array) => writeFixedBytes(b, o, t.size, v);
    case 'pad': return (b, o) => { b.fill(0, o, o + t.size); };
    case 'union': return () => {};
    case 'struct': return (b, o, v: never) => t.struct.encode(b, o, v);
    case 'array': {
      const { struct, count } = t;
      return (b, o, list: readonly never[]) => {
        if (list.length > count) throw new RangeError(`${name}: ${list.length} elements, room for ${count}`);
        for (let i = 0; i < list.length; i++) struct.encode(b, o + i * struct.SIZE, list[i]!);
      };
    }
  }
}

interface FieldOp {
  readonly name: string;
  readonly off: number;
  readonly read: Reader | undefined;
  readonly write: Writer;
}

export interface StructOptions {
  /** What a u64 above 2^53 throws (default: a RangeError carrying EOVERFLOW). */
  readonly fault?: RangeFault;
  /** Alignment beyond the largest field's, where the C struct declares one. */
  readonly align?: number;
}

/**
 * The struct `name` of `cSize` bytes (the size its C header or the spec states) from its fields,
 * in declaration order.
 */
export function defineStruct<const F extends Fields>(name: string, cSize: number, fields: F, opts: StructOptions = {}): Struct<F> {
  const defaultFault = opts.fault ?? u64RangeFault;
  const ops: FieldOp[] = [];
  const offsets: Record<string, number> = {};
  let end = 0;
  let align = opts.align ?? 1;
  for (const [field, decl] of Object.entries(fields)) {
    const type = typeof decl === 'object' && decl.kind === 'placed' ? decl.type : decl as FieldType;
    const l = layoutOf(type);
    const natural = alignUp(end, l.align);
    const off = typeof decl === 'object' && decl.kind === 'placed' ? decl.at : natural;
    if (off < natural || off % l.align !== 0) {
      throw new Error(`${name}.${field}: offset ${off} overlaps the field before it or breaks its ${l.align}-byte alignment (next free ${natural})`);
    }
    offsets[field] = off;
    ops.push({ name: field, off, read: readerOf(type, `${name}.${field}`), write: writerOf(type, `${name}.${field}`) });
    end = off + l.size;
    align = Math.max(align, l.align);
  }
  const size = alignUp(end, align);
  if (size !== cSize) throw new Error(`${name}: the fields add up to ${size} bytes, the C struct is ${cSize}`);
  const readers = ops.filter((op) => op.read !== undefined);
  const s: Struct<F> = {
    name,
    SIZE: size,
    ALIGN: align,
    OFF: Object.freeze(offsets) as Struct<F>['OFF'],
    decode(buf: Buffer, off = 0, fault = defaultFault): Values<F> {
      if (off < 0 || off + size > buf.length) throw new RangeError(`${name}: ${size} bytes at ${off} are outside a buffer of ${buf.length}`);
      const value: Record<string, unknown> = {};
      for (const op of readers) value[op.name] = op.read!(buf, off + op.off, fault);
      return value as Values<F>;
    },
    encode(buf: Buffer, off: number, value: Values<F>): void {
      if (off < 0 || off + size > buf.length) throw new RangeError(`${name}: ${size} bytes at ${off} are outside a buffer of ${buf.length}`);
      const v = value as Record<string, never>;
      for (const op of ops) op.write(buf, off + op.off, v[op.name]!);
    },
    alloc(value: Values<F>): Buffer {
      const buf = Buffer.alloc(size);
      s.encode(buf, 0, value);
      return buf;
    },
  };
  return Object.freeze(s);
}
