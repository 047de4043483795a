//! N-API binding of the Redis store: converts options and results, nothing else.
//!
//! Each operation is a synchronous call that takes a request id. `get`/`set`/`touch`/
//! `destroy`/`eval` only queue; JS calls `flush()` once per tick, which sends the queue to
//! Redis as one pipeline on the tokio runtime (the scans spawn their own task). Completions
//! go into one queue; the first completion after a drain wakes the JS thread once (a weak
//! threadsafe function), and JS takes every finished result with one `drain()` call. Many
//! operations in flight thus cost one wake-up, not one Promise settled from tokio per
//! operation.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use parking_lot::Mutex;

use super::memory::{JsonText, Sid};
use crate::store::pipe::Pipe;
use crate::store::redis::{
    Cas, Config, Event, Found, Op, RedisStore, Reply, StoreError, StoreResult, Target, TlsFiles,
};

/// Options as lib/redis-store.js normalises them (every field filled and validated there).
#[napi(object)]
pub struct NativeRedisOptions {
    /// `redis://` or `rediss://` URL of a single node.
    pub url: Option<String>,
    /// Seed node URLs of a Redis Cluster.
    pub cluster: Option<Vec<String>>,
    /// PEM contents: CA to trust, client certificate and key.
    pub tls_ca: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub prefix: String,
    pub ttl: f64,
    pub scan_count: u32,
    pub disable_ttl: bool,
    pub disable_touch: bool,
    pub connect_timeout: f64,
    pub command_timeout: f64,
}

enum Payload {
    Nothing,
    Json(Option<String>),
    Count(f64),
    Strings(Vec<String>),
    Error(StoreError),
    Down(StoreError),
    Up,
}

// kinds in the drained array
const OK: u32 = 0;
const FAILED: u32 = 1;
const DOWN: u32 = 2;
const UP: u32 = 3;

type Wake = ThreadsafeFunction<(), Unknown<'static>, (), Status, false, true>;

struct Completions {
    queue: Mutex<Vec<(u32, Payload)>>,
    woken: AtomicBool,
    wake: Wake,
}

impl Completions {
    fn push(&self, id: u32, payload: Payload) {
        self.push_all(std::iter::once((id, payload)));
    }

