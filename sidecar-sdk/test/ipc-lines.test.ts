import { APPLICATION_TYPES } from '@oppie/protocol';
import { describe, expect, it } from 'vitest';
import { LineSplitter, parseRequest } from '../src/ipc-lines.js';

const types = new Set<string>(APPLICATION_TYPES);

describe('LineSplitter', () => {
  it('joins chunks, splits on newlines, strips \\r and keeps a partial line for later', () => {
    const s = new LineSplitter(100);
    expect(s.push(Buffer.from('{"a":'))).toEqual([]);
    expect(s.push(Buffer.from('1}\r\n{"b":2}\n{"c"'))).toEqual([{ line: '{"a":1}' }, { line: '{"b":2}' }]);
    expect(s.push(Buffer.from(':3}\n'))).toEqual([{ line: '{"c":3}' }]);
  });

  it('decodes a UTF-8 character split across chunks', () => {
    const s = new LineSplitter(100);
    const bytes = Buffer.from('"日本"\n');
    expect([...s.push(bytes.subarray(0, 2)), ...s.push(bytes.subarray(2))]).toEqual([{ line: '"日本"' }]);
  });

  it('reports a too long line once, skips it to its newline, and goes on', () => {
    const s = new LineSplitter(8);
    expect(s.push(Buffer.from('12345'))).toEqual([]);
    expect(s.push(Buffer.from('67890'))).toEqual([{ tooLong: true }]);
    expect(s.push(Buffer.from('more junk'))).toEqual([]);
    expect(s.push(Buffer.from('end\nok\n'))).toEqual([{ line: 'ok' }]);
    expect(s.push(Buffer.from('12345678\n'))).toEqual([{ line: '12345678' }]);
  });
});

describe('parseRequest', () => {
  it('accepts a request with and without a recipient', () => {
    expect(parseRequest('{"id":"1","type":"progress","payload":{"step":1}}', types)).toEqual({
      ok: true,
      request: { id: '1', type: 'progress', payload: { step: 1 } },
    });
    const r = parseRequest('{"id":"2","type":"diff","payload":null,"to":"dev-1"}', types);
    expect(r).toEqual({ ok: true, request: { id: '2', type: 'diff', payload: null, to: 'dev-1' } });
  });

  it.each([
    ['not json', null, 'IPC_ERR_BAD_LINE'],
    ['[1,2]', null, 'IPC_ERR_BAD_LINE'],
    ['{"type":"chat","payload":1}', null, 'IPC_ERR_BAD_LINE'],
    ['{"id":7,"type":"chat","payload":1}', null, 'IPC_ERR_BAD_LINE'],
    [`{"id":"${'x'.repeat(129)}","type":"chat","payload":1}`, null, 'IPC_ERR_BAD_LINE'],
    ['{"id":"a","payload":1}', 'a', 'IPC_ERR_BAD_LINE'],
    ['{"id":"a","type":"ping","payload":1}', 'a', 'IPC_ERR_UNKNOWN_TYPE'],
    ['{"id":"a","type":"signal","payload":1}', 'a', 'IPC_ERR_UNKNOWN_TYPE'],
    ['{"id":"a","type":"chat"}', 'a', 'IPC_ERR_BAD_LINE'],
    ['{"id":"a","type":"chat","payload":1,"to":5}', 'a', 'IPC_ERR_BAD_LINE'],
  ])('refuses %s', (line, id, code) => {
    const r = parseRequest(line, types);
    expect(r.ok).toBe(false);
    expect(r).toMatchObject({ id, code });
  });

  it('refuses a type outside the allowed set', () => {
    expect(parseRequest('{"id":"a","type":"approve","payload":1}', new Set(['progress']))).toMatchObject({
      ok: false,
      code: 'IPC_ERR_UNKNOWN_TYPE',
    });
  });
});
