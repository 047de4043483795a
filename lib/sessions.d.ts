// createSessions(): one session for HTTP and websocket RPC (API.md §3).
import type { IncomingMessage, ServerResponse } from 'node:http'
import expressSession = require('express-session')
import type { MemoryStore, MemoryStoreOptions } from './memory-store'
import type { RedisStore, RedisStoreOptions } from './redis-store'

/** Secrets: the first signs, all verify (rotation). */
export type SessionsSecret = string | Uint8Array | Array<string | Uint8Array>

/** `sessions.options`: express-session's options, its cookie options as flat keys. */
export interface SessionsOptions {
  /** Cookie name, default `'connect.sid'`. */
  name: string
  /** Default `'SocketStream'`, refused under `NODE_ENV=production`: set your own. */
  secret: SessionsSecret
  /** Cookie and session lifetime in ms, default 30 days; `null` for a browser-session cookie. */
  maxAge: number | null
  path?: string
  domain?: string
  httpOnly?: boolean
  secure?: boolean | 'auto'
  sameSite?: boolean | 'lax' | 'strict' | 'none'
  partitioned?: boolean
  priority?: 'low' | 'medium' | 'high'
  rolling?: boolean
  /** Default `false`. */
  resave?: boolean
  /** Default `true` (SocketStream: every browser gets a session the websocket can use). */
  saveUninitialized?: boolean
  proxy?: boolean
  unset?: 'destroy' | 'keep'
  genid?(req: IncomingMessage): string
  /** Concurrent writes (README "Concurrent writes"): a save merges the keys it changed. Default true. */
  merge?: boolean
  /** One request of a session at a time: true, or a function of the HTTP request (the websocket side locks with true). */
  lock?: boolean | ((req: IncomingMessage) => boolean)
  /** ms a lock is held at most. */
  lockLease?: number
  /** ms a request waits for a lock. */
  lockWait?: number
  /** Turn Express's req/res into dictionary-mode objects first (README "What Express costs, and normalize"). Default true. */
  normalize?: boolean
}

/**
 * A session loaded outside an HTTP request: express-session's Session. With a callback a
 * method returns the session (chaining); without one, a Promise.
 */
export type SocketSession = Omit<expressSession.Session, 'save' | 'reload' | 'destroy' | 'touch' | 'regenerate'> &
  Partial<expressSession.SessionData> & {
    save(callback: (err?: any) => void): SocketSession
    save(): Promise<SocketSession>
    /** Reloads in place: `req.session` stays this object. */
    reload(callback: (err?: any) => void): SocketSession
    reload(): Promise<SocketSession>
    destroy(callback: (err?: any) => void): SocketSession
    destroy(): Promise<void>
    /** Resets the maxAge and tells the store (`store.touch`), as the end of an HTTP response would. */
    touch(callback: (err?: any) => void): SocketSession
    touch(): Promise<SocketSession>
    /** With `lock`: gives the session's lock back without saving. */
    release(callback: (err?: any) => void): SocketSession
    release(): Promise<void>
    /** Always fails (`ERR_SESSION_REGENERATE`): a cookie can only change over HTTP. */
    regenerate(callback: (err?: any) => void): SocketSession
    regenerate(): Promise<SocketSession>
  }

/** One RPC message's request (SocketStream's `req`). */
export interface SessionsRequest {
  readonly sessionId: string | undefined
  readonly sessionID: string | undefined
  /** `undefined` until `use('session')` loaded it. */
  session: SocketSession | undefined
  /**
   * Loads `req.session` fresh from the store. Rejects with `code` `ERR_SESSION_ANONYMOUS`
   * (no valid signed cookie) or `ERR_SESSION_NOT_FOUND` (expired or destroyed).
   */
  use(name: 'session'): Promise<SocketSession>
  use(name: 'session', callback: (err: (Error & { code?: string }) | null, session?: SocketSession) => void): Promise<SocketSession | undefined>
}

/** What `sessions.socket(upgradeReq)` gives. */
export interface SessionsSocket {
  /** The verified session id of the upgrade request's cookie; undefined when anonymous. */
  readonly sessionId: string | undefined
  request(): SessionsRequest
  /** The session, or undefined when the socket is anonymous or its session is gone. */
  load(): Promise<SocketSession | undefined>
}

/** Connect/Express middleware; also fits `io.engine.use()` of socket.io. */
export type SessionsMiddleware = ReturnType<typeof expressSession> &
  ((req: IncomingMessage, res: ServerResponse, next: (err?: any) => void) => void)

export interface SessionsStore {
  use(name: 'memory', options?: MemoryStoreOptions): MemoryStore
  /** One object holds the connection and the store options: `{ port, prefix, ttl }`. */
  use(name: 'redis', options?: RedisStoreOptions): RedisStore
  use<S extends expressSession.Store>(store: S): S
  get(): expressSession.Store
}

export interface Sessions {
  /** May change until the first request. */
  readonly options: SessionsOptions
  readonly store: SessionsStore
  http(): SessionsMiddleware
  socket(upgradeReq: IncomingMessage): SessionsSocket
  load(req: IncomingMessage): Promise<SocketSession | undefined>
}

export declare function createSessions(options?: Partial<SessionsOptions>): Sessions
