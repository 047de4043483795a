'use strict'
const test = require('node:test')
const assert = require('node:assert')
const { execFileSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')

test('the native addon loads and reports the crate version', () => {
  const native = require('../lib/native')
  assert.strictEqual(native.nativeVersion(), require('../package.json').version)
})

test('CommonJS and ESM entry points export the same objects', () => {
  const cjs = require('..')
  const out = execFileSync(process.execPath, ['--input-type=module', '-e',
    "import * as m from 'native-session'; import d from 'native-session'; " +
    'console.log(JSON.stringify(Object.keys(d).filter(k => m[k] !== d[k])))'
  ], { cwd: root, encoding: 'utf8' })
  assert.deepStrictEqual(JSON.parse(out), [])
  for (const k of Object.keys(cjs)) assert.ok(k in require('..'))
})
