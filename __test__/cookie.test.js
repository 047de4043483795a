'use strict'
// The cookie layer (API.md §1) on hand-picked cases, each checked against the JS package
// it replaces, plus golden vectors. Generated inputs: cookie.oracle.test.js.
const test = require('node:test')
const assert = require('node:assert')
const crypto = require('node:crypto')
const cookie = require('cookie')
const sig = require('cookie-signature')
const cookieParser = require('cookie-parser')
const ns = require('..')
const { Keyring } = require('../lib/keyring')

// express-session 1.19's getcookie() read of req.headers.cookie, own cookies only.
function expressSessionRead (header, name, secrets) {
  if (!header) return undefined
  const cookies = cookie.parse(header)
  const raw = Object.prototype.hasOwnProperty.call(cookies, name) ? cookies[name] : undefined
  if (!raw || raw.substr(0, 2) !== 's:') return undefined
  for (const s of secrets) {
    const v = sig.unsign(raw.slice(2), s)
    if (v !== false) return v
  }
  return undefined
}

function sameThrow (fn, oracle) {
  let want
  try { oracle() } catch (e) { want = e }
  assert.ok(want, 'the oracle throws')
  assert.throws(fn, (got) => got.constructor === want.constructor && got.message === want.message)
}

test('golden vectors: cookie-signature and RFC 4231', () => {
  assert.strictEqual(ns.sign('hello', 'tobiiscool'), 'hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI')
  assert.strictEqual(ns.unsign('hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI', 'tobiiscool'), 'hello')
  const mac = ns.sign('what do ya want for nothing?', 'Jefe').split('.').pop()
  assert.strictEqual(Buffer.from(mac, 'base64').toString('hex'),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
})

test('sign/unsign equal cookie-signature for strings, Buffers, typed arrays, KeyObjects', () => {
  const secrets = ['s3cret', '', 'ünï©ødé', Buffer.from([0, 1, 2, 255]), new Uint8Array(200).fill(7),
    new Uint16Array([1, 2, 3]), crypto.createSecretKey(Buffer.from('key-object'))]
  const values = ['', 'a', 'a.b.c', 'sid-' + 'x'.repeat(300), 'é€😀', '\uD800', 'x\uDC00y']
  for (const s of secrets) {
    for (const v of values) {
      const signed = ns.sign(v, s)
      assert.strictEqual(signed, sig.sign(v, s))
      assert.strictEqual(ns.unsign(signed, s), sig.unsign(signed, s))
      assert.strictEqual(ns.unsign(signed, s), v)
      for (const bad of [signed + 'x', signed + '=', signed.slice(0, -1), signed.replace(/\+/g, '-').replace(/\//g, '_') + (signed.includes('+') || signed.includes('/') ? '' : 'x')]) {
        assert.strictEqual(ns.unsign(bad, s), false)
        assert.strictEqual(sig.unsign(bad, s), false)
      }
    }
  }
})

test('secret arrays: first signs, all verify in order', () => {
  const signedOld = sig.sign('sid', 'old')
  assert.strictEqual(ns.sign('sid', ['new', 'old']), sig.sign('sid', 'new'))
  assert.strictEqual(ns.unsign(signedOld, ['new', 'old']), 'sid')
  assert.strictEqual(ns.unsign(signedOld, ['new', 'other']), false)
  const arr = ['new']
  assert.strictEqual(ns.unsign(signedOld, arr), false)
  arr.push('old') // the cached keyring notices the array changed
  assert.strictEqual(ns.unsign(signedOld, arr), 'sid')
})

test('wrong argument types throw the TypeErrors of cookie-signature', () => {
  for (const [v, s] of [[1, 'k'], [null, 'k'], ['v', null], ['v', undefined], ['v', 5], ['v', {}], ['v', true]]) {
    sameThrow(() => ns.sign(v, s), () => sig.sign(v, s))
    sameThrow(() => ns.unsign(v, s), () => sig.unsign(v, s))
  }
  assert.throws(() => ns.sign('v', []), { name: 'TypeError', message: 'secret option array must contain one or more strings' })
  assert.throws(() => new Keyring([]), TypeError)
  assert.throws(() => new Keyring(['ok', null]), { message: 'Secret key must be provided.' })
})

test('Keyring: sign, unsign, sessionId', () => {
  const ring = new Keyring(['new', Buffer.from('old')])
  assert.strictEqual(ring.sign('abc'), sig.sign('abc', 'new'))
  assert.strictEqual(ring.unsign(sig.sign('abc', 'old')), 'abc')
  assert.strictEqual(ring.unsign('abc.nope'), false)
  const header = 'a=1; connect.sid=' + encodeURIComponent('s:' + sig.sign('abc', 'old')) + '; b=2'
  assert.strictEqual(ring.sessionId(header, 'connect.sid'), 'abc')
  assert.strictEqual(ring.sessionId(header, 'a'), undefined)
  assert.strictEqual(ring.sessionId('', 'connect.sid'), undefined)
  assert.strictEqual(ring.sessionId(undefined, 'connect.sid'), undefined)
})

test('getSessionId equals express-session\'s read', () => {
  const secrets = ['new', 'old']
  const good = 's:' + sig.sign('abc', 'old')
  const headers = [
    undefined, '', 'connect.sid=' + good, 'connect.sid=' + encodeURIComponent(good),
    'x=1; connect.sid="' + good + '"', 'connect.sid=' + good.slice(2), 'connect.sid=' + good + 'x',
    'connect.sid=; connect.sid=' + good, 'connect.sid=' + good + '; connect.sid=s:bad',
    '  connect.sid\t=\t' + good + '  ', 'connect.sid=s:' + sig.sign('\uD800x', 'new'),
    '\uD800=1; connect.sid=' + good, 'connect.sid=s:' + sig.sign('é€', 'new'),
    'connect.sid=s:' + sig.sign('a%ZZ', 'new'), 'connect.sid=' + encodeURIComponent('s:' + sig.sign('a;b', 'new'))
  ]
  for (const h of headers) {
    assert.strictEqual(ns.getSessionId(h, { secret: secrets }), expressSessionRead(h, 'connect.sid', secrets), String(h))
  }
  assert.strictEqual(ns.getSessionId('sid=' + good, { name: 'sid', secret: secrets }), 'abc')
  assert.strictEqual(ns.getSessionId('__proto__=' + good, { name: '__proto__', secret: secrets }), undefined)
  assert.strictEqual(ns.getSessionId('toString=' + good, { name: 'toString', secret: secrets }), 'abc')
  assert.strictEqual(ns.getSessionId('a=1', { name: 'toString', secret: secrets }), undefined)
  assert.throws(() => ns.getSessionId('a=1', {}), { name: 'TypeError', message: 'Secret key must be provided.' })
  assert.throws(() => ns.getSessionId(5, { secret: 'x' }), { name: 'TypeError', message: 'argument str must be a string' })
})

test('parse equals cookie@0.7.2', () => {
  const headers = ['', 'a', '=', '==', 'foo=bar', 'FOO    = bar;   baz  =   raz', 'foo="bar=123456789&name=Magic+Mouse"',
    'email=%20%22%2c%3b%2f', 'foo=%1;bar=bar', 'foo=bar;fizz  ;  buzz', '  fizz; foo=  bar', 'a=1; a=2',
    '__proto__=1; toString=2; hasOwnProperty=3; 2=x; 1=y', 'a="', 'a=""', 'a=%E2%82%AC', 'a=%ED%A0%80', 'a=\uD800%41',
    'é=ü', ';;a=1;;;b=2;', 'a=b=c;d']
  for (const h of headers) {
    assert.deepStrictEqual(ns.parse(h), cookie.parse(h), h)
    assert.deepStrictEqual(Object.keys(ns.parse(h)), Object.keys(cookie.parse(h)), h)
  }
  const calls = []
  const dec = (v) => { calls.push(v); return v.toUpperCase() }
  assert.deepStrictEqual(ns.parse('a=x; b=y; a=z', { decode: dec }), cookie.parse('a=x; b=y; a=z', { decode: dec }))
  sameThrow(() => ns.parse(5), () => cookie.parse(5))
})

test('serialize equals cookie@0.7.2, errors included', () => {
  const cases = [
    ['foo', 'bar'], ['foo', 'bar baz'], ['foo', ''], ['foo\n', 'bar'], ['', 'x'], [5, 'x'], ['a', 5], ['a', '\uD800'],
    ['foo', 'bar', { httpOnly: true, secure: true, partitioned: true, path: '/', domain: 'example.com', maxAge: 10.7 }],
    ['foo', 'bar', { expires: new Date(0), priority: 'HIGH', sameSite: 'Lax' }],
    ['foo', 'bar', { expires: new Date(NaN) }], ['foo', 'bar', { expires: 'x' }], ['foo', 'bar', { maxAge: NaN }],
    ['foo', 'bar', { maxAge: '10' }], ['foo', 'bar', { maxAge: 1e22 }], ['foo', 'bar', { maxAge: -0.5 }],
    ['foo', 'bar', { domain: 'example.com.' }], ['foo', 'bar', { path: '/;x' }], ['foo', 'bar', { priority: 'x' }],
    ['foo', 'bar', { sameSite: true }], ['foo', 'bar', { sameSite: 'x' }], ['foo', 'bar', { priority: 'constructor' }],
    ['foo', 'a;b', { encode: (v) => v }], ['foo', 'bar', { encode: 5 }], ['foo', '"q"', { encode: String }]
  ]
  for (const [n, v, o] of cases) {
    let want, wantErr
    try { want = cookie.serialize(n, v, o) } catch (e) { wantErr = e }
    if (wantErr) sameThrow(() => ns.serialize(n, v, o), () => { throw wantErr })
    else assert.strictEqual(ns.serialize(n, v, o), want)
  }
})

test('signedCookie/signedCookies equal cookie-parser', () => {
  const s = 's:' + sig.sign('val', 'k2')
  for (const str of [s, s + 'x', 'plain', 's:', 5, undefined]) {
    for (const secret of ['k2', ['k1', 'k2'], ['k1'], '', undefined, []]) {
      assert.strictEqual(ns.signedCookie(str, secret), cookieParser.signedCookie(str, secret))
    }
  }
  const a = { a: s, b: 'plain', c: s + 'x', d: 5 }
  const b = { ...a }
  assert.deepStrictEqual(ns.signedCookies(a, ['k1', 'k2']), cookieParser.signedCookies(b, ['k1', 'k2']))
  assert.deepStrictEqual(a, b)
})

test('cached keyrings notice a binary secret changed in place', () => {
  const buf = Buffer.from('secret-one')
  const signed = ns.sign('v', buf)
  assert.strictEqual(ns.unsign(signed, buf), 'v')
  assert.strictEqual(ns.unsign(signed, [Buffer.from('x'), buf]), 'v')
  buf.write('SECRET')
  assert.strictEqual(ns.unsign(signed, buf), false)
  assert.strictEqual(ns.unsign(signed, [Buffer.from('x'), buf]), false)
  assert.strictEqual(ns.sign('v', buf), sig.sign('v', buf))
  // A string and a Buffer with the same bytes are the same key, as in crypto.
  assert.strictEqual(ns.sign('v', 'abc'), ns.sign('v', Buffer.from('abc')))
})
