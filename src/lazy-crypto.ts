import { createRequire } from 'node:module';

type Crypto = typeof import('node:crypto');
let cached: Crypto | undefined;

/**
 * node:crypto, loaded at its first use: the daemon needs its hashes and UUIDs after its first
 * request or never, and loading the module is part of the start-up time `famfs mount` pays
 * (bench/README.md, "Mount with a full log").
 */
export function nodeCrypto(): Crypto {
  cached ??= createRequire(import.meta.url)('node:crypto') as Crypto;
  return cached;
}
