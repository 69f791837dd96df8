// A Tasmota-like device for the benchmark, in its own process (as a real
// device is): answers cmnd/<t>/POWER with stat/<t>/RESULT and stat/<t>/POWER,
// publishes its LWT, and on "sensor <n> <hz>" lines on stdin publishes
// tele/<t>/SENSOR messages {"BENCH":{"T":<epoch ms, µs precision>}} at <hz>
// per second: the value is the instant of the publish on this machine's clock.
import { createInterface } from 'node:readline';
import { connectAsync } from 'mqtt';

const [url, topic] = process.argv.slice(2);
let on = false;
const client = await connectAsync(url, {
  clientId: `DVES_${topic}`,
  will: { topic: `tele/${topic}/LWT`, payload: Buffer.from('Offline'), qos: 1, retain: true },
});
if (process.env.DEVICE_NODELAY === '1') client.stream.setNoDelay?.(true);
let last = 0;
client.on('message', (t, payload) => {
  if (t === `cmnd/${topic}/STATUS`) {
    client.publish(`stat/${topic}/STATUS10`, JSON.stringify({ StatusSNS: { BENCH: { T: last } } }));
    return;
  }
  if (t !== `cmnd/${topic}/POWER`) return;
  const p = payload.toString().toUpperCase();
  if (p === 'ON') on = true;
  else if (p === 'OFF') on = false;
  const state = on ? 'ON' : 'OFF';
  client.publish(`stat/${topic}/RESULT`, JSON.stringify({ POWER: state }));
  client.publish(`stat/${topic}/POWER`, state);
});
await client.subscribeAsync(`cmnd/${topic}/#`);
await client.publishAsync(`tele/${topic}/LWT`, 'Online', { qos: 1, retain: true });
process.stdout.write('ready\n');

createInterface({ input: process.stdin }).on('line', (line) => {
  const [what, n, hz] = line.split(' ');
  if (what !== 'sensor') return;
  const count = Number(n);
  const period = 1000 / Number(hz);
  const start = performance.now();
  let i = 0;
  const next = () => {
    const now = performance.timeOrigin + performance.now();
    last = now;
    client.publish(`tele/${topic}/SENSOR`, JSON.stringify({ BENCH: { T: now } }));
    i++;
    if (i < count) setTimeout(next, Math.max(0, start + i * period - performance.now()));
    else process.stdout.write('sent\n');
  };
  next();
});
process.stdin.on('end', () => void client.endAsync().then(() => process.exit(0)));
