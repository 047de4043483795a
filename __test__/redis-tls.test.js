'use strict'
// RedisStore over TLS (rustls) against a redis-server --tls-port this file starts, with
// certificates it makes with openssl: a CA to trust, mutual TLS, a wrong CA refused.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const { RedisStore } = require('..')
const { makeCerts, startTlsServer, hasRedisServer, hasOpenssl } = require('./helpers/redis-server')

let certs, server, mtls
test.before(async () => {
  if (!hasRedisServer() || !hasOpenssl()) return
  certs = makeCerts()
  server = await startTlsServer(certs)
  mtls = await startTlsServer(certs, { authClients: true })
})
test.after(async () => {
  if (server) await server.stop()
  if (mtls) await mtls.stop()
  if (certs) fs.rmSync(certs.dir, { recursive: true, force: true })
})

function skip (t) {
  if (server) return false
  if (process.env.CI === 'true') throw new Error('redis-server or openssl is missing and CI=true')
  t.skip('redis-server or openssl is missing')
  return true
}

async function roundTrip (store) {
  await store.set('a', { cookie: { expires: new Date(Date.now() + 60000) }, v: 'tls' })
  assert.strictEqual((await store.get('a')).v, 'tls')
  assert.deepStrictEqual(await store.ids(), ['a'])
  await store.clear()
  assert.strictEqual(await store.length(), 0)
}

test('rediss:// URL with the test CA trusted', async (t) => {
  if (skip(t)) return
  const store = new RedisStore({ url: `rediss://127.0.0.1:${server.port}`, tls: { caFile: certs.ca }, prefix: 'tls1:' })
  t.after(() => store.close())
  await roundTrip(store)
  assert.strictEqual(server.cli('exists', 'tls1:a'), '0')
  // a redis:// URL given with tls options is upgraded to TLS
  const upgraded = new RedisStore({ url: `redis://127.0.0.1:${server.port}`, tls: { caFile: certs.ca }, prefix: 'tls1:' })
  t.after(() => upgraded.close())
  await roundTrip(upgraded)
})

test('{ host, port, tls: { ca } } with the CA as a Buffer, and the name localhost', async (t) => {
  if (skip(t)) return
  const store = new RedisStore({ host: 'localhost', port: server.port, tls: { ca: fs.readFileSync(certs.ca) }, prefix: 'tls2:' })
  t.after(() => store.close())
  await roundTrip(store)
})

test('mutual TLS: a client certificate is required and accepted', async (t) => {
  if (skip(t)) return
  const withCert = new RedisStore({ port: mtls.port, tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey }, prefix: 'tls3:' })
  t.after(() => withCert.close())
  await roundTrip(withCert)
  const without = new RedisStore({ port: mtls.port, tls: { caFile: certs.ca }, prefix: 'tls3:', commandTimeout: 1500 })
  t.after(() => without.close())
  await assert.rejects(without.get('a'), (err) => err.code === 'ERR_REDIS_UNAVAILABLE' && /certificate/i.test(err.message))
})

test('a server certificate from another CA is refused, and plain redis:// to a TLS port fails in time', async (t) => {
  if (skip(t)) return
  const other = makeCerts()
  t.after(() => fs.rmSync(other.dir, { recursive: true, force: true }))
  const wrongCa = new RedisStore({ port: server.port, tls: { caFile: other.ca }, commandTimeout: 1500 })
  t.after(() => wrongCa.close())
  await assert.rejects(wrongCa.get('a'), (err) => err.code === 'ERR_REDIS_UNAVAILABLE' && /certificate|UnknownIssuer/i.test(err.message))
  const plain = new RedisStore({ port: server.port, commandTimeout: 1000, connectTimeout: 500 })
  t.after(() => plain.close())
  const t0 = Date.now()
  await assert.rejects(plain.get('a'), (err) => ['ERR_REDIS_UNAVAILABLE', 'ERR_REDIS_TIMEOUT'].includes(err.code))
  assert.ok(Date.now() - t0 < 1000 + 2500)
})

test('a Redis Cluster over TLS (tls-cluster yes): slots routed, every master scanned', async (t) => {
  if (skip(t)) return
  const { startCluster } = require('./helpers/redis-server')
  const cluster = await startCluster({ masters: 3, tls: certs })
  t.after(() => cluster.stop())
  const store = new RedisStore({ cluster: cluster.ports.map((port) => ({ host: '127.0.0.1', port })), tls: { caFile: certs.ca }, prefix: 'tlsc:' })
  t.after(() => store.close())
  await Promise.all(Array.from({ length: 50 }, (_, i) => store.set('s' + i, { cookie: {}, i })))
  const got = await Promise.all(Array.from({ length: 50 }, (_, i) => store.get('s' + i)))
  got.forEach((s, i) => assert.strictEqual(s.i, i))
  assert.strictEqual(await store.length(), 50)
  assert.strictEqual((await store.all()).length, 50)
  await store.clear()
  assert.strictEqual(await store.length(), 0)
})
