'use strict'
// placeholder: filled in by its issue
module.exports = {}
