'use strict'
// redis-store.test.js again on the tokio connection (`transport: 'tokio'`): the one
// clusters and TLS use, and a single node when asked for.
process.env.TEST_REDIS_TRANSPORT = 'tokio'
require('./redis-store.test.js')
