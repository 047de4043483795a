'use strict'
// native-session: the public entry point (API.md). Each area lives in lib/ and
// exports its own names; this file only gathers them.
module.exports = {
  ...require('./lib/cookie'),
  ...require('./lib/memory-store'),
  ...require('./lib/redis-store'),
  ...require('./lib/session'),
  ...require('./lib/sessions')
}
