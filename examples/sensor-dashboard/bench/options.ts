import { parseArgs } from 'node:util';

type BenchOptions<T> = { [K in keyof T]: T[K] extends number ? number : string };

/**
 * The bench's `--name value` options (`pnpm --filter sensor-dashboard bench:… -- --seconds 3`):
 * one for each name in `defaults`, read as a number where its default is a number. An option
 * not named there is refused (parseArgs); the `--` that pnpm hands through is dropped.
 */
export function benchOptions<T extends Record<string, number | string>>(defaults: T): BenchOptions<T> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: Object.fromEntries(
      Object.entries(defaults).map(([name, value]) => [name, { type: 'string' as const, default: String(value) }]),
    ),
  });
  return Object.fromEntries(
    Object.entries(defaults).map(([name, value]) => [
      name,
      typeof value === 'number' ? Number(values[name]) : values[name],
    ]),
  ) as BenchOptions<T>;
}
