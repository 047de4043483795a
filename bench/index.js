'use strict'
// `npm run bench [name…]`: runs bench/<name>.bench.js files one after another, each in
// its own process (so memory numbers are not mixed up), and prints their tables.
// Each bench compares native-session with the JS packages it replaces, in the same run.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const all = fs.readdirSync(__dirname).filter((f) => f.endsWith('.bench.js')).sort()
const wanted = process.argv.slice(2)
const files = wanted.length ? all.filter((f) => wanted.some((w) => f.startsWith(w))) : all

const cpu = os.cpus()[0]
console.log(`# native-session bench: ${new Date().toISOString()}, Node ${process.version}, ` +
  `${os.cpus().length} × ${cpu ? cpu.model : 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB\n`)
let failed = 0
for (const f of files) {
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, f)], { stdio: 'inherit' })
  if (r.status !== 0) { failed++; console.error(`bench ${f} failed (exit ${r.status})`) }
}
process.exit(failed ? 1 : 0)
