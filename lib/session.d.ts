// session(options): a drop-in for express-session (API.md §4). Self-contained types with
// express-session's names and shapes (they do not need @types/express-session).
import type { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface CookieOptions {
  maxAge?: number | undefined
  partitioned?: boolean | undefined
  priority?: 'low' | 'medium' | 'high' | undefined
  signed?: boolean | undefined
  expires?: Date | null | undefined
  httpOnly?: boolean | undefined
  path?: string | undefined
  domain?: string | undefined
  secure?: boolean | 'auto' | undefined
  encode?: ((val: string) => string) | undefined
  sameSite?: boolean | 'lax' | 'strict' | 'none' | 'auto' | undefined
}

// The cookie's fields are CookieOptions' (declaration merging), less `encode`.
export interface Cookie extends Omit<CookieOptions, 'encode'> {}
export declare class Cookie {
  constructor (options?: CookieOptions)
  originalMaxAge: number | null
  /** Present at runtime (express-session's Cookie#serialize); optional here so that stores typed with @types/express-session fit. */
  serialize? (name: string, value: string): string
}

export interface SessionData {
  cookie: Cookie
  [key: string]: any
}

export interface RegenerateOptions {
  /** Carry the old session's data (all but `cookie`) into the new session. */
  keep?: boolean
}

export declare class Session {
  constructor (req: IncomingMessage, data?: object)
  id: string
  cookie: Cookie
  [key: string]: any
  /** Resets `cookie.maxAge` to `cookie.originalMaxAge`. */
  touch (): this
  resetMaxAge (): this
  /** With a callback: returns the session (chaining); without: a Promise of it. */
  save (callback: (err?: any) => void): this
  save (): Promise<this>
  /** Replaces `req.session` with the stored session; the Promise gives the new one. */
  reload (callback: (err?: any) => void): this
  reload (): Promise<Session>
  destroy (callback: (err?: any) => void): this
  destroy (): Promise<void>
  /** A new session under a new id; `{ keep: true }` keeps the data (express-session #425). */
  regenerate (callback: (err?: any) => void): this
  regenerate (options: RegenerateOptions, callback: (err?: any) => void): this
  regenerate (options?: RegenerateOptions): Promise<Session>
}

export declare abstract class Store extends EventEmitter {
  regenerate (req: IncomingMessage, callback: (err?: any) => any): void
  load (sid: string, callback: (err: any, session?: SessionData) => any): void
  createSession (req: IncomingMessage, session: SessionData): Session
  abstract get (sid: string, callback: (err: any, session?: SessionData | null) => void): void
  abstract set (sid: string, session: SessionData, callback?: (err?: any) => void): void
  abstract destroy (sid: string, callback?: (err?: any) => void): void
  all? (callback: (err: any, obj?: SessionData[] | { [sid: string]: SessionData } | null) => void): void
  length? (callback: (err: any, length?: number) => void): void
  clear? (callback?: (err?: any) => void): void
  touch? (sid: string, session: SessionData, callback?: () => void): void
}

/** What session() needs of a store: any express-session store fits (ours, express-session's
 *  MemoryStore, connect-redis, memorystore, stores typed with @types/express-session). */
export interface SessionStore extends EventEmitter {
  get (sid: string, callback: (err: any, session?: any) => void): any
  set (sid: string, session: any, callback?: (err?: any) => void): any
  destroy (sid: string, callback?: (err?: any) => void): any
  touch? (sid: string, session: any, callback?: (err?: any) => void): any
}

export interface SessionOptions {
  secret?: string | Buffer | Uint8Array | Array<string | Buffer | Uint8Array>
  genid? (req: IncomingMessage): string
  name?: string
  store?: SessionStore
  cookie?: CookieOptions | ((req: IncomingMessage) => CookieOptions)
  rolling?: boolean
  resave?: boolean
  proxy?: boolean
  saveUninitialized?: boolean
  unset?: 'destroy' | 'keep'
  /** Concurrent writes (README "Concurrent writes"): saves merge the keys they changed, on our stores. Default true. */
  merge?: boolean
  /** One request of a session at a time (needs our stores): true, or a function of the request. */
  lock?: boolean | ((req: IncomingMessage) => boolean)
  /** ms a lock is held at most (default 10000). */
  lockLease?: number
  /** ms a request waits for a lock before ERR_SESSION_LOCK_TIMEOUT (default 10000). */
  lockWait?: number
  /** Turn Express's req/res into dictionary-mode objects first (README "What Express costs, and normalize"). Default true. */
  normalize?: boolean
}

export type SessionMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: any) => void) => void

export declare const session: {
  (options?: SessionOptions): SessionMiddleware
  Store: typeof Store
  Session: typeof Session
  Cookie: typeof Cookie
  MemoryStore: new (options?: any) => Store
}
