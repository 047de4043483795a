'use strict'
// Private redis-servers for fault tests: started on free loopback ports, stopped by pid
// (never by name). `startServer()` → { port, pid, stop(), kill(), pause(), resume(), restart() }.
const { spawn, spawnSync } = require('node:child_process')
const net = require('node:net')
const { ping } = require('./redis')

function hasRedisServer () {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  return !r.error && r.status === 0
}

function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

async function waitFor (check, ms = 10000, what = 'condition') {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

function exited (child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
  })
}

async function startServer ({ port, args = [] } = {}) {
  port = port || await freePort()
  const server = { port, child: null }
  server.launch = async () => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' })
    server.child = child
    server.pid = child.pid
    await waitFor(() => ping(port), 10000, `redis-server on port ${port}`)
    return server
  }
  server.kill = async (signal = 'SIGKILL') => {
    const child = server.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    process.kill(child.pid, 'SIGCONT') // a paused server must be able to die
    child.kill(signal)
    await exited(child)
  }
  server.stop = () => server.kill('SIGKILL')
  server.pause = () => process.kill(server.child.pid, 'SIGSTOP')
  server.resume = () => process.kill(server.child.pid, 'SIGCONT')
  server.restart = async () => { await server.kill(); return server.launch() }
  return server.launch()
}

module.exports = { startServer, freePort, waitFor, hasRedisServer }