    fn push_all(&self, items: impl Iterator<Item = (u32, Payload)>) {
        self.queue.lock().extend(items);
        if !self.woken.swap(true, Ordering::AcqRel) {
            self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

#[napi]
pub struct NativeRedisStore {
    store: RedisStore,
    done: Arc<Completions>,
    batch: Mutex<Vec<(u32, Op)>>,
}

fn ms(v: f64, name: &str) -> Result<Duration> {
    if !(v.is_finite() && v > 0.0 && v < 1e9) {
        return Err(Error::new(
            Status::InvalidArg,
            format!("{name} must be a positive number of milliseconds"),
        ));
    }
    Ok(Duration::from_millis(v as u64))
}

/// Operations a task still owes an answer. If the task ends without settling them (a
/// panic unwinds through it, or the runtime drops it), they fail with ERR_REDIS_INTERNAL
/// instead of leaving their Promises pending forever.
struct Unsettled {
    ids: Vec<u32>,
    done: Arc<Completions>,
}

impl Unsettled {
    fn new(ids: Vec<u32>, done: Arc<Completions>) -> Self {
        Unsettled { ids, done }
    }

    fn settle(&mut self, payloads: impl Iterator<Item = (u32, Payload)>) {
        self.ids.clear();
        self.done.push_all(payloads);
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        if self.ids.is_empty() {
            return;
        }
        let e = StoreError::new(
            "ERR_REDIS_INTERNAL",
            "the Redis operation failed inside native-session",
        );
        let ids = std::mem::take(&mut self.ids);
        self.done
            .push_all(ids.into_iter().map(|id| (id, Payload::Error(e.clone()))));
    }
}

fn payload(r: StoreResult<Reply>) -> Payload {
    match r {
        Ok(Reply::Found(Found::Session(j))) => Payload::Json(Some(j)),
        Ok(Reply::Found(Found::Missing)) => Payload::Json(None),
        Ok(Reply::Done) => Payload::Nothing,
        Ok(Reply::Text(t)) => Payload::Json(t),
        Err(e) => Payload::Error(e),
    }
}

/// Results as the flat array `drain()` documents.
fn to_array(env: &Env, items: Vec<(u32, Payload)>) -> Result<Array<'_>> {
    let mut arr = env.create_array((items.len() * 3) as u32)?;
    for (i, (id, payload)) in items.into_iter().enumerate() {
        let at = (i * 3) as u32;
        arr.set(at, id)?;
        match payload {
            Payload::Nothing => {
                arr.set(at + 1, OK)?;
                arr.set(at + 2, Null)?;
            }
            Payload::Json(j) => {
                arr.set(at + 1, OK)?;
                arr.set(at + 2, j.map(|j| JsonText(j.into_bytes())))?;
            }
            Payload::Count(n) => {
                arr.set(at + 1, OK)?;
                arr.set(at + 2, n)?;
            }
            Payload::Strings(v) => {
                arr.set(at + 1, OK)?;
                arr.set(at + 2, v)?;
            }
            Payload::Error(e) => {
                arr.set(at + 1, FAILED)?;
                arr.set(at + 2, vec![e.code.to_string(), e.message])?;
            }
            Payload::Down(e) => {
                arr.set(at + 1, DOWN)?;
                arr.set(at + 2, vec![e.code.to_string(), e.message])?;
            }
            Payload::Up => {
                arr.set(at + 1, UP)?;
                arr.set(at + 2, Null)?;
            }
        }
    }
    Ok(arr)
}

/// `set`'s arguments as JS passes them (both transports), as an operation.
fn set_op(sid: String, json: String, expires: Option<f64>, ttl: Option<f64>) -> Op {
    Op::Set {
        sid,
        json,
        expires: expires_arg(expires),
        ttl: ttl_arg(ttl),
    }
}

fn touch_op(sid: String, expires: Option<f64>, ttl: Option<f64>) -> Op {
    Op::Touch {
        sid,
        expires: expires_arg(expires),
        ttl: ttl_arg(ttl),
    }
}

fn cas_of(
    expected: Option<String>,
    json: String,
    expires: Option<f64>,
    ttl: Option<f64>,
    token: Option<String>,
) -> Cas {
    Cas {
        expected,
        json,
        expires: expires_arg(expires),
        ttl: ttl_arg(ttl),
        token,
    }
}

fn ttl_arg(v: Option<f64>) -> Option<i64> {
    v.filter(|t| t.is_finite())
        .map(|t| t.ceil().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
}

fn expires_arg(v: Option<f64>) -> Option<f64> {
    v.filter(|t| t.is_finite())
}

#[napi]
impl NativeRedisStore {
    /// `on_wake` is called (with no arguments) when results are ready for `drain()`.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        options: NativeRedisOptions,
        on_wake: Function<(), Unknown<'static>>,
    ) -> Result<Self> {
        let target = match (options.cluster, options.url) {
            (Some(nodes), _) => Target::Cluster(nodes),
            (None, Some(url)) => Target::Single(url),
            (None, None) => Target::Single("redis://127.0.0.1:6379".into()),
        };
        let tls = if options.tls_ca.is_some() || options.tls_cert.is_some() {
            Some(TlsFiles {
                root_cert: options.tls_ca.map(String::into_bytes),
                client_cert: options.tls_cert.map(String::into_bytes),
                client_key: options.tls_key.map(String::into_bytes),
            })
        } else {
            None
        };
        let cfg = Config {
            target,
            tls,
            prefix: options.prefix,
            ttl: ttl_arg(Some(options.ttl)).unwrap_or(86400),
            scan_count: options.scan_count.max(1),
            disable_ttl: options.disable_ttl,
            disable_touch: options.disable_touch,
            connect_timeout: ms(options.connect_timeout, "connectTimeout")?,
            command_timeout: ms(options.command_timeout, "commandTimeout")?,
        };
        let store = RedisStore::new(cfg).map_err(|e| Error::new(Status::InvalidArg, e.message))?;
        let wake: Wake = on_wake
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        let done = Arc::new(Completions {
            queue: Mutex::new(Vec::new()),
            woken: AtomicBool::new(false),
            wake,
        });
        let events = Arc::downgrade(&done);
        store.on_event(move |ev| {
            if let Some(done) = events.upgrade() {
                match ev {
                    Event::Down(e) => done.push(0, Payload::Down(e)),
                    Event::Up => done.push(0, Payload::Up),
                }
            }
        });
        Ok(NativeRedisStore {
            store,
            done,
            batch: Mutex::new(Vec::new()),
        })
    }

    fn spawn<F, T>(&self, id: u32, fut: F, wrap: fn(T) -> Payload)
    where
        F: std::future::Future<Output = std::result::Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let done = self.done.clone();
        napi::bindgen_prelude::spawn(async move {
            let mut guard = Unsettled::new(vec![id], done);
            let payload = match fut.await {
                Ok(v) => wrap(v),
                Err(e) => Payload::Error(e),
            };
            guard.settle(std::iter::once((id, payload)));
        });
    }

    /// Every finished result as a flat array `[id, kind, value, …]`: kind 0 ok (value the
    /// result), 1 failed (value `[code, message]`), 2 Redis down (`[code, message]`), 3 up.
    #[napi(catch_unwind)]
    pub fn drain<'e>(&self, env: &'e Env) -> Result<Array<'e>> {
        self.done.woken.store(false, Ordering::Release);
        let items = std::mem::take(&mut *self.done.queue.lock());
        to_array(env, items)
    }

    fn queue(&self, id: u32, op: Op) {
        self.batch.lock().push((id, op));
    }

    /// Sends every operation queued since the last flush, as one batch (one pipeline).
    /// JS calls it once per tick after queueing.
    #[napi(catch_unwind)]
    pub fn flush(&self) {
        let ops = std::mem::take(&mut *self.batch.lock());
        if ops.is_empty() {
            return;
        }
        let s = self.store.clone();
        let done = self.done.clone();
        napi::bindgen_prelude::spawn(async move {
            let (ids, ops): (Vec<u32>, Vec<Op>) = ops.into_iter().unzip();
            let mut guard = Unsettled::new(ids.clone(), done);
            let results = s.batch(ops).await;
            let payloads = ids.into_iter().zip(results).map(|(id, r)| (id, payload(r)));
            guard.settle(payloads);
        });
    }

    /// Queues a read: the stored JSON (or null) of a session that is alive.
    #[napi(catch_unwind)]
    pub fn get(&self, id: u32, sid: String) {
        self.queue(id, Op::Get { sid });
    }

    #[napi(catch_unwind)]
    pub fn set(&self, id: u32, sid: String, json: String, expires: Option<f64>, ttl: Option<f64>) {
        self.queue(id, set_op(sid, json, expires, ttl));
    }

    #[napi(catch_unwind)]
    pub fn touch(&self, id: u32, sid: String, expires: Option<f64>, ttl: Option<f64>) {
        self.queue(id, touch_op(sid, expires, ttl));
    }

    #[napi(catch_unwind)]
    pub fn destroy(&self, id: u32, sid: String) {
        self.queue(id, Op::Destroy { sid });
    }

    /// `[id, json, id, json, …]` of every alive session.
    #[napi(catch_unwind)]
    pub fn all(&self, id: u32) {
        let s = self.store.clone();
        self.spawn(id, async move { s.all().await }, |pairs| {
            Payload::Strings(pairs.into_iter().flat_map(|(a, b)| [a, b]).collect())
        });
    }

    #[napi(catch_unwind)]
    pub fn ids(&self, id: u32) {
        let s = self.store.clone();
        self.spawn(id, async move { s.ids().await }, Payload::Strings);
    }

    #[napi(catch_unwind)]
    pub fn length(&self, id: u32) {
        let s = self.store.clone();
        self.spawn(id, async move { s.length().await }, |n| {
            Payload::Count(n as f64)
        });
    }

    #[napi(catch_unwind)]
    pub fn clear(&self, id: u32) {
        let s = self.store.clone();
        self.spawn(id, async move { s.clear().await }, |()| Payload::Nothing);
    }

    #[napi(catch_unwind)]
    pub fn ping(&self, id: u32) {
        let s = self.store.clone();
        self.spawn(id, async move { s.ping().await }, |()| Payload::Nothing);
    }

    /// Queues a Lua script (EVALSHA, EVAL on NOSCRIPT); the reply as a string or null.
    #[napi(catch_unwind)]
    pub fn eval(&self, id: u32, sha: String, script: String, keys: Vec<String>, args: Vec<String>) {
        self.queue(
            id,
            Op::Eval {
                sha,
                script,
                keys,
                args,
            },
        );
    }

    /// Queues a compare-and-set of `sid` (see `redisPipeCas`).
    #[napi(
        catch_unwind,
        ts_args_type = "id: number, sid: string, expected: string | null, json: string, expires?: number, ttl?: number, token?: string | null"
    )]
    #[allow(clippy::too_many_arguments)]
    pub fn cas(
        &self,
        id: u32,
        sid: Sid,
        expected: Option<String>,
        json: String,
        expires: Option<f64>,
        ttl: Option<f64>,
        token: Option<String>,
    ) {
        let op = self
            .store
            .cas_op(&sid.0, cas_of(expected, json, expires, ttl, token));
        self.queue(id, op);
    }

    /// Releases the connection; operations still in flight finish or fail.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.store.close();
    }
}

