/**
 * The ports the examples' command lines (led-demo, fleet, sensor-dashboard) refuse, with the one
 * line each prints before its usage: the same wording in all three, naming where the value came
 * from (`--port` or the PORT environment variable) and the value. An empty value is refused too,
 * rather than read as 0 (a random port) or as unset. For `it.each`.
 */
export const portRefusals: ReadonlyArray<{ args: string[]; env: NodeJS.ProcessEnv; message: string }> = [
  { args: ['--port', 'abc'], env: {}, message: '--port must be a whole number from 0 to 65535 (got "abc")' },
  { args: ['--port', '70000'], env: {}, message: '--port must be a whole number from 0 to 65535 (got "70000")' },
  // `--port -1` would be an option to parseArgs.
  { args: ['--port=-1'], env: {}, message: '--port must be a whole number from 0 to 65535 (got "-1")' },
  { args: ['--port', ''], env: {}, message: '--port must be a whole number from 0 to 65535 (got "")' },
  { args: [], env: { PORT: 'abc' }, message: 'PORT must be a whole number from 0 to 65535 (got "abc")' },
  { args: [], env: { PORT: '' }, message: 'PORT must be a whole number from 0 to 65535 (got "")' },
];
