'use strict'
const test = require('node:test')
const assert = require('node:assert')
const { settle, settleSync, expiresAt } = require('../lib/util')

test('settle: without a callback the Promise carries the result and the error', async () => {
  assert.strictEqual(await settle(Promise.resolve(1)), 1)
  await assert.rejects(settle(Promise.reject(new Error('x'))), /x/)
})

test('settle: with a callback the error goes to the callback only', async () => {
  const err = await new Promise((resolve) => {
    const p = settle(Promise.reject(new Error('boom')), (e) => resolve(e))
    p.then((v) => assert.strictEqual(v, undefined))
  })
  assert.strictEqual(err.message, 'boom')
})

test('settleSync: defers the callback to the check phase (setImmediate) and mirrors the result', async () => {
  let called = false
  const p = settleSync(() => 7, (e, v) => { called = true; assert.strictEqual(v, 7) })
  assert.strictEqual(called, false)
  assert.strictEqual(await p, 7)
  await new Promise((resolve) => process.nextTick(resolve))
  assert.strictEqual(called, false) // not on this tick's nextTick queue
  await new Promise((resolve) => setImmediate(resolve))
  assert.strictEqual(called, true)
  await assert.rejects(settleSync(() => { throw new TypeError('bad') }), TypeError)
})

test('expiresAt reads Dates, ISO strings and nothing', () => {
  const d = new Date('2030-01-02T03:04:05.678Z')
  assert.strictEqual(expiresAt({ cookie: { expires: d } }), d.getTime())
  assert.strictEqual(expiresAt({ cookie: { expires: d.toISOString() } }), d.getTime())
  assert.strictEqual(expiresAt({ cookie: { expires: null } }), undefined)
  assert.strictEqual(expiresAt({ cookie: {} }), undefined)
  assert.strictEqual(expiresAt({ cookie: { expires: 'nope' } }), undefined)
  assert.strictEqual(expiresAt(undefined), undefined)
})