/// A single node reachable over plain TCP: where lib/redis-store.js opens its own socket.
#[napi(object)]
pub struct NativeDirectTarget {
    pub host: String,
    pub port: u32,
}

#[napi]
impl NativeRedisStore {
    /// Where the store's Redis is when a pipe (`redisPipeCreate`) can talk to it: one
    /// node, plain TCP. Else null.
    #[napi(catch_unwind)]
    pub fn direct_target(&self) -> Option<NativeDirectTarget> {
        self.store.direct_target().map(|t| NativeDirectTarget {
            host: t.host,
            port: t.port as u32,
        })
    }
}

// The Redis protocol without I/O, for a `net.Socket` on the JS thread (lib/redis-socket.js):
// free functions on an External handle, the cheap kind of call (see ./memory.rs).
// Operations queue (the same arguments as NativeRedisStore's), `take`/`start` give the
// bytes to write, `feed` reads replies and returns the finished operations as `drain()`
// does. An entry with id 0 and kind 1 means the connection is unusable: close it and call
// `redisPipeFail`.

pub struct PipeHandle(RefCell<Pipe>);

type H<'a> = &'a External<PipeHandle>;

/// A pipe for `store`'s node, or null when `directTarget()` is.
#[napi(catch_unwind, ts_return_type = "ExternalObject<unknown> | null")]
pub fn redis_pipe_create(store: &NativeRedisStore) -> Option<External<PipeHandle>> {
    let t = store.store.direct_target()?;
    let pipe = Pipe::new(
        store.store.clone(),
        t.username.as_deref(),
        t.password.as_deref(),
        t.db,
    );
    Some(External::new(PipeHandle(RefCell::new(pipe))))
}

