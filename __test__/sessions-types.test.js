'use strict'
// index.d.ts stays true: tsc --noEmit over a TypeScript file using the whole
// createSessions() API with @types/express-session (including @ts-expect-error lines
// that must stay errors).
const test = require('node:test')
const assert = require('node:assert')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

test('tsc --noEmit over __test__/types/sessions.ts', { timeout: 120000 }, () => {
  const tsc = require.resolve('typescript/bin/tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json')], { encoding: 'utf8' })
  assert.strictEqual(r.status, 0, r.stdout + r.stderr)
})
