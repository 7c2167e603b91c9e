import type { RangeFault } from '../struct/le.js';
import { bytes, defineStruct } from '../struct/struct.js';
import { BpfError } from './errors.js';

/**
 * Just enough of ELF64 (little-endian, as clang -target bpf writes on x86 and arm64) to load a
 * BPF object: section headers, the symbol table and REL relocations, laid out as the System V
 * gABI declares Elf64_Ehdr, Elf64_Shdr, Elf64_Sym and Elf64_Rel. Fields this loader never reads
 * are u64n, so no value of theirs can refuse an object.
 */
const fault: RangeFault = (field) => new BpfError('EINVAL', `not a BPF object: ${field} out of range`);

const EHDR = defineStruct('Elf64_Ehdr', 64, {
  ident: bytes(16), type: 'u16', machine: 'u16', version: 'u32', entry: 'u64n', phoff: 'u64n', shoff: 'u64', flags: 'u32',
  ehsize: 'u16', phentsize: 'u16', phnum: 'u16', shentsize: 'u16', shnum: 'u16', shstrndx: 'u16',
}, { fault });
const SHDR = defineStruct('Elf64_Shdr', 64, {
  name: 'u32', type: 'u32', flags: 'u64', addr: 'u64n', offset: 'u64', size: 'u64', link: 'u32', info: 'u32',
  addralign: 'u64n', entsize: 'u64n',
}, { fault });
const SYM = defineStruct('Elf64_Sym', 24, { name: 'u32', info: 'u8', other: 'u8', shndx: 'u16', value: 'u64', size: 'u64' }, { fault });
const REL = defineStruct('Elf64_Rel', 16, { offset: 'u64', info: 'u64n' }, { fault });

const ELF_MAGIC = 0x464c457f; // "\x7fELF" read as a little-endian u32
const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EM_BPF = 247;
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

function slice(file: Buffer, off: number, size: number, what: string): Buffer {
  if (off + size > file.length) bad(`${what} runs past the end of the file`);
  return file.subarray(off, off + size);
}

export function parseElf(file: Buffer): ElfObject {
  if (file.length < EHDR.SIZE || file.readUInt32LE(0) !== ELF_MAGIC) bad('no ELF magic');
  if (file[EI_CLASS] !== ELFCLASS64 || file[EI_DATA] !== ELFDATA2LSB) bad('not 64-bit little-endian');
  const ehdr = EHDR.decode(file);
  if (ehdr.machine !== EM_BPF) bad(`machine ${ehdr.machine} is not BPF (${EM_BPF})`);
  if (ehdr.shentsize !== SHDR.SIZE) bad('unexpected section header size');
  const headers = slice(file, ehdr.shoff, ehdr.shnum * SHDR.SIZE, 'section headers');
  const raw = Array.from({ length: ehdr.shnum }, (_, i) => SHDR.decode(headers, i * SHDR.SIZE));
  const shstr = raw[ehdr.shstrndx] ?? bad('no section name table');
  const names = slice(file, shstr.offset, shstr.size, 'section names');
  const SHT_NOBITS = 8;
  const sections: ElfSection[] = raw.map((s, index) => ({
    index, name: cstring(names, s.name), type: s.type, flags: s.flags, link: s.link, info: s.info,
    data: s.type === SHT_NOBITS ? Buffer.alloc(0) : slice(file, s.offset, s.size, `section ${index}`),
  }));

  const symtab = sections.find((s) => s.type === SHT_SYMTAB) ?? bad('no symbol table');
  const strtab = sections[symtab.link] ?? bad('no symbol names');
  const symbols: ElfSymbol[] = [];
  for (let off = 0; off + SYM.SIZE <= symtab.data.length; off += SYM.SIZE) {
    const sym = SYM.decode(symtab.data, off);
    symbols.push({ name: cstring(strtab.data, sym.name), type: sym.info & STT_MASK, shndx: sym.shndx, value: sym.value, size: sym.size });
  }

  const rels = new Map<number, ElfRel[]>();
  for (const s of sections.filter((x) => x.type === SHT_REL)) {
    const list: ElfRel[] = [];
    for (let off = 0; off + REL.SIZE <= s.data.length; off += REL.SIZE) {
      const rel = REL.decode(s.data, off);
      list.push({ offset: rel.offset, symbol: Number(rel.info >> REL_SYM_SHIFT), type: Number(rel.info & REL_TYPE_MASK) });
    }
    rels.set(s.info, list);
  }
  return { sections, symbols, rels };
}
