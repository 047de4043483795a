// ESM entry: the same objects as the CommonJS one.
import cjs from './index.js'

export const {
  sign, unsign, parse, serialize, signedCookie, signedCookies, getSessionId,
  MemoryStore, RedisStore, session, createSessions
} = cjs
export default cjs
