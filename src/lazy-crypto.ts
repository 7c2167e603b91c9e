import { createRequire } from 'node:module';

type Crypto = typeof import('node:crypto');
let cached: Crypto | undefined;

/**
 * node:crypto, loaded at its first use. Loading it takes ~7 ms, which every daemon start paid
 * before its first request (bench/README.md) for hashes and UUIDs it needs later or never.
 */
export function nodeCrypto(): Crypto {
  cached ??= createRequire(import.meta.url)('node:crypto') as Crypto;
  return cached;
}