fn push(h: H, id: u32, op: Op) {
    h.0.borrow_mut().push(id, op);
}

#[napi(
    catch_unwind,
    ts_args_type = "h: ExternalObject<unknown>, id: number, sid: string"
)]
pub fn redis_pipe_get(h: H, id: u32, sid: Sid) {
    push(h, id, Op::Get { sid: sid.0 });
}

#[napi(
    catch_unwind,
    ts_args_type = "h: ExternalObject<unknown>, id: number, sid: string, json: string, expires?: number, ttl?: number"
)]
pub fn redis_pipe_set(
    h: H,
    id: u32,
    sid: Sid,
    json: String,
    expires: Option<f64>,
    ttl: Option<f64>,
) {
    push(h, id, set_op(sid.0, json, expires, ttl));
}

#[napi(
    catch_unwind,
    ts_args_type = "h: ExternalObject<unknown>, id: number, sid: string, expires?: number, ttl?: number"
)]
pub fn redis_pipe_touch(h: H, id: u32, sid: Sid, expires: Option<f64>, ttl: Option<f64>) {
    push(h, id, touch_op(sid.0, expires, ttl));
}

#[napi(
    catch_unwind,
    ts_args_type = "h: ExternalObject<unknown>, id: number, sid: string"
)]
pub fn redis_pipe_destroy(h: H, id: u32, sid: Sid) {
    push(h, id, Op::Destroy { sid: sid.0 });
}

/// Registers a Lua script (SHA-1 and text) once; its index is what `redisPipeEval` takes.
#[napi(
    catch_unwind,
    ts_args_type = "h: ExternalObject<unknown>, sha: string, script: string"
)]
pub fn redis_pipe_script(h: H, sha: String, script: String) -> u32 {
    h.0.borrow_mut().script(sha, script) as u32
}

