'use strict'
// Redis availability for tests: a test that needs Redis calls `redisOrSkip(t)`.
// Without a reachable Redis the test is skipped, except under CI=true, where it fails.
const net = require('node:net')

const REDIS_PORT = Number(process.env.REDIS_PORT || 6379)

function ping (port = REDIS_PORT, host = '127.0.0.1', timeout = 500) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host })
    const done = (ok) => { s.destroy(); resolve(ok) }
    s.setTimeout(timeout, () => done(false))
    s.on('error', () => done(false))
    s.on('connect', () => s.write('PING\r\n'))
    s.on('data', (d) => done(d.toString().startsWith('+PONG')))
  })
}

let available
async function redisOrSkip (t) {
  if (available === undefined) available = await ping()
  if (available) return true
  if (process.env.CI === 'true') throw new Error(`Redis is not reachable on 127.0.0.1:${REDIS_PORT} and CI=true`)
  t.skip(`Redis is not reachable on 127.0.0.1:${REDIS_PORT}`)
  return false
}

module.exports = { REDIS_PORT, ping, redisOrSkip }
