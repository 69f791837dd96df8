// Flags Debian's Chromium needs here (closed network, root, no GPU). One list
// for the tests (through system.ts) and the plain-Node scripts (the
// quick-start check, the LED demo's latency script).
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
