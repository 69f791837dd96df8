/**
 * Redis stream ids (`<ms>-<seq>`) are the event ids. Clients send them back
 * as `Last-Event-ID`, so they are parsed strictly: no leading zeros, no
 * signs, at most 20 digits per part (u64), so one id has one spelling.
 */
const STREAM_ID = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/;

export function isStreamId(value: string): boolean {
  return STREAM_ID.test(value);
}

/** Order of two valid stream ids: negative, zero or positive. */
export function compareStreamIds(a: string, b: string): number {
  const dashA = a.indexOf('-');
  const dashB = b.indexOf('-');
  return compareDigits(a.slice(0, dashA), b.slice(0, dashB)) || compareDigits(a.slice(dashA + 1), b.slice(dashB + 1));
}

// Decimal strings without leading zeros: longer is larger, else lexicographic.
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
