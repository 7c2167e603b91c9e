import { createRequire } from 'node:module';

type Commander = typeof import('commander');

/**
 * commander, loaded as the CommonJS package it is. An ESM `import` of it goes through its ESM
 * wrapper, and Node then parses the CommonJS source once more to find its export names: time of
 * every CLI process, which a script running `famfs creat` once per file pays per file
 * (bench/README.md, "`famfs creat` per CLI process").
 * Every CLI module takes the values from here; types may still come from 'commander' itself.
 */
const commander = createRequire(import.meta.url)('commander') as Commander;

export const Command = commander.Command;
export type Command = import('commander').Command;
export const CommanderError = commander.CommanderError;
export type CommanderError = import('commander').CommanderError;
export const InvalidArgumentError = commander.InvalidArgumentError;
export type InvalidArgumentError = import('commander').InvalidArgumentError;
export const Option = commander.Option;
export type Option = import('commander').Option;
