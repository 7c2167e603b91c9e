import { FamfsError } from '../errors.js';

/** Exit statuses that are not an errno. */
const EXIT_OK = 0;
export const EXIT_FAILURE = 1;

/**
 * Run a command body: a FamfsError becomes one line on stderr and its exit code; any
 * other error is a bug, printed with its stack.
 */
export async function runCommand(prog: string, body: () => number | void | Promise<number | void>): Promise<void> {
  let code: number;
  try {
    code = (await body()) ?? EXIT_OK;
  } catch (err) {
    if (err instanceof FamfsError) {
      process.stderr.write(`${prog}: ${err.message}\n`);
      code = err.exitCode;
    } else {
      const e = err as NodeJS.ErrnoException;
      if (e && typeof e.code === 'string' && typeof e.message === 'string' && e.syscall) {
        process.stderr.write(`${prog}: ${e.message}\n`);
        code = Math.min(Math.abs(e.errno ?? 1), 127);
      } else {
        process.stderr.write(`${prog}: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
        code = EXIT_FAILURE;
      }
    }
  }
  process.exitCode = code;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
