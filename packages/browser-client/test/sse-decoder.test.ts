import { describe, expect, it } from 'vitest';
import { createSseDecoder, type SseMessage } from '../src/index.js';

/**
 * The cases of web-platform-tests eventsource/format-*.any.js. Their server
 * (resources/message.py) sends `message + "\n\n" + "\n"`, or with
 * `newline=none` just `message + "\n"`; the bodies below include that tail.
 */
const x2048 = 'x'.repeat(2048);
const wpt: { name: string; body: string; data: string[]; ids?: string[]; events?: string[]; retry?: number[] }[] = [
  { name: 'format-bom', body: '\uFEFFdata:1\n\n\uFEFFdata:2\n\ndata:3\n\n\n', data: ['1', '3'] },
  { name: 'format-bom-2', body: '\uFEFF\uFEFFdata:1\n\ndata:2\n\ndata:3\n\n\n', data: ['2', '3'] },
  {
    name: 'format-comments',
    body: `data:1\r:\0\n:\r\ndata:2\n:${x2048}\rdata:3\n:data:fail\r:${x2048}\ndata:4\n\n`,
    data: ['1\n2\n3\n4'],
  },
  {
    name: 'format-data-before-final-empty-line',
    body: 'retry:1000\ndata:test1\n\nid:test\ndata:test2\n',
    data: ['test1'],
    ids: [''],
    retry: [1000],
  },
  { name: 'format-field-data', body: 'data:\n\ndata\ndata\n\ndata:test\n\n\n', data: ['', '\n', 'test'] },
  { name: 'format-field-event-empty', body: 'event: \ndata:data\n\n\n', data: ['data'], events: ['message'] },
  {
    name: 'format-field-event',
    body: 'event:test\ndata:x\n\ndata:x\n\n\n',
    data: ['x', 'x'],
    events: ['test', 'message'],
  },
  {
    name: 'format-field-id-3 (persists)',
    body: 'id: 1\ndata: 1\n\ndata: 2\n\nid: 2\ndata:3\n\ndata:4\n\n',
    data: ['1', '2', '3', '4'],
    ids: ['1', '1', '2', '2'],
  },
  {
    name: 'format-field-id-3 (resets)',
    body: 'id: 1\ndata: 1\n\nid: \ndata:2\n\ndata:3\n\n',
    data: ['1', '2', '3'],
    ids: ['1', '', ''],
  },
  {
    name: 'format-field-id-3 (resets, id without colon)',
    body: 'id: 1\ndata: 1\n\nid\ndata:2\n\ndata:3\n\n',
    data: ['1', '2', '3'],
    ids: ['1', '', ''],
  },
  ...['\0\0', 'x\0', '\0x', 'x\0x', ' \0'].map((id) => ({
    name: `format-field-id-null (${JSON.stringify(id)})`,
    body: `id: ${id}\nretry: 200\ndata: hello\n\n`,
    data: ['hello'],
    ids: [''],
    retry: [200],
  })),
  { name: 'format-field-id', body: 'id: …\nretry: 200\ndata: hello\n\n', data: ['hello'], ids: ['…'] },
  {
    name: 'format-field-parsing',
    body: 'data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n',
    data: ['\0\n 2\n1\n3\n\n4'],
  },
  { name: 'format-field-retry-bogus', body: 'retry:3000\nretry:1000x\ndata:x\n\n\n', data: ['x'], retry: [3000] },
  { name: 'format-field-retry-empty', body: 'retry\ndata:test\n\n\n', data: ['test'], retry: [] },
  {
    name: 'retry digits only',
    body: 'retry: 12\nretry:-1\nretry:1.5\nretry:\uFF11\uFF12\nretry:  7\nretry:0\ndata:x\n\n',
    data: ['x'],
    retry: [12, 0],
  },
  {
    name: 'format-field-unknown',
    body: 'data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test\n\n\n',
    data: ['test\n\ntest'],
  },
  { name: 'format-leading-space', body: 'data:\ttest\rdata: \ndata:test\n\n\n', data: ['\ttest\n\ntest'] },
  { name: 'format-newlines', body: 'data:test\r\ndata\ndata:test\r\n\r\n', data: ['test\n\ntest'] },
  { name: 'format-null-character', body: 'data:\0\n\n\n', data: ['\0'] },
  { name: 'format-utf-8', body: 'data:ok…\n\n\n', data: ['ok…'] },
  // The gap in eventsource-parser 3.x: a bare CR that ends the stream is a complete line ending.
  { name: 'bare CR ending the stream', body: 'data:a\r\rdata:b\rdata:c\r\r', data: ['a', 'b\nc'] },
  { name: 'CRLF and CR mixed', body: 'data:a\r\n\r\ndata:b\r\r\ndata:c\n\r', data: ['a', 'b', 'c'] },
  { name: 'incomplete final block discarded', body: 'data:a\n\nid:9\ndata:b', data: ['a'], ids: [''] },
];

function decode(bytes: Uint8Array, size: number) {
  const messages: SseMessage[] = [];
  const retry: number[] = [];
  const decoder = createSseDecoder({ onMessage: (m) => messages.push(m), onRetry: (ms) => retry.push(ms) });
  for (let i = 0; i < bytes.length; i += size) decoder.push(bytes.subarray(i, i + size));
  decoder.end();
  return { messages, retry };
}

