/// <reference types="node" />
import type { KeyObject } from 'node:crypto'

/** A secret: the first of a list signs, every one verifies, in order. */
export type Secret = string | NodeJS.ArrayBufferView | ArrayBuffer | KeyObject
export type Secrets = Secret | Secret[]

/** cookie-signature `sign`: `value + '.' + base64(HMAC-SHA256(secret, value))`, no `=`. */
export function sign (value: string, secret: Secrets): string
/** cookie-signature 1.2.x `unsign`: the value, or `false` for any bad signature. */
export function unsign (input: string, secret: Secrets): string | false

export interface ParseOptions {
  /** Decodes each value; default: `decodeURIComponent` when it contains `%`. */
  decode?(value: string): string
}
/** cookie@0.7.2 `parse`. */
export function parse (header: string, options?: ParseOptions): Record<string, string>

export interface SerializeOptions {
  encode?(value: string): string
  maxAge?: number
  domain?: string
  path?: string
  expires?: Date
  httpOnly?: boolean
  secure?: boolean
  partitioned?: boolean
  priority?: 'low' | 'medium' | 'high' | 'Low' | 'Medium' | 'High'
  sameSite?: true | false | 'lax' | 'strict' | 'none' | 'Lax' | 'Strict' | 'None'
}
/** cookie@0.7.2 `serialize`, same validation and error messages. */
export function serialize (name: string, value: string, options?: SerializeOptions): string

/** cookie-parser `signedCookie`: unprefixed values as is, `false` for a bad signature. */
export function signedCookie (str: string, secret: Secrets): string | false
export function signedCookie (str: unknown, secret: Secrets): string | false | undefined
/** cookie-parser `signedCookies`: verified `s:` cookies, moved out of `cookies`. */
export function signedCookies (cookies: Record<string, unknown>, secret: Secrets): Record<string, string | false>

export interface GetSessionIdOptions {
  /** Cookie name, default `'connect.sid'`. */
  name?: string
  secret: Secrets
}
/** express-session's cookie read in one native call: the verified session id, or undefined. */
export function getSessionId (cookieHeader: string | undefined | null, options: GetSessionIdOptions): string | undefined
