'use strict'
// Builds the native addon with @napi-rs/cli (release unless --debug).
// Runs on `npm install`; says in one line what is missing instead of a wall of errors.
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
if (cargo.error || cargo.status !== 0) {
  console.error('native-session: Rust is missing: install it from https://rustup.rs (cargo must be on PATH), then run `npm install` again.')
  process.exit(1)
}
let cli
try {
  cli = path.join(path.dirname(require.resolve('@napi-rs/cli/package.json', { paths: [root] })), 'dist', 'cli.js')
} catch {
  console.error('native-session: @napi-rs/cli is missing: run `npm install` (it installs the build tool first).')
  process.exit(1)
}
const args = [cli, 'build', '--platform', '--js', 'binding.js', '--dts', 'binding.d.ts']
if (!process.argv.includes('--debug')) args.push('--release')
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
process.exit(r.status === null ? 1 : r.status)
