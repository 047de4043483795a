import { Store, SessionData } from 'express-session'

export interface RedisNode { host?: string; port?: number }

export interface RedisTlsOptions {
  /** PEM of the CA to trust (instead of the system roots), or `caFile`, a path to it. */
  ca?: string | Buffer
  caFile?: string
  /** Client certificate and key (PEM) for mutual TLS, or their paths. */
  cert?: string | Buffer
  certFile?: string
  key?: string | Buffer
  keyFile?: string
}

export interface RedisStoreOptions {
  /** `redis://[user:pass@]host:port[/db]` or `rediss://…` (TLS). Default redis://127.0.0.1:6379. */
  url?: string
  host?: string
  port?: number
  username?: string
  password?: string
  db?: number
  /** Seed nodes of a Redis Cluster ({ host, port } or URLs). */
  cluster?: Array<RedisNode | string>
  /** TLS (rustls): `true` for the system roots, or the certificates to use. */
  tls?: boolean | RedisTlsOptions
  /** Key prefix, default 'sess:'. */
  prefix?: string
  /** Seconds when the session has no cookie.expires (default 86400), or a function of the session. */
  ttl?: number | ((session: SessionData) => number)
  /** SCAN COUNT for all/ids/length/clear (default 100). */
  scanCount?: number
  disableTTL?: boolean
  disableTouch?: boolean
  /** ms to establish a connection (default 2000). */
  connectTimeout?: number
  /** ms within which every operation settles (default 2000). */
  commandTimeout?: number
  /** Also emit express-session's 'disconnect'/'connect' on outages (default false: see README). */
  disconnectEvents?: boolean
  /** ms a destroyed session's tombstone key lives (README "Concurrent writes"). Default 60000. */
  tombstoneTtl?: number
  /**
   * How commands reach Redis (README "How operations reach Redis"): 'node' (a socket on
   * Node's thread; the default on a single node over plain TCP) or 'tokio' (the default for
   * clusters and TLS).
   */
  transport?: 'node' | 'tokio'
}

type Cb<T> = (err: any, value?: T) => void

/**
 * express-session store on Redis, byte-compatible with connect-redis 9/10.
 * Events: 'unavailable' (err) when Redis stops answering, 'available' when it answers again.
 */
export declare class RedisStore extends Store {
  constructor (options?: RedisStoreOptions)
  readonly prefix: string
  /** false between an 'unavailable' and the next 'available' event. */
  readonly available: boolean
  /** The transport in use. */
  readonly transport: 'node' | 'tokio'
  get (sid: string, cb?: Cb<SessionData | null>): Promise<SessionData | null>
  set (sid: string, session: SessionData, cb?: Cb<void>): Promise<void>
  touch (sid: string, session: SessionData, cb?: Cb<void>): Promise<void>
  destroy (sid: string, cb?: Cb<void>): Promise<void>
  all (cb?: Cb<Array<SessionData & { id: string }>>): Promise<Array<SessionData & { id: string }>>
  ids (cb?: Cb<string[]>): Promise<string[]>
  length (cb?: Cb<number>): Promise<number>
  clear (cb?: Cb<void>): Promise<void>
  close (cb?: Cb<void>): Promise<void>
  /** The stored JSON of a live session, as stored (expiry-checked), or null. */
  getJSON (sid: string, cb?: Cb<string | null | undefined>): Promise<string | null | undefined>
  /** Stores `json` exactly; `session` only gives the TTL (cookie.expires or the ttl function). */
  setJSON (sid: string, json: string, session: SessionData, cb?: Cb<void>): Promise<void>
}
