'use strict'
// The napi-generated loader (binding.js, made by `npm run build`), with a clear error
// when the addon was never built.
try {
  module.exports = require('../binding.js')
} catch (err) {
  err.message = `native-session: the native addon is not built (${err.message}); run \`npm run build\`.`
  throw err
}
