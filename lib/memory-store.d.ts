import { Store, SessionData } from 'express-session'

export interface MemoryStoreOptions {
  /** Most sessions kept; the least recently used are evicted first. Default: unbounded. */
  max?: number
  /** Lifetime in ms of sessions without `cookie.expires`. Default: until destroyed. */
  ttl?: number
  /** How often (ms) a background Rust thread removes expired sessions. Default 60000. */
  sweepInterval?: number
  /** One store per name for every worker thread of the process. */
  shared?: string
  /** Code stored sessions with a learned dictionary (less memory). Default true. */
  compress?: boolean
  /** ms a destroyed id stays refused to merging saves of new sessions (README "Concurrent writes"). Default 60000. */
  tombstoneTtl?: number
}

type Callback<T> = (err: Error | null, value?: T) => void

/** An express-session store with sessions kept off the V8 heap, in Rust. */
export declare class MemoryStore extends Store {
  constructor (options?: MemoryStoreOptions)
  readonly shared: string | undefined
  get (sid: string, callback?: Callback<SessionData | undefined>): Promise<SessionData | undefined>
  set (sid: string, session: SessionData, callback?: Callback<void>): Promise<void>
  touch (sid: string, session: SessionData, callback?: Callback<void>): Promise<void>
  destroy (sid: string, callback?: Callback<void>): Promise<void>
  all (callback?: Callback<Record<string, SessionData>>): Promise<Record<string, SessionData>>
  length (callback?: Callback<number>): Promise<number>
  ids (callback?: Callback<string[]>): Promise<string[]>
  clear (callback?: Callback<void>): Promise<void>
  /** Frees the sessions and stops sweeping (a shared store: when its last handle closes). */
  close (callback?: Callback<void>): Promise<void>
  /** The stored JSON text as is (expiry-checked), undefined when missing or expired. */
  getJSON (sid: string, callback?: Callback<string | undefined>): Promise<string | undefined>
  /** Stores this exact JSON text; `session` gives only the expiry. */
  setJSON (sid: string, json: string, session: SessionData, callback?: Callback<void>): Promise<void>
}
