'use strict'
// Placeholder until the demo lands (SocketStream-style layer issue).
console.error('native-session: the demo is not built yet')
process.exit(1)
