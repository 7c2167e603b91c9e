import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../addon.js';

/** The installed package's version (package.json), what every command's --version prints. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