/// Queues a registered script: EVALSHA, EVAL on NOSCRIPT; the reply as a string or null.
#[napi(
    catch_unwind,
    ts_args_type = "h: ExternalObject<unknown>, id: number, script: number, keys: string[], args: string[]"
)]
pub fn redis_pipe_eval(h: H, id: u32, script: u32, keys: Vec<String>, args: Vec<String>) {
    h.0.borrow_mut().eval(id, script as usize, keys, args);
}

/// Queues lib/merge.js's compare-and-set of `sid`: stores `json` if the stored JSON is
/// `expected` (null: if there is none and the id was not destroyed lately). The reply is
/// 'ok', 'gone', 'fenced' (`token` no longer holds the lock) or the stored JSON.
#[napi(
    catch_unwind,
    ts_args_type = "h: ExternalObject<unknown>, id: number, sid: string, expected: string | null, json: string, expires?: number, ttl?: number, token?: string | null"
)]
#[allow(clippy::too_many_arguments)]
pub fn redis_pipe_cas(
    h: H,
    id: u32,
    sid: Sid,
    expected: Option<String>,
    json: String,
    expires: Option<f64>,
    ttl: Option<f64>,
    token: Option<String>,
) {
    h.0.borrow_mut()
        .cas(id, &sid.0, cas_of(expected, json, expires, ttl, token));
}

#[napi(catch_unwind, ts_args_type = "h: ExternalObject<unknown>, id: number")]
pub fn redis_pipe_ping(h: H, id: u32) {
    h.0.borrow_mut().ping(id);
}

/// Bytes to write now, or null.
#[napi(catch_unwind, ts_args_type = "h: ExternalObject<unknown>")]
pub fn redis_pipe_take<'e>(env: &'e Env, h: H) -> Result<Option<BufferSlice<'e>>> {
    h.0.borrow_mut()
        .take_with(|b| BufferSlice::copy_from(env, b))
        .transpose()
}

/// Bytes to write first on a new connection (handshake, then what is queued), or null.
#[napi(catch_unwind, ts_args_type = "h: ExternalObject<unknown>")]
pub fn redis_pipe_start<'e>(env: &'e Env, h: H) -> Result<Option<BufferSlice<'e>>> {
    h.0.borrow_mut()
        .start_with(|b| BufferSlice::copy_from(env, b))
        .transpose()
}

#[napi(
    catch_unwind,
    ts_args_type = "h: ExternalObject<unknown>, bytes: Uint8Array"
)]
pub fn redis_pipe_feed<'e>(env: &'e Env, h: H, bytes: &[u8]) -> Result<Array<'e>> {
    let fed = h.0.borrow_mut().feed(bytes);
    let mut items: Vec<(u32, Payload)> = fed
        .done
        .into_iter()
        .map(|(id, r)| (id, payload(r)))
        .collect();
    if let Some(e) = fed.broken {
        items.push((0, Payload::Error(e)));
    }
    to_array(env, items)
}

/// Fails everything queued or in flight with `code`/`message` (the socket is gone).
#[napi(
    catch_unwind,
    ts_args_type = "h: ExternalObject<unknown>, code: string, message: string"
)]
pub fn redis_pipe_fail<'e>(env: &'e Env, h: H, code: String, message: String) -> Result<Array<'e>> {
    let e = StoreError::new(crate::store::redis::known_code(&code), message);
    let failed = h.0.borrow_mut().fail(&e);
    to_array(
        env,
        failed.into_iter().map(|(id, r)| (id, payload(r))).collect(),
    )
}

/// Commands written so far (handshake included): what was written up to `sent` is
/// answered once `received` reaches it.
#[napi(catch_unwind, ts_args_type = "h: ExternalObject<unknown>")]
pub fn redis_pipe_sent(h: H) -> f64 {
    h.0.borrow().sent() as f64
}

#[napi(catch_unwind, ts_args_type = "h: ExternalObject<unknown>")]
pub fn redis_pipe_received(h: H) -> f64 {
    h.0.borrow().received() as f64
}

/// Operations queued or in flight.
#[napi(catch_unwind, ts_args_type = "h: ExternalObject<unknown>")]
pub fn redis_pipe_pending(h: H) -> u32 {
    h.0.borrow().pending() as u32
}
