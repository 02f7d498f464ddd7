import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A sub-command's flags and positionals, parsed strictly. An unknown or malformed flag is printed
 * with the command's usage and gives undefined: the caller exits with code 2.
 */
export function parseCommandLine<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    return undefined;
  }
}

/** A flag that must be a whole number (the fallback when it is absent, if there is one). */
export function wholeNumber(value: unknown, name: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be a whole number`);
  return n;
}
