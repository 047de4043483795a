'use strict'
const test = require('node:test')
const assert = require('node:assert')
const { Tombstones } = require('../lib/locks')

test('Tombstones: remembered for their ttl, expired ones dropped as new ones come', async () => {
  const tombs = new Tombstones(30)
  for (let i = 0; i < 2000; i++) tombs.add('old' + i)
  assert.strictEqual(tombs.has('old5'), true)
  await new Promise((resolve) => setTimeout(resolve, 60))
  tombs.add('new')
  assert.strictEqual(tombs.until.size, 1, 'expired ids are pruned by add()')
  assert.strictEqual(tombs.has('old5'), false)
  assert.strictEqual(tombs.has('new'), true)
  tombs.add('new') // re-adding renews it
  assert.deepStrictEqual([...tombs.until.keys()], ['new'])
})
