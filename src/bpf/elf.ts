import { BpfError } from './errors.js';

/**
 * Just enough of ELF64 (little-endian, as clang -target bpf writes on x86 and arm64) to load a
 * BPF object: section headers, the symbol table and REL relocations. Offsets are from the
 * System V gABI (Elf64_Ehdr, Elf64_Shdr, Elf64_Sym, Elf64_Rel).
 */
const ELF_MAGIC = 0x464c457f; // "\x7fELF" read as a little-endian u32
const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EM_BPF = 247;
const EHDR = { machine: 0x12, shoff: 0x28, shentsize: 0x3a, shnum: 0x3c, shstrndx: 0x3e } as const;
const SHDR_SIZE = 64;
const SHDR = { name: 0, type: 4, flags: 8, offset: 24, size: 32, link: 40, info: 44 } as const;
const SYM_SIZE = 24;
const SYM = { name: 0, info: 4, shndx: 6, value: 8, size: 16 } as const;
const REL_SIZE = 16;
const STT_MASK = 0xf;
const REL_SYM_SHIFT = 32n;
const REL_TYPE_MASK = 0xffffffffn;

const SHT_SYMTAB = 2;
const SHT_REL = 9;
export const SHF_EXECINSTR = 0x4;
export const STT_FUNC = 2;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  link: number;
  info: number;
  data: Buffer;
}

interface ElfSymbol {
  name: string;
  type: number;
  shndx: number;
  value: number;
  size: number;
}

interface ElfRel {
  offset: number;
  symbol: number;
  type: number;
}

export interface ElfObject {
  sections: ElfSection[];
  symbols: ElfSymbol[];
  /** Relocations by the index of the section they patch. */
  rels: Map<number, ElfRel[]>;
}

function bad(why: string): never {
  throw new BpfError('EINVAL', `not a BPF object: ${why}`);
}

function cstring(b: Buffer, off: number): string {
  const end = b.indexOf(0, off);
  return b.toString('latin1', off, end < 0 ? b.length : end);
}

function num(b: Buffer, off: number): number {
  const v = b.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(`field at ${off} out of range`);
  return Number(v);
}

function slice(file: Buffer, off: number, size: number, what: string): Buffer {
  if (off + size > file.length) bad(`${what} runs past the end of the file`);
  return file.subarray(off, off + size);
}

export function parseElf(file: Buffer): ElfObject {
  if (file.length < EHDR.shstrndx + 2 || file.readUInt32LE(0) !== ELF_MAGIC) bad('no ELF magic');
  if (file[EI_CLASS] !== ELFCLASS64 || file[EI_DATA] !== ELFDATA2LSB) bad('not 64-bit little-endian');
  if (file.readUInt16LE(EHDR.machine) !== EM_BPF) bad(`machine ${file.readUInt16LE(EHDR.machine)} is not BPF (${EM_BPF})`);
  const shoff = num(file, EHDR.shoff);
  const shnum = file.readUInt16LE(EHDR.shnum);
  if (file.readUInt16LE(EHDR.shentsize) !== SHDR_SIZE) bad('unexpected section header size');
  const headers = slice(file, shoff, shnum * SHDR_SIZE, 'section headers');
  const raw = Array.from({ length: shnum }, (_, i) => {
    const h = i * SHDR_SIZE;
    return {
      nameOff: headers.readUInt32LE(h + SHDR.name),
      type: headers.readUInt32LE(h + SHDR.type),
      flags: num(headers, h + SHDR.flags),
      offset: num(headers, h + SHDR.offset),
      size: num(headers, h + SHDR.size),
      link: headers.readUInt32LE(h + SHDR.link),
      info: headers.readUInt32LE(h + SHDR.info),
    };
  });
  const shstr = raw[file.readUInt16LE(EHDR.shstrndx)] ?? bad('no section name table');
  const names = slice(file, shstr.offset, shstr.size, 'section names');
  const SHT_NOBITS = 8;
  const sections: ElfSection[] = raw.map((s, index) => ({
    index, name: cstring(names, s.nameOff), type: s.type, flags: s.flags, link: s.link, info: s.info,
    data: s.type === SHT_NOBITS ? Buffer.alloc(0) : slice(file, s.offset, s.size, `section ${index}`),
  }));

  const symtab = sections.find((s) => s.type === SHT_SYMTAB) ?? bad('no symbol table');
  const strtab = sections[symtab.link] ?? bad('no symbol names');
  const symbols: ElfSymbol[] = [];
  for (let off = 0; off + SYM_SIZE <= symtab.data.length; off += SYM_SIZE) {
    symbols.push({
      name: cstring(strtab.data, symtab.data.readUInt32LE(off + SYM.name)),
      type: symtab.data[off + SYM.info]! & STT_MASK,
      shndx: symtab.data.readUInt16LE(off + SYM.shndx),
      value: num(symtab.data, off + SYM.value),
      size: num(symtab.data, off + SYM.size),
    });
  }

  const rels = new Map<number, ElfRel[]>();
  for (const s of sections.filter((x) => x.type === SHT_REL)) {
    const list: ElfRel[] = [];
    for (let off = 0; off + REL_SIZE <= s.data.length; off += REL_SIZE) {
      const info = s.data.readBigUInt64LE(off + 8);
      list.push({ offset: num(s.data, off), symbol: Number(info >> REL_SYM_SHIFT), type: Number(info & REL_TYPE_MASK) });
    }
    rels.set(s.info, list);
  }
  return { sections, symbols, rels };
}
