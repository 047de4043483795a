'use strict'
// redis-faults.test.js again on the tokio connection (`transport: 'tokio'`): the one
// clusters and TLS use, and a single node when asked for.
process.env.TEST_REDIS_TRANSPORT = 'tokio'
require('./redis-faults.test.js')
