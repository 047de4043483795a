'use strict'
// RedisStore on a real 3-master Redis Cluster started by this file on free loopback ports:
// the store API across slots, connect-redis 9 (node-redis createCluster) interop both ways,
// express-session over HTTP, and a master killed and restarted.
const test = require('node:test')
const assert = require('node:assert')
const http = require('node:http')
const { spawnSync } = require('node:child_process')
const express = require('express')
const session = require('express-session')
const { createCluster } = require('redis')
const { RedisStore: ConnectRedis } = require('connect-redis')
const { RedisStore } = require('..')
const { startCluster, waitFor, clusterOk, hasRedisServer } = require('./helpers/redis-server')

const OUTAGE_CODES = ['ERR_REDIS_UNAVAILABLE', 'ERR_REDIS_TIMEOUT']

let cluster
test.before(async () => {
  if (!hasRedisServer()) return
  cluster = await startCluster({ masters: 3 })
})
test.after(async () => { if (cluster) await cluster.stop() })

function skip (t) {
  if (cluster) return false
  if (process.env.CI === 'true') throw new Error('redis-server is not installed and CI=true')
  t.skip('redis-server is not installed')
  return true
}

const rand = () => Math.random().toString(36).slice(2, 10)
const nodes = () => cluster.ports.map((port) => ({ host: '127.0.0.1', port }))
const localKeys = (port, prefix) => spawnSync('redis-cli', ['-p', String(port), '--scan', '--pattern', prefix + '*'], { encoding: 'utf8' })
  .stdout.split('\n').filter(Boolean)

test('cluster: the store API across slots and masters, no CROSSSLOT', async (t) => {
  if (skip(t)) return
  const prefix = `test:cluster:${rand()}:`
  const store = new RedisStore({ cluster: nodes(), prefix })
  t.after(() => store.close())
  const n = 300
  // concurrently: one tick's operations go out together, across slots
  await Promise.all(Array.from({ length: n }, (_, i) => store.set('s' + i, { cookie: { expires: new Date(Date.now() + 60000) }, i })))
  const perMaster = cluster.ports.map((p) => localKeys(p, prefix).length)
  assert.strictEqual(perMaster.reduce((a, b) => a + b), n)
  assert.ok(perMaster.every((c) => c > 0), `keys on every master: ${perMaster}`)
  const got = await Promise.all(Array.from({ length: n }, (_, i) => store.get('s' + i)))
  got.forEach((s, i) => assert.strictEqual(s.i, i))
  assert.strictEqual(await store.length(), n)
  assert.strictEqual(new Set(await store.ids()).size, n)
  const all = await store.all()
  assert.strictEqual(all.length, n)
  assert.strictEqual(all.find((s) => s.id === 's42').i, 42)
  await store.touch('s1', { cookie: { expires: new Date(Date.now() + 3600e3) } })
  await store.destroy('s2')
  assert.strictEqual(await store.get('s2'), null)
  await store.clear()
  assert.strictEqual(await store.length(), 0)
  assert.deepStrictEqual(cluster.ports.map((p) => localKeys(p, prefix).length), [0, 0, 0])
})

test('cluster: connect-redis 9 on node-redis createCluster reads ours and the reverse', async (t) => {
  if (skip(t)) return
  const prefix = `test:cluster:${rand()}:`
  const client = createCluster({ rootNodes: cluster.ports.map((p) => ({ url: `redis://127.0.0.1:${p}` })) })
  client.on('error', () => {})
  await client.connect()
  const theirs = new ConnectRedis({ client, prefix })
  const ours = new RedisStore({ cluster: cluster.ports.map((p) => `redis://127.0.0.1:${p}`), prefix })
  t.after(async () => { await ours.clear(); await ours.close(); await client.close() })
  for (let i = 0; i < 40; i++) {
    const sess = { cookie: { originalMaxAge: 60000, expires: new Date(Date.now() + 60000).toISOString() }, i, s: 'é' + i }
    if (i % 2) await ours.set('k' + i, sess)
    else await theirs.set('k' + i, sess)
    assert.deepStrictEqual(await ours.get('k' + i), sess)
    assert.deepStrictEqual(await theirs.get('k' + i), sess)
    assert.strictEqual(await client.get(prefix + 'k' + i), JSON.stringify(sess))
  }
  assert.deepStrictEqual((await ours.ids()).sort(), (await theirs.ids()).sort())
  assert.strictEqual(await theirs.length(), 40)
  await theirs.destroy('k3')
  assert.strictEqual(await ours.get('k3'), null)
})

test('cluster: express-session over HTTP', async (t) => {
  if (skip(t)) return
  const store = new RedisStore({ cluster: nodes(), prefix: `test:cluster:${rand()}:` })
  const app = express()
  app.use(session({ store, secret: 's', resave: false, saveUninitialized: false, cookie: { maxAge: 60000 } }))
  app.get('/inc', (req, res) => { req.session.n = (req.session.n || 0) + 1; res.json({ n: req.session.n }) })
  app.get('/bye', (req, res, next) => req.session.destroy((e) => e ? next(e) : res.json({})))
  const server = http.createServer(app)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => { server.close(); await store.clear(); await store.close() })
  const url = `http://127.0.0.1:${server.address().port}`
  const cookies = []
  for (let u = 0; u < 10; u++) { // several browsers, so several slots
    const r = await fetch(url + '/inc')
    cookies.push(r.headers.get('set-cookie').split(';')[0])
  }
  for (const cookie of cookies) {
    assert.strictEqual((await (await fetch(url + '/inc', { headers: { cookie } })).json()).n, 2)
  }
  assert.strictEqual(await store.length(), 10)
  await fetch(url + '/bye', { headers: { cookie: cookies[0] } })
  assert.strictEqual((await (await fetch(url + '/inc', { headers: { cookie: cookies[0] } })).json()).n, 1)
})

test('cluster: a master killed keeps the other slots served; it recovers when the master returns', async (t) => {
  if (skip(t)) return
  const prefix = `test:cluster:${rand()}:`
  const store = new RedisStore({ cluster: nodes(), prefix, commandTimeout: 1000, connectTimeout: 500 })
  t.after(() => store.close())
  const n = 60
  await Promise.all(Array.from({ length: n }, (_, i) => store.set('s' + i, { cookie: {}, i })))
  const victim = cluster.nodes[2]
  const onVictim = new Set(localKeys(victim.port, prefix).map((k) => k.slice(prefix.length)))
  assert.ok(onVictim.size > 0 && onVictim.size < n)
  await victim.kill()
  // the other masters' sessions are served; the dead one's fail with a coded error, in time
  for (let i = 0; i < n; i++) {
    const sid = 's' + i
    const t0 = Date.now()
    if (onVictim.has(sid)) {
      await assert.rejects(store.get(sid), (err) => OUTAGE_CODES.includes(err.code))
      assert.ok(Date.now() - t0 < 1000 + 2500, 'within the timeout')
    } else {
      assert.strictEqual((await store.get(sid)).i, i)
    }
  }
  await victim.launch() // same port and nodes.conf: it takes its slots back (empty: no persistence)
  await waitFor(() => cluster.ports.every((p) => clusterOk(p)), 30000, 'cluster_state:ok again')
  const back = [...onVictim][0]
  await waitFor(async () => {
    try { await store.set(back, { cookie: {}, again: true }); return true } catch { return false }
  }, 30000, 'writes to the restarted master')
  assert.strictEqual((await store.get(back)).again, true)
  await store.clear()
})
