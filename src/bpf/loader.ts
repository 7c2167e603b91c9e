import { closeSync, readFileSync } from 'node:fs';
import { defineStruct } from '../struct/struct.js';
import { bpfErrorFrom, BpfError } from './errors.js';
import { parseElf, SHF_EXECINSTR, STT_FUNC, type ElfObject, type ElfSection } from './elf.js';
import type { BpfMap } from './map.js';
import { loadBpfNative, type BpfTestRunResult } from './native.js';
import {
  BPF_F_SLEEPABLE, BPF_INSN_SIZE, BPF_LD_IMM64, BPF_OBJ_NAME_LEN, BPF_PSEUDO_MAP_FD, BPF_PROG_TYPE_SOCKET_FILTER,
  BPF_PROG_TYPE_SYSCALL, BPF_PROG_TYPE_XDP, R_BPF_64_64,
} from './uapi.js';

/**
 * A loader for the famfs BPF objects: no libbpf, no BTF. Each executable section is one
 * program, typed by its section name; map references (ld_imm64 relocated against a symbol in
 * the legacy "maps" section) are bound by symbol name to maps the caller already has open —
 * the pinned, published ones — after checking their shape against the object's definition.
 */

/** Program type and load flags by section name (the names libbpf uses, for familiarity). */
const SECTION_TYPES: Readonly<Record<string, { type: number; flags: number }>> = {
  syscall: { type: BPF_PROG_TYPE_SYSCALL, flags: BPF_F_SLEEPABLE },
  xdp: { type: BPF_PROG_TYPE_XDP, flags: 0 },
  socket: { type: BPF_PROG_TYPE_SOCKET_FILTER, flags: 0 },
};
const MAPS_SECTION = 'maps';
const LICENSE_SECTION = 'license';
/** struct famfs_map_def (bpf/famfs_resolve.bpf.c), a legacy "maps" section entry. */
const MAP_DEF = defineStruct('famfs_map_def', 20, { type: 'u32', keySize: 'u32', valueSize: 'u32', maxEntries: 'u32', mapFlags: 'u32' });
/** struct bpf_insn: opcode, dst_reg:4 | src_reg:4, a 16-bit offset, a 32-bit immediate. */
const BPF_INSN = defineStruct('bpf_insn', BPF_INSN_SIZE, { code: 'u8', regs: 'u8', off: 'u16', imm: 'i32' });
const INSN = BPF_INSN.OFF;
const SRC_REG_SHIFT = 4;
const DST_REG_MASK = 0x0f;

export interface LoadedProgram {
  name: string;
  section: string;
  type: number;
  fd: number;
}

export class BpfObject {
  private constructor(readonly programs: ReadonlyMap<string, LoadedProgram>) {}

  /** Load every program of the object file at `path`, binding its maps to `maps` by name. */
  static load(path: string, maps: Readonly<Record<string, BpfMap>>): BpfObject {
    const elf = parseElf(readFileSync(path));
    const license = licenseOf(elf);
    const loaded = new Map<string, LoadedProgram>();
    try {
      for (const sec of elf.sections) {
        if (!(sec.flags & SHF_EXECINSTR) || sec.data.length === 0) continue;
        const kind = SECTION_TYPES[sec.name];
        if (!kind) throw new BpfError('EINVAL', `${path}: section '${sec.name}' has code but no program type this loader knows`);
        const insns = relocate(elf, sec, maps, path);
        const name = programName(elf, sec);
        let fd: number;
        try {
          fd = loadBpfNative().bpfProgLoad(kind.type, insns, license, name.slice(0, BPF_OBJ_NAME_LEN - 1), kind.flags, 0, 0);
        } catch (err) {
          throw bpfErrorFrom(err, `loading BPF program ${name} from ${path}`);
        }
        loaded.set(name, { name, section: sec.name, type: kind.type, fd });
      }
    } catch (err) {
      for (const p of loaded.values()) closeSync(p.fd);
      throw err;
    }
    return new BpfObject(loaded);
  }

  program(name: string): LoadedProgram {
    const p = this.programs.get(name);
    if (!p) throw new BpfError('ENOENT', `no BPF program ${name} in the object (it has ${[...this.programs.keys()].join(', ')})`);
    return p;
  }

  close(): void {
    for (const p of this.programs.values()) closeSync(p.fd);
  }
}

function licenseOf(elf: ElfObject): string {
  const sec = elf.sections.find((s) => s.name === LICENSE_SECTION);
  if (!sec) throw new BpfError('EINVAL', 'BPF object has no license section');
  const end = sec.data.indexOf(0);
  return sec.data.toString('latin1', 0, end < 0 ? sec.data.length : end);
}

function programName(elf: ElfObject, sec: ElfSection): string {
  const fn = elf.symbols.find((s) => s.shndx === sec.index && s.type === STT_FUNC && s.value === 0);
  return fn?.name ?? sec.name;
}

/** The section's instructions with every map reference turned into a BPF_PSEUDO_MAP_FD load. */
function relocate(elf: ElfObject, sec: ElfSection, maps: Readonly<Record<string, BpfMap>>, path: string): Buffer {
  const insns = Buffer.from(sec.data);
  for (const rel of elf.rels.get(sec.index) ?? []) {
    const sym = elf.symbols[rel.symbol];
    const target = sym ? elf.sections[sym.shndx] : undefined;
    if (!sym || rel.type !== R_BPF_64_64 || target?.name !== MAPS_SECTION) {
      throw new BpfError('EINVAL', `${path}: relocation in '${sec.name}' against '${sym?.name ?? rel.symbol}' is not a map reference (calls must be inlined)`);
    }
    const map = maps[sym.name];
    if (!map) throw new BpfError('EINVAL', `${path}: program uses map '${sym.name}', which was not given`);
    if (sym.value + MAP_DEF.SIZE > target.data.length) throw new BpfError('EINVAL', `${path}: map '${sym.name}' runs past the end of its section`);
    const { type, keySize, valueSize } = MAP_DEF.decode(target.data, sym.value);
    if (map.info.type !== type || map.info.keySize !== keySize || map.info.valueSize !== valueSize) {
      throw new BpfError('EINVAL', `${path}: map '${sym.name}' is defined as type ${type} ${keySize}/${valueSize} bytes, the map given is ${map.info.type} ${map.info.keySize}/${map.info.valueSize}`);
    }
    const at = rel.offset;
    if (at % BPF_INSN_SIZE !== 0 || at + 2 * BPF_INSN_SIZE > insns.length || insns[at] !== BPF_LD_IMM64) {
      throw new BpfError('EINVAL', `${path}: map relocation at ${at} in '${sec.name}' is not on an ld_imm64`);
    }
    insns[at + INSN.regs] = (insns[at + INSN.regs]! & DST_REG_MASK) | (BPF_PSEUDO_MAP_FD << SRC_REG_SHIFT);
    insns.writeInt32LE(map.fd, at + INSN.imm);
    insns.writeInt32LE(0, at + BPF_INSN.SIZE + INSN.imm);
  }
  return insns;
}

/** BPF_PROG_TEST_RUN of a loaded program; buffers are the caller's. */
export function testRun(prog: LoadedProgram, io: { dataIn?: Uint8Array; dataOut?: Uint8Array; ctxIn?: Uint8Array; ctxOut?: Uint8Array; repeat?: number }): BpfTestRunResult {
  try {
    return loadBpfNative().bpfProgTestRun(prog.fd, io.dataIn, io.dataOut, io.ctxIn, io.ctxOut, io.repeat ?? 0, 0);
  } catch (err) {
    throw bpfErrorFrom(err, `running BPF program ${prog.name}`);
  }
}