const sizes = [1, 2, 7, Number.POSITIVE_INFINITY];

describe('SSE decoder: WHATWG event-stream conformance (web-platform-tests format-*)', () => {
  for (const c of wpt) {
    it.each(sizes)(`${c.name} — %s-byte chunks`, (size) => {
      const { messages, retry } = decode(new TextEncoder().encode(c.body), size);
      expect(messages.map((m) => m.data)).toEqual(c.data);
      if (c.ids) expect(messages.map((m) => m.lastEventId)).toEqual(c.ids);
      if (c.events) expect(messages.map((m) => m.event)).toEqual(c.events);
      if (c.retry) expect(retry).toEqual(c.retry);
    });
  }

  it.each([1, 2, 7])('strips a BOM split across %s-byte chunks, and only one', (size) => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('data:1\n\n')]);
    expect(decode(bytes, size).messages.map((m) => m.data)).toEqual(['1']);
  });

  it('keeps the characters "ï»¿" that eventsource-parser would take for a BOM', () => {
    // U+00EF U+00BB U+00BF are real text here: the field name is "ï»¿data", which is ignored.
    const { messages } = decode(new TextEncoder().encode('\u00EF\u00BB\u00BFdata:1\n\ndata:2\n\n'), 64);
    expect(messages.map((m) => m.data)).toEqual(['2']);
  });
});

describe('SSE decoder: a CR at the end of a chunk', () => {
  it.each(sizes)('dispatches immediately, without waiting for the next chunk (%s-byte chunks)', (size) => {
    const seen: string[] = [];
    const decoder = createSseDecoder({ onMessage: (m) => seen.push(m.data) });
    const bytes = new TextEncoder().encode('data: now\r\r');
    for (let i = 0; i < bytes.length; i += size) decoder.push(bytes.subarray(i, i + size));
    // No end(): the stream is still open, the event must already be out.
    expect(seen).toEqual(['now']);
  });

  it('treats CR + LF split over two chunks as one line ending, not two', () => {
    const seen: string[] = [];
    const decoder = createSseDecoder({ onMessage: (m) => seen.push(m.data) });
    decoder.push(new TextEncoder().encode('data: a\r'));
    decoder.push(new TextEncoder().encode('\ndata: b\r'));
    decoder.push(new TextEncoder().encode('\n'));
    expect(seen).toEqual([]);
    decoder.push(new TextEncoder().encode('\n'));
    expect(seen).toEqual(['a\nb']);
  });

  it('does not lose a pending CR across a chunk that decodes to nothing (half a UTF-8 sequence)', () => {
    const seen: string[] = [];
    const decoder = createSseDecoder({ onMessage: (m) => seen.push(m.data) });
    const ellipsis = new TextEncoder().encode('…'); // 3 bytes
    decoder.push(new TextEncoder().encode('data: a\r'));
    decoder.push(ellipsis.subarray(0, 1));
    decoder.push(new Uint8Array([...ellipsis.subarray(1), 0x0a, 0x0a]));
    // "\r" ended the first line; "…" starts a line of its own (an unknown field).
    expect(seen).toEqual(['a']);
  });

  it('skips exactly an oversized block, naming its id, type and size, without buffering it', () => {
    const overflows: unknown[] = [];
    const seen: string[] = [];
    const decoder = createSseDecoder(
      { onMessage: (m) => seen.push(`${m.lastEventId}:${m.data}`), onOverflow: (o) => overflows.push(o) },
      { maxBufferSize: 100 },
    );
    decoder.push(new TextEncoder().encode('id: 1\nevent: log\ndata: small\n\nid: 2\nevent: log\n'));
    decoder.push(new TextEncoder().encode(`data: ${'y'.repeat(300)}`));
    decoder.push(new TextEncoder().encode(`${'y'.repeat(200)}\ndata: more\n`));
    // Reported when its block ends, with what it was.
    expect(overflows).toEqual([]);
    decoder.push(new TextEncoder().encode('\nid: 3\nevent: log\ndata: ok\n\n'));
    expect(overflows).toEqual([{ event: 'log', id: '2', size: 'data: '.length + 500 + 'more\n'.length }]);
    // The blocks around it are intact; the skipped one still moved the last event ID.
    expect(seen).toEqual(['1:small', '3:ok']);
  });

  it('skips a block whose many small data lines add up past the limit', () => {
    const overflows: { size: number }[] = [];
    const seen: string[] = [];
    const decoder = createSseDecoder(
      { onMessage: (m) => seen.push(m.data), onOverflow: (o) => overflows.push(o) },
      { maxBufferSize: 20 },
    );
    decoder.push(new TextEncoder().encode(`${'data: 12345\n'.repeat(10)}\ndata: next\n\n`));
    // Two lines of data taken (12), the third line dropped whole (11), seven more lines of data (42).
    expect(overflows.map((o) => o.size)).toEqual([12 + 11 + 42]);
    expect(seen).toEqual(['next']);
  });
});
