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

// A free port whose cluster-bus port (port + 10000) is free too.
async function freeClusterPort () {
  for (let i = 0; i < 50; i++) {
    const port = await freePort()
    if (port > 55000) continue
    const bus = await new Promise((resolve) => {
      const s = net.createServer()
      s.on('error', () => resolve(false))
      s.listen(port + 10000, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (bus) return port
  }
  throw new Error('no free port pair for a cluster node')
}

async function clusterOk (port, cliArgs = []) {
  const r = spawnSync('redis-cli', [...cliArgs, '-p', String(port), 'cluster', 'info'], { encoding: 'utf8', timeout: 5000 })
  return !r.error && /cluster_state:ok/.test(r.stdout)
}

// A real Redis Cluster of `masters` nodes (no replicas) on free loopback ports, in a temp
// dir. → { nodes: [server…], ports, stop() }. Each node is a server as startServer gives.
async function startCluster ({ masters = 3, args = [], tls = null } = {}) {
  const os = require('node:os')
  const fs = require('node:fs')
  const path = require('node:path')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-cluster-'))
  const nodes = []
  const stop = async () => {
    for (const n of nodes) await n.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    const tlsArgs = tls
      ? ['--tls-cert-file', tls.serverCert, '--tls-key-file', tls.serverKey, '--tls-ca-cert-file', tls.ca,
          '--tls-auth-clients', 'no', '--tls-cluster', 'yes', '--tls-replication', 'yes']
      : []
    const cliTls = tls ? ['--tls', '--cacert', tls.ca] : []
    for (let i = 0; i < masters; i++) {
      const port = await freeClusterPort()
      nodes.push(await startServer({
        port,
        tls: tls ? { cli: cliTls } : null,
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
          '--dir', dir, '--cluster-node-timeout', '2000', '--cluster-require-full-coverage', 'no', ...tlsArgs, ...args]
      }))
    }
    const ports = nodes.map((n) => n.port)
    const r = spawnSync('redis-cli', [...cliTls, '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30000 })
    if (r.status !== 0) throw new Error('redis-cli --cluster create failed: ' + r.stdout + r.stderr)
    for (const p of ports) await waitFor(() => clusterOk(p, cliTls), 20000, `cluster_state:ok on ${p}`)
    return { nodes, ports, stop, dir }
  } catch (err) {
    await stop()
    throw err
  }
}

// `tls: { cli }`: the server speaks only TLS on `port` (its args carry the certificates);
// `cli` are the redis-cli flags to reach it.
async function startServer ({ port, args = [], tls = null } = {}) {
  port = port || await freePort()
  const server = { port, child: null }
  const portArgs = tls ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)]
  const pass = args.indexOf('--requirepass')
  const cliArgs = [...(tls ? tls.cli : []), ...(pass >= 0 ? ['--pass', args[pass + 1], '--no-auth-warning'] : [])]
  const ready = cliArgs.length
    ? () => spawnSync('redis-cli', [...cliArgs, '-p', String(port), 'ping'], { encoding: 'utf8', timeout: 5000 }).stdout.trim() === 'PONG'
    : () => ping(port)
  server.launch = async () => {
    const child = spawn('redis-server', [...portArgs, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' })
    server.child = child
    server.pid = child.pid
    await waitFor(ready, 10000, `redis-server on port ${port}`)
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

module.exports = { startServer, startCluster, clusterOk, freePort, waitFor, hasRedisServer }

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with
// openssl in a temp dir (PEM files). → { dir, ca, serverCert, serverKey, clientCert, clientKey }
function makeCerts () {
  const os = require('node:os')
  const fs = require('node:fs')
  const path = require('node:path')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-tls-'))
  const f = (name) => path.join(dir, name)
  const run = (args) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8', cwd: dir, timeout: 30000 })
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`)
  }
  fs.writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n')
  fs.writeFileSync(f('client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n')
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=native-session test CA'])
  for (const who of ['server', 'client']) {
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? 'localhost' : 'test client'}`])
    run(['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.crt`, '-days', '2', '-extfile', `${who}.ext`])
  }
  return { dir, ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key') }
}

function hasOpenssl () {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' })
  return !r.error && r.status === 0
}

// A redis-server speaking only TLS on a free port. `authClients`: require client certs.
async function startTlsServer (certs, { authClients = false } = {}) {
  const port = await freePort()
  const args = ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.ca,
    '--tls-auth-clients', authClients ? 'yes' : 'no']
  const child = spawn('redis-server', args, { stdio: 'ignore' })
  const server = { port, pid: child.pid, child }
  server.stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await exited(child)
  }
  const cli = ['--tls', '--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey, '-p', String(port)]
  server.cli = (...cmd) => spawnSync('redis-cli', [...cli, ...cmd], { encoding: 'utf8', timeout: 5000 }).stdout.trim()
  try {
    await waitFor(() => server.cli('ping') === 'PONG', 10000, `TLS redis-server on ${port}`)
  } catch (err) {
    await server.stop()
    throw err
  }
  return server
}

module.exports.makeCerts = makeCerts
module.exports.hasOpenssl = hasOpenssl
module.exports.startTlsServer = startTlsServer
