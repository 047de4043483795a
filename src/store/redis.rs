//! The Redis store core: connect-redis's data format and rules on the `redis` crate (tokio).
//!
//! No N-API types here. The binding layer spawns these async operations on the process's
//! tokio runtime and delivers the results to JS in batches.
//!
//! Data format (connect-redis 9/10): key `prefix + sid`, value the session JSON as given,
//! `SET key value EX ttl` (ttl from `cookie.expires`, or the `ttl` option), ttl <= 0 deletes,
//! `touch` = `EXPIRE`, enumeration by `SCAN MATCH <escaped prefix>* COUNT scanCount`.
//!
//! The connection is one of two kinds behind [`Conn`]: a single node through the crate's
//! reconnecting `ConnectionManager`, or a Redis Cluster through its async cluster client.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, RedisError, ServerError, ServerErrorKind, Value};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::expiry;

/// Stable error codes carried to JS as `err.code`.
pub const ERR_TIMEOUT: &str = "ERR_REDIS_TIMEOUT";
pub const ERR_UNAVAILABLE: &str = "ERR_REDIS_UNAVAILABLE";
pub const ERR_BAD_DATA: &str = "ERR_REDIS_BAD_DATA";
pub const ERR_COMMAND: &str = "ERR_REDIS_COMMAND";
pub const ERR_CLOSED: &str = "ERR_REDIS_CLOSED";
pub const ERR_CONFIG: &str = "ERR_REDIS_CONFIG";
pub const ERR_AUTH: &str = "ERR_REDIS_AUTH";

/// The `&'static` code among this module's that equals `code` (ERR_REDIS_UNAVAILABLE for
/// any other).
pub fn known_code(code: &str) -> &'static str {
    [
        ERR_TIMEOUT,
        ERR_UNAVAILABLE,
        ERR_BAD_DATA,
        ERR_COMMAND,
        ERR_CLOSED,
        ERR_CONFIG,
        ERR_AUTH,
    ]
    .into_iter()
    .find(|c| *c == code)
    .unwrap_or(ERR_UNAVAILABLE)
}

/// An error with a stable code and a message that says what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreError {
    pub code: &'static str,
    pub message: String,
}

impl StoreError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        StoreError {
            code,
            message: message.into(),
        }
    }

    /// Whether this error means Redis is unreachable (as opposed to a bad reply or bad data).
    pub fn is_outage(&self) -> bool {
        self.code == ERR_TIMEOUT || self.code == ERR_UNAVAILABLE
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

fn map_redis_error(e: RedisError, timeout: Duration) -> StoreError {
    if matches!(
        e.kind(),
        redis::ErrorKind::AuthenticationFailed | redis::ErrorKind::Server(ServerErrorKind::NoPerm)
    ) || e.code() == Some("WRONGPASS")
        || e.code() == Some("NOAUTH")
    {
        StoreError::new(
            ERR_AUTH,
            format!("Redis refused the credentials: {e} (check username/password)"),
        )
    } else if e.is_timeout() {
        StoreError::new(
            ERR_TIMEOUT,
            format!(
                "Redis did not answer within {} ms ({e})",
                timeout.as_millis()
            ),
        )
    } else if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(
                ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::BusyLoading
                    // the crate follows redirects itself: one that reaches us points at a
                    // node it could not reach
                    | ServerErrorKind::Moved
                    | ServerErrorKind::Ask
            )
        )
    {
        StoreError::new(ERR_UNAVAILABLE, format!("Redis is unavailable: {e}"))
    } else {
        StoreError::new(ERR_COMMAND, format!("Redis replied with an error: {e}"))
    }
}

/// A Redis error reply: "the data is not reachable now" kinds are outages, others are errors
/// of the command.
pub(crate) fn server_error(e: ServerError) -> StoreError {
    match e.kind() {
        Some(
            ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::TryAgain
            | ServerErrorKind::BusyLoading
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask,
        ) => StoreError::new(ERR_UNAVAILABLE, format!("Redis is unavailable: {e:?}")),
        _ => StoreError::new(ERR_COMMAND, format!("Redis replied with an error: {e:?}")),
    }
}

/// TLS material, PEM bytes. `root_cert` replaces the system roots ("trust this CA").
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub root_cert: Option<Vec<u8>>,
    pub client_cert: Option<Vec<u8>>,
    pub client_key: Option<Vec<u8>>,
}

/// Where Redis is.
#[derive(Debug, Clone)]
pub enum Target {
    /// One node, a `redis://` or `rediss://` URL.
    Single(String),
    /// Seed nodes of a Redis Cluster, as URLs.
    Cluster(Vec<String>),
}

/// Store options, connect-redis names and defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    pub tls: Option<TlsFiles>,
    pub prefix: String,
    /// Default TTL in seconds when the session has no `cookie.expires`.
    pub ttl: i64,
    pub scan_count: u32,
    pub disable_ttl: bool,
    pub disable_touch: bool,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target: Target::Single("redis://127.0.0.1:6379".into()),
            tls: None,
            prefix: "sess:".into(),
            ttl: 86400,
            scan_count: 100,
            disable_ttl: false,
            disable_touch: false,
            connect_timeout: Duration::from_millis(2000),
            command_timeout: Duration::from_millis(2000),
        }
    }
}

/// A single node over plain TCP, with what the connection handshake needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectTarget {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: i64,
}

/// Availability changes, reported once per transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Redis stopped answering (the error that showed it).
    Down(StoreError),
    /// Redis answers again.
    Up,
}

type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// The live connection: a single node or a cluster.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

enum Connector {
    Single {
        client: redis::Client,
        config: ConnectionManagerConfig,
        mgr: OnceCell<ConnectionManager>,
    },
    Cluster {
        client: redis::cluster::ClusterClient,
        conn: OnceCell<ClusterConnection>,
    },
}

struct Inner {
    cfg: Config,
    match_pattern: String,
    connector: Mutex<Option<Arc<Connector>>>,
    up: AtomicBool,
    probing: AtomicBool,
    closed: AtomicBool,
    events: Mutex<Option<EventSink>>,
}

/// The Redis store. Cheap to clone (shared state).
#[derive(Clone)]
pub struct RedisStore(Arc<Inner>);

/// What `get` found.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// The stored JSON, alive.
    Session(String),
    /// No key, an empty value, or a session past its expiry.
    Missing,
}

/// A single-key operation, for [`RedisStore::batch`].
#[derive(Debug, Clone)]
pub enum Op {
    Get {
        sid: String,
    },
    Set {
        sid: String,
        json: String,
        expires: Option<f64>,
        ttl: Option<i64>,
    },
    Touch {
        sid: String,
        expires: Option<f64>,
        ttl: Option<i64>,
    },
    Destroy {
        sid: String,
    },
    /// A Lua script by its SHA-1 (EVAL when Redis does not have it yet): its reply as
    /// text, see [`RedisStore::eval`]. In a batch, saves go out with the reads.
    Eval {
        sha: String,
        script: String,
        keys: Vec<String>,
        args: Vec<String>,
    },
}

/// The result of an [`Op`].
#[derive(Debug, PartialEq)]
pub enum Reply {
    Found(Found),
    Done,
    Text(Option<String>),
}

pub(crate) enum Planned {
    Get(String),
    Cmd(Cmd),
    Eval(Cmd, String, Vec<String>, Vec<String>),
    Nothing,
}

/// Escapes the glob characters of a SCAN MATCH pattern (`*`, `?`, `[`, `]`, `\`).
pub fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Parses the ISO-8601 form `JSON.stringify(date)` writes: `YYYY-MM-DDTHH:MM:SS.sssZ`
/// (also `±YYYYYY` years, and without milliseconds). Milliseconds since the epoch.
pub fn parse_iso_date(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (sign, year_len, rest) = match b.first()? {
        b'+' => (1i64, 6, &b[1..]),
        b'-' => (-1i64, 6, &b[1..]),
        _ => (1i64, 4, b),
    };
    let num = |bytes: &[u8]| -> Option<i64> {
        if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(bytes.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
    };
    if rest.len() < year_len + 15 {
        return None;
    }
    let year = sign * num(&rest[..year_len])?;
    let r = &rest[year_len..];
    // -MM-DDTHH:MM:SS
    if r[0] != b'-' || r[3] != b'-' || r[6] != b'T' || r[9] != b':' || r[12] != b':' {
        return None;
    }
    let month = num(&r[1..3])?;
    let day = num(&r[4..6])?;
    let hour = num(&r[7..9])?;
    let min = num(&r[10..12])?;
    let sec = num(&r[13..15])?;
    let tail = &r[15..];
    let ms = match tail {
        b"Z" => 0,
        [b'.', digits @ .., b'Z'] if (1..=3).contains(&digits.len()) => {
            let v = num(digits)?;
            v * 10i64.pow(3 - digits.len() as u32)
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 24 || min > 59 || sec > 59 {
        return None;
    }
    // days from civil (Howard Hinnant's algorithm)
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some((((days * 24 + hour) * 60 + min) * 60 + sec) as f64 * 1000.0 + ms as f64)
}

#[derive(Deserialize)]
struct SessionShape {
    #[serde(default)]
    cookie: Option<CookieShape>,
}

#[derive(Deserialize)]
struct CookieShape {
    #[serde(default)]
    expires: Option<serde_json::Value>,
}

/// The `cookie.expires` of a stored session JSON, in ms; `Err` when the JSON is malformed
/// or not an object.
pub fn stored_expiry(json: &str) -> Result<Option<f64>, String> {
    let shape: SessionShape = serde_json::from_str(json).map_err(|e| e.to_string())?;
    Ok(match shape.cookie.and_then(|c| c.expires) {
        Some(serde_json::Value::String(s)) => parse_iso_date(&s),
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        _ => None,
    })
}

/// Whether a stored session is served, given its stored `cookie.expires` and the key's
/// remaining lifetime (`PTTL`: ms, or -1 when the key has no expiry).
///
/// `SET … EX ceil((expires − now)/1000)` makes the key outlive `cookie.expires` by less
/// than a second; `touch` (`EXPIRE`) moves the key's expiry without rewriting the JSON. So:
/// a session whose stored expiry is still ahead is alive; one whose stored expiry passed is
/// alive only when its key lives at least a second past that expiry (it was touched, or
/// given a longer TTL); a key without a TTL follows the stored expiry alone.
pub fn is_served(stored_expires: Option<f64>, pttl_ms: i64, now_ms: f64) -> bool {
    match stored_expires {
        None => true,
        Some(e) if !expiry::is_expired(Some(e), now_ms) => true,
        Some(e) => pttl_ms >= 0 && now_ms + pttl_ms as f64 >= e + 1000.0,
    }
}

/// A GET reply as text; `what` names the value in errors (built only on an error).
fn bulk_to_string(v: Value, what: impl Fn() -> String) -> StoreResult<Option<String>> {
    match v {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| StoreError::new(ERR_BAD_DATA, format!("{} is not valid UTF-8", what()))),
        Value::SimpleString(s) => Ok(Some(s)),
        Value::ServerError(e) => Err(server_error(e)),
        other => Err(StoreError::new(
            ERR_BAD_DATA,
            format!("{}: unexpected reply {other:?}", what()),
        )),
    }
}

fn to_int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

/// What a GET reply (and, when asked for, the key's PTTL) means.
pub(crate) enum Decision {
    Is(Found),
    /// The stored `cookie.expires` has passed: whether the key was touched past it needs
    /// the key's remaining lifetime (`GET` + `PTTL` again, in one round trip).
    NeedTtl,
}

/// Decides what a GET reply means; with `pttl` (read in the same round trip as the value)
/// the decision is final.
pub(crate) fn decide(
    key: &str,
    value: Value,
    pttl: Option<&Value>,
    now_ms: f64,
) -> StoreResult<Decision> {
    let Some(json) = bulk_to_string(value, || format!("the value of {key:?}"))? else {
        return Ok(Decision::Is(Found::Missing));
    };
    if json.is_empty() {
        return Ok(Decision::Is(Found::Missing));
    }
    let expires = stored_expiry(&json).map_err(|e| {
        StoreError::new(
            ERR_BAD_DATA,
            format!("the value of {key:?} is not a session JSON object ({e})"),
        )
    })?;
    if !expiry::is_expired(expires, now_ms) {
        return Ok(Decision::Is(Found::Session(json)));
    }
    let Some(pttl) = pttl else {
        return Ok(Decision::NeedTtl);
    };
    let pttl = to_int(pttl).unwrap_or(-1);
    if pttl == -2 || !is_served(expires, pttl, now_ms) {
        return Ok(Decision::Is(Found::Missing));
    }
    Ok(Decision::Is(Found::Session(json)))
}

pub(crate) fn decided(key: &str, value: Value, pttl: &Value, now_ms: f64) -> StoreResult<Found> {
    match decide(key, value, Some(pttl), now_ms)? {
        Decision::Is(f) => Ok(f),
        Decision::NeedTtl => Ok(Found::Missing),
    }
}

/// The compare-and-set of lib/merge.js (README "Concurrent writes"), atomic in Redis.
/// KEYS: the session, its tombstone, its lock. ARGV: the expected JSON (when ARGV[5] is
/// '1'; else no session is expected), the new JSON, the TTL in seconds ('' = none; <= 0
/// deletes), the lock token ('' = none). Replies 'ok', 'gone', 'fenced' or the stored JSON
/// (a conflict). The JSON is compared as it is: cheaper for Redis than hashing it.
pub const CAS_SCRIPT: &str = "local cur = redis.call('GET', KEYS[1])
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[4] then return 'fenced' end
if ARGV[5] ~= '1' then
  if cur then return cur end
  if redis.call('EXISTS', KEYS[2]) == 1 then return 'gone' end
else
  if not cur then return 'gone' end
  if cur ~= ARGV[1] then return cur end
end
local ttl = tonumber(ARGV[3])
if ttl == nil then redis.call('SET', KEYS[1], ARGV[2])
elseif ttl <= 0 then redis.call('DEL', KEYS[1])
else redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl) end
return 'ok'";

/// A compare-and-set: store `json` if the stored JSON is `expected` (None: if there is no
/// session and it was not destroyed lately), while `token` (if any) holds the lock. The TTL
/// comes from `expires` (ms since the epoch) or `ttl` (seconds), as `set`'s does.
#[derive(Debug, Default)]
pub struct Cas {
    pub expected: Option<String>,
    pub json: String,
    pub expires: Option<f64>,
    pub ttl: Option<i64>,
    pub token: Option<String>,
}

/// [`CAS_SCRIPT`]'s SHA-1, as EVALSHA takes it.
pub fn cas_sha() -> &'static str {
    static SHA: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| redis::Script::new(CAS_SCRIPT).get_hash().to_string());
    &SHA
}

impl RedisStore {
    /// Creates the store; connecting happens lazily on the first command, so this needs
    /// no runtime and never blocks.
    pub fn new(cfg: Config) -> StoreResult<Self> {
        // rustls needs a process-wide crypto provider; ring is the one compiled in (a
        // provider installed earlier by someone else is fine too)
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bad = |e: RedisError| StoreError::new(ERR_CONFIG, format!("bad Redis options: {e}"));
        let certs = cfg.tls.as_ref().map(|t| redis::TlsCertificates {
            client_tls: match (&t.client_cert, &t.client_key) {
                (Some(c), Some(k)) => Some(redis::ClientTlsConfig {
                    client_cert: c.clone(),
                    client_key: k.clone(),
                }),
                _ => None,
            },
            root_cert: t.root_cert.clone(),
        });
        let connector = match &cfg.target {
            Target::Single(url) => {
                let client = match &certs {
                    Some(c) => redis::Client::build_with_tls(url.as_str(), c.clone()),
                    None => redis::Client::open(url.as_str()),
                }
                .map_err(bad)?;
                let mgr_cfg = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(cfg.connect_timeout))
                    .set_response_timeout(Some(cfg.command_timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(20))
                    .set_max_delay(Duration::from_millis(200));
                Connector::Single {
                    client,
                    config: mgr_cfg,
                    mgr: OnceCell::new(),
                }
            }
            Target::Cluster(urls) => {
                let mut b = ClusterClientBuilder::new(urls.iter().map(String::as_str))
                    .connection_timeout(cfg.connect_timeout)
                    .response_timeout(cfg.command_timeout)
                    .retries(2)
                    .min_retry_wait(20)
                    .max_retry_wait(200);
                if let Some(c) = certs {
                    b = b.certs(c);
                }
                Connector::Cluster {
                    client: b.build().map_err(bad)?,
                    conn: OnceCell::new(),
                }
            }
        };
        let match_pattern = format!("{}*", escape_glob(&cfg.prefix));
        Ok(RedisStore(Arc::new(Inner {
            cfg,
            match_pattern,
            connector: Mutex::new(Some(Arc::new(connector))),
            up: AtomicBool::new(true),
            probing: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            events: Mutex::new(None),
        })))
    }

    pub fn config(&self) -> &Config {
        &self.0.cfg
    }

    /// Where a caller-owned socket can reach this store's Redis: a single node over plain
    /// TCP (not a cluster, TLS or a Unix socket). See [`super::pipe::Pipe`].
    pub fn direct_target(&self) -> Option<DirectTarget> {
        let connector = self.0.connector.lock().clone()?;
        let Connector::Single { client, .. } = &*connector else {
            return None;
        };
        let info = client.get_connection_info();
        let redis::ConnectionAddr::Tcp(host, port) = info.addr() else {
            return None;
        };
        let settings = info.redis_settings();
        if settings.protocol() != redis::ProtocolVersion::RESP2 {
            return None;
        }
        Some(DirectTarget {
            host: host.clone(),
            port: *port,
            username: settings.username().map(str::to_string),
            password: settings.password().map(str::to_string),
            db: settings.db(),
        })
    }

    /// Where availability changes are reported.
    pub fn on_event(&self, sink: impl Fn(Event) + Send + Sync + 'static) {
        *self.0.events.lock() = Some(Arc::new(sink));
    }

    fn key(&self, sid: &str) -> String {
        let mut k = String::with_capacity(self.0.cfg.prefix.len() + sid.len());
        k.push_str(&self.0.cfg.prefix);
        k.push_str(sid);
        k
    }

    async fn conn(&self) -> StoreResult<Conn> {
        let connector = self
            .0
            .connector
            .lock()
            .clone()
            .ok_or_else(|| StoreError::new(ERR_CLOSED, "the store is closed"))?;
        match &*connector {
            Connector::Single {
                client,
                config,
                mgr,
            } => {
                // lazy: the manager needs the runtime it will run on, so it is made on first use
                let m = mgr
                    .get_or_try_init(|| async {
                        ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                    })
                    .await
                    .map_err(|e| map_redis_error(e, self.0.cfg.connect_timeout))?;
                Ok(Conn::Single(m.clone()))
            }
            Connector::Cluster { client, conn } => {
                let c = conn
                    .get_or_try_init(|| client.get_async_connection())
                    .await
                    .map_err(|e| map_redis_error(e, self.0.cfg.connect_timeout))?;
                Ok(Conn::Cluster(c.clone()))
            }
        }
    }

    /// Runs `f` on the connection within the command timeout and records availability.
    async fn run<T, F, Fut>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: std::future::Future<Output = StoreResult<T>>,
    {
        let timeout = self.0.cfg.command_timeout;
        let fut = async {
            let conn = self.conn().await?;
            f(conn).await
        };
        let result = match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::new(
                ERR_TIMEOUT,
                format!("Redis did not answer within {} ms", timeout.as_millis()),
            )),
        };
        self.note(&result);
        result
    }

    fn note<T>(&self, result: &StoreResult<T>) {
        match result {
            Ok(_) => {
                if !self.0.up.swap(true, Ordering::AcqRel) {
                    self.emit(Event::Up);
                }
            }
            Err(e) if e.is_outage() => {
                if self.0.up.swap(false, Ordering::AcqRel) {
                    self.emit(Event::Down(e.clone()));
                    self.start_probe();
                }
            }
            Err(_) => {}
        }
    }

    fn emit(&self, ev: Event) {
        if self.0.closed.load(Ordering::Acquire) {
            return;
        }
        let sink = self.0.events.lock().clone();
        if let Some(sink) = sink {
            sink(ev);
        }
    }

    /// While Redis is down, PINGs it every 250 ms so that its return is reported even when
    /// the app sends no commands. Needs a tokio runtime (it is called from one).
    fn start_probe(&self) {
        if self.0.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.0.probing.store(false, Ordering::Release);
            return;
        };
        let weak = Arc::downgrade(&self.0);
        handle.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let Some(inner) = weak.upgrade() else { return };
                let store = RedisStore(inner);
                if store.0.closed.load(Ordering::Acquire) || store.0.up.load(Ordering::Acquire) {
                    store.0.probing.store(false, Ordering::Release);
                    return;
                }
                let _ = store.ping().await;
            }
        });
    }

    /// PING (the first node of a cluster answers for it).
    pub async fn ping(&self) -> StoreResult<()> {
        self.run(|mut c| async move { query(&mut c, &redis::cmd("PING")).await.map(|_| ()) })
            .await
    }

    /// Runs a Lua script (EVALSHA, then EVAL when Redis does not have it yet) and gives its
    /// reply as text: nil → None, integers as decimal. Used by the concurrent-write
    /// primitives of lib/redis-store.js (compare-and-set, tombstones, locks).
    pub async fn eval(
        &self,
        sha: String,
        script: String,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> StoreResult<Option<String>> {
        let sent = self
            .run(|mut c| {
                let cmd = script_cmd("EVALSHA", &sha, &keys, &args);
                async move { query(&mut c, &cmd).await }
            })
            .await;
        match sent {
            Err(e) if e.message.to_ascii_lowercase().contains("noscript") => {
                self.eval_script(script, keys, args).await
            }
            r => script_reply(r?),
        }
    }

    /// EVAL of the script text itself (after a NOSCRIPT reply).
    async fn eval_script(
        &self,
        script: String,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> StoreResult<Option<String>> {
        self.run(|mut c| async move {
            script_reply(query(&mut c, &script_cmd("EVAL", &script, &keys, &args)).await?)
        })
        .await
    }

    /// The stored JSON of `sid` if the session is alive.
    pub async fn get(&self, sid: &str) -> StoreResult<Found> {
        let key = self.key(sid);
        let value = self
            .run(|mut c| {
                let key = key.clone();
                async move { query(&mut c, redis::cmd("GET").arg(&key)).await }
            })
            .await?;
        match decide(&key, value, None, expiry::now_ms())? {
            Decision::Is(found) => Ok(found),
            Decision::NeedTtl => self.get_with_ttl(key).await,
        }
    }

    /// GET + PTTL in one round trip: the final word on a session past its stored expiry.
    async fn get_with_ttl(&self, key: String) -> StoreResult<Found> {
        self.run(|mut c| async move {
            let mut p = redis::pipe();
            p.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
            let mut replies = query_pipe(&mut c, &p, 2).await?.into_iter();
            let (value, pttl) = (replies.next().unwrap_or(Value::Nil), replies.next());
            decided(&key, value, &pttl.unwrap_or(Value::Nil), expiry::now_ms())
        })
        .await
    }

    /// The TTL `set`/`touch` give a session: `ttl_override` (the `ttl` option's function),
    /// else from `cookie.expires`, else the `ttl` option.
    pub fn ttl_for(&self, expires_ms: Option<f64>, ttl_override: Option<i64>) -> i64 {
        ttl_override
            .unwrap_or_else(|| expiry::ttl_seconds(expires_ms, expiry::now_ms(), self.0.cfg.ttl))
    }

    /// A compare-and-set of `sid` ([`CAS_SCRIPT`]) as an [`Op::Eval`].
    pub fn cas_op(&self, sid: &str, cas: Cas) -> Op {
        let (keys, args) = self.cas_parts(sid, cas);
        Op::Eval {
            sha: cas_sha().to_string(),
            script: CAS_SCRIPT.to_string(),
            keys,
            args,
        }
    }

    /// [`CAS_SCRIPT`]'s keys and arguments: the companion keys `{<key>}:tomb` and
    /// `{<key>}:lock` share the session key's cluster slot; the TTL is `set`'s.
    pub(crate) fn cas_parts(&self, sid: &str, cas: Cas) -> (Vec<String>, Vec<String>) {
        let key = self.key(sid);
        let tomb = format!("{{{key}}}:tomb");
        let lock = format!("{{{key}}}:lock");
        let ttl = if self.0.cfg.disable_ttl {
            String::new()
        } else {
            self.ttl_for(cas.expires, cas.ttl).to_string()
        };
        let expecting = if cas.expected.is_some() { "1" } else { "" };
        let args = vec![
            cas.expected.unwrap_or_default(),
            cas.json,
            ttl,
            cas.token.unwrap_or_default(),
            expecting.into(),
        ];
        (vec![key, tomb, lock], args)
    }

    /// Stores `json` as the session `sid` (connect-redis's `set`).
    pub async fn set(
        &self,
        sid: &str,
        json: String,
        expires_ms: Option<f64>,
        ttl_override: Option<i64>,
    ) -> StoreResult<()> {
        let ttl = self.ttl_for(expires_ms, ttl_override);
        if ttl <= 0 {
            return self.destroy(sid).await;
        }
        let key = self.key(sid);
        let disable_ttl = self.0.cfg.disable_ttl;
        self.run(|mut c| async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(&key).arg(json);
            if !disable_ttl {
                cmd.arg("EX").arg(ttl);
            }
            query(&mut c, &cmd).await.map(|_| ())
        })
        .await
    }

    /// connect-redis's `touch`: `EXPIRE key ttl`, unless touch or TTLs are disabled.
    pub async fn touch(
        &self,
        sid: &str,
        expires_ms: Option<f64>,
        ttl_override: Option<i64>,
    ) -> StoreResult<()> {
        if self.0.cfg.disable_touch || self.0.cfg.disable_ttl {
            return Ok(());
        }
        let ttl = self.ttl_for(expires_ms, ttl_override);
        let key = self.key(sid);
        self.run(|mut c| async move {
            query(&mut c, redis::cmd("EXPIRE").arg(&key).arg(ttl))
                .await
                .map(|_| ())
        })
        .await
    }

    pub async fn destroy(&self, sid: &str) -> StoreResult<()> {
        let key = self.key(sid);
        self.run(
            |mut c| async move { query(&mut c, redis::cmd("DEL").arg(&key)).await.map(|_| ()) },
        )
        .await
    }

    /// Every key of this store (`SCAN MATCH prefix* COUNT scanCount`; on a cluster, over
    /// every master), without duplicates, in the order SCAN returned them.
    async fn keys(&self) -> StoreResult<Vec<String>> {
        let pattern = self.0.cfg.prefix.clone();
        let matcher = self.0.match_pattern.clone();
        let count = self.0.cfg.scan_count;
        self.run(|mut c| async move {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            let nodes = match &mut c {
                Conn::Single(_) => vec![None],
                Conn::Cluster(cc) => masters(cc).await?.into_iter().map(Some).collect(),
            };
            for node in nodes {
                let mut cursor = 0u64;
                loop {
                    let mut cmd = redis::cmd("SCAN");
                    cmd.arg(cursor)
                        .arg("MATCH")
                        .arg(&matcher)
                        .arg("COUNT")
                        .arg(count);
                    let reply = match (&mut c, &node) {
                        (Conn::Cluster(cc), Some((host, port))) => {
                            let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                                host: host.clone(),
                                port: *port,
                            });
                            cc.route_command(cmd, route)
                                .await
                                .map_err(|e| map_redis_error(e, Duration::from_millis(0)))?
                        }
                        _ => query(&mut c, &cmd).await?,
                    };
                    let (next, keys) = parse_scan(reply)?;
                    for k in keys {
                        if k.starts_with(&pattern) && seen.insert(k.clone()) {
                            out.push(k);
                        }
                    }
                    cursor = next;
                    if cursor == 0 {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// The ids of the stored sessions.
    pub async fn ids(&self) -> StoreResult<Vec<String>> {
        let n = self.0.cfg.prefix.len();
        Ok(self
            .keys()
            .await?
            .into_iter()
            .map(|k| k[n..].to_string())
            .collect())
    }

    pub async fn length(&self) -> StoreResult<usize> {
        Ok(self.keys().await?.len())
    }

    /// `(id, json)` of every alive session. Values are read one key per GET+PTTL, pipelined
    /// (never a multi-key command, so it works on a cluster); a malformed value is an error.
    pub async fn all(&self) -> StoreResult<Vec<(String, String)>> {
        let keys = self.keys().await?;
        let n = self.0.cfg.prefix.len();
        let mut out = Vec::with_capacity(keys.len());
        if self.is_cluster() {
            // keys live in different slots: one GET+PTTL pipeline per key, concurrently
            let found = self
                .per_key(keys, |s, k| async move {
                    let f = s.get_with_ttl(k.clone()).await?;
                    Ok((k, f))
                })
                .await?;
            for (k, f) in found {
                if let Found::Session(json) = f {
                    out.push((k[n..].to_string(), json));
                }
            }
            return Ok(out);
        }
        for chunk in keys.chunks(500) {
            let chunk = chunk.to_vec();
            let found = self
                .run(|mut c| async move {
                    let mut p = redis::pipe();
                    for k in &chunk {
                        p.cmd("GET").arg(k).cmd("PTTL").arg(k);
                    }
                    let replies = query_pipe(&mut c, &p, chunk.len() * 2).await?;
                    let now = expiry::now_ms();
                    let mut it = replies.into_iter();
                    let mut found = Vec::new();
                    for k in chunk {
                        let v = it.next().unwrap_or(Value::Nil);
                        let t = it.next().unwrap_or(Value::Nil);
                        if let Found::Session(json) = decided(&k, v, &t, now)? {
                            found.push((k, json));
                        }
                    }
                    Ok(found)
                })
                .await?;
            out.extend(found.into_iter().map(|(k, j)| (k[n..].to_string(), j)));
        }
        Ok(out)
    }

    /// Deletes every session of this store (one key per DEL, pipelined).
    pub async fn clear(&self) -> StoreResult<()> {
        let keys = self.keys().await?;
        if self.is_cluster() {
            self.per_key(keys, |s, k| async move {
                s.run(|mut c| async move {
                    query(&mut c, redis::cmd("DEL").arg(&k)).await.map(|_| ())
                })
                .await
            })
            .await?;
            return Ok(());
        }
        for chunk in keys.chunks(500) {
            let chunk = chunk.to_vec();
            self.run(|mut c| async move {
                let mut p = redis::pipe();
                for k in &chunk {
                    p.cmd("DEL").arg(k);
                }
                query_pipe(&mut c, &p, chunk.len()).await.map(|_| ())
            })
            .await?;
        }
        Ok(())
    }

    fn is_cluster(&self) -> bool {
        matches!(
            self.0.connector.lock().as_deref(),
            Some(Connector::Cluster { .. })
        )
    }

    /// Runs `f` for every key, up to 256 at a time, each on its own task; the first error
    /// wins. For a cluster, where a pipeline must not cross slots.
    async fn per_key<T, F, Fut>(&self, keys: Vec<String>, f: F) -> StoreResult<Vec<T>>
    where
        T: Send + 'static,
        F: Fn(RedisStore, String) -> Fut,
        Fut: std::future::Future<Output = StoreResult<T>> + Send + 'static,
    {
        let mut out = Vec::with_capacity(keys.len());
        let mut keys = keys.into_iter().peekable();
        while keys.peek().is_some() {
            let handles: Vec<_> = keys
                .by_ref()
                .take(256)
                .map(|k| tokio::spawn(f(self.clone(), k)))
                .collect();
            for h in handles {
                let r = h
                    .await
                    .map_err(|e| StoreError::new(ERR_COMMAND, format!("operation failed: {e}")))?;
                out.push(r?);
            }
        }
        Ok(out)
    }

    /// Runs many single-key operations at once. On a single node they go out as one
    /// pipeline (one write, one read, one timeout); on a cluster each runs on its own (they
    /// may live in different slots). One result per operation, in order.
    pub async fn batch(&self, ops: Vec<Op>) -> Vec<StoreResult<Reply>> {
        if ops.is_empty() {
            return Vec::new();
        }
        if self.is_cluster() || ops.len() == 1 {
            // each on its own, concurrently in this task (on a cluster, the connection
            // multiplexes them per node)
            return futures_util::future::join_all(ops.into_iter().map(|op| self.one(op))).await;
        }
        // one pipeline: what each op sent
        enum Plan {
            Get(String),
            Sent,
            // the script, keys and args: sent again as EVAL if Redis answers NOSCRIPT
            Eval(String, Vec<String>, Vec<String>),
            Nothing,
        }
        let mut p = redis::pipe();
        let mut plans = Vec::with_capacity(ops.len());
        let mut count = 0;
        for op in ops {
            match self.plan(op) {
                Planned::Get(key) => {
                    p.cmd("GET").arg(&key);
                    count += 1;
                    plans.push(Plan::Get(key));
                }
                Planned::Cmd(cmd) => {
                    p.add_command(cmd);
                    count += 1;
                    plans.push(Plan::Sent);
                }
                Planned::Eval(cmd, script, keys, args) => {
                    p.add_command(cmd);
                    count += 1;
                    plans.push(Plan::Eval(script, keys, args));
                }
                Planned::Nothing => plans.push(Plan::Nothing),
            }
        }
        let replies = if count == 0 {
            Ok(Vec::new())
        } else {
            self.run(|mut c| async move { query_pipe(&mut c, &p, count).await })
                .await
        };
        let replies = match replies {
            Ok(r) => r,
            Err(e) => return plans.iter().map(|_| Err(e.clone())).collect(),
        };
        let now = expiry::now_ms();
        let mut it = replies.into_iter();
        let mut recheck = Vec::new();
        let mut noscript = Vec::new();
        let mut out: Vec<StoreResult<Reply>> = plans
            .into_iter()
            .enumerate()
            .map(|(i, plan)| match plan {
                Plan::Nothing => Ok(Reply::Done),
                Plan::Sent => match it.next() {
                    Some(Value::ServerError(e)) => Err(server_error(e)),
                    Some(_) => Ok(Reply::Done),
                    None => Err(StoreError::new(ERR_BAD_DATA, "missing pipeline reply")),
                },
                Plan::Eval(script, keys, args) => match it.next() {
                    Some(Value::ServerError(e)) if is_noscript(&e) => {
                        noscript.push((i, script, keys, args));
                        Ok(Reply::Done)
                    }
                    Some(Value::ServerError(e)) => Err(server_error(e)),
                    Some(v) => script_reply(v).map(Reply::Text),
                    None => Err(StoreError::new(ERR_BAD_DATA, "missing pipeline reply")),
                },
                Plan::Get(key) => {
                    let v = it.next().unwrap_or(Value::Nil);
                    match decide(&key, v, None, now) {
                        Ok(Decision::Is(f)) => Ok(Reply::Found(f)),
                        Ok(Decision::NeedTtl) => {
                            recheck.push((i, key));
                            Ok(Reply::Found(Found::Missing))
                        }
                        Err(e) => Err(e),
                    }
                }
            })
            .collect();
        // sessions past their stored expiry: value and PTTL again, one pipeline for all
        if !recheck.is_empty() {
            let keys: Vec<String> = recheck.iter().map(|(_, k)| k.clone()).collect();
            let again = self
                .run(|mut c| async move {
                    let mut p = redis::pipe();
                    for k in &keys {
                        p.cmd("GET").arg(k).cmd("PTTL").arg(k);
                    }
                    let replies = query_pipe(&mut c, &p, keys.len() * 2).await?;
                    let now = expiry::now_ms();
                    let mut it = replies.into_iter();
                    Ok(keys
                        .iter()
                        .map(|k| {
                            let v = it.next().unwrap_or(Value::Nil);
                            let t = it.next().unwrap_or(Value::Nil);
                            decided(k, v, &t, now)
                        })
                        .collect::<Vec<_>>())
                })
                .await;
            for (n, (i, _)) in recheck.into_iter().enumerate() {
                out[i] = match &again {
                    Ok(found) => found[n].clone().map(Reply::Found),
                    Err(e) => Err(e.clone()),
                };
            }
        }
        // scripts Redis did not have yet (after a restart or SCRIPT FLUSH): EVAL, in order
        for (i, script, keys, args) in noscript {
            out[i] = self.eval_script(script, keys, args).await.map(Reply::Text);
        }
        out
    }

    pub(crate) fn plan(&self, op: Op) -> Planned {
        match op {
            Op::Get { sid } => Planned::Get(self.key(&sid)),
            Op::Set {
                sid,
                json,
                expires,
                ttl,
            } => {
                let ttl = self.ttl_for(expires, ttl);
                let mut cmd;
                if ttl <= 0 {
                    cmd = redis::cmd("DEL");
                    cmd.arg(self.key(&sid));
                } else {
                    cmd = redis::cmd("SET");
                    cmd.arg(self.key(&sid)).arg(json);
                    if !self.0.cfg.disable_ttl {
                        cmd.arg("EX").arg(ttl);
                    }
                }
                Planned::Cmd(cmd)
            }
            Op::Touch { sid, expires, ttl } => {
                if self.0.cfg.disable_touch || self.0.cfg.disable_ttl {
                    return Planned::Nothing;
                }
                let ttl = self.ttl_for(expires, ttl);
                let mut cmd = redis::cmd("EXPIRE");
                cmd.arg(self.key(&sid)).arg(ttl);
                Planned::Cmd(cmd)
            }
            Op::Destroy { sid } => {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(self.key(&sid));
                Planned::Cmd(cmd)
            }
            Op::Eval {
                sha,
                script,
                keys,
                args,
            } => {
                let cmd = script_cmd("EVALSHA", &sha, &keys, &args);
                Planned::Eval(cmd, script, keys, args)
            }
        }
    }

    /// One operation on its own.
    pub async fn one(&self, op: Op) -> StoreResult<Reply> {
        match op {
            Op::Get { sid } => self.get(&sid).await.map(Reply::Found),
            Op::Set {
                sid,
                json,
                expires,
                ttl,
            } => self
                .set(&sid, json, expires, ttl)
                .await
                .map(|_| Reply::Done),
            Op::Touch { sid, expires, ttl } => {
                self.touch(&sid, expires, ttl).await.map(|_| Reply::Done)
            }
            Op::Destroy { sid } => self.destroy(&sid).await.map(|_| Reply::Done),
            Op::Eval {
                sha,
                script,
                keys,
                args,
            } => self.eval(sha, script, keys, args).await.map(Reply::Text),
        }
    }

    /// Releases the connection; later operations fail with `ERR_REDIS_CLOSED`.
    pub fn close(&self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.connector.lock().take();
        self.0.events.lock().take();
    }

    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::Acquire)
    }
}

/// `EVALSHA sha n keys… args…` or `EVAL script n keys… args…`.
pub(crate) fn script_cmd(verb: &str, script: &str, keys: &[String], args: &[String]) -> Cmd {
    let mut cmd = redis::cmd(verb);
    cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
    cmd
}

pub(crate) fn is_noscript(e: &ServerError) -> bool {
    matches!(e.kind(), Some(ServerErrorKind::NoScript))
        || format!("{e:?}").to_ascii_lowercase().contains("noscript")
}

/// A script's reply as text (see `RedisStore::eval`).
pub(crate) fn script_reply(v: Value) -> StoreResult<Option<String>> {
    match v {
        Value::Nil => Ok(None),
        Value::Okay => Ok(Some("OK".into())),
        Value::Int(i) => Ok(Some(i.to_string())),
        Value::SimpleString(s) => Ok(Some(s)),
        Value::BulkString(b) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| StoreError::new(ERR_BAD_DATA, "script reply is not valid UTF-8")),
        other => Err(StoreError::new(
            ERR_BAD_DATA,
            format!("unexpected script reply: {other:?}"),
        )),
    }
}

async fn query(c: &mut Conn, cmd: &Cmd) -> StoreResult<Value> {
    let r = match c {
        Conn::Single(m) => m.req_packed_command(cmd).await,
        Conn::Cluster(cc) => cc.req_packed_command(cmd).await,
    };
    let v = r.map_err(|e| map_redis_error(e, Duration::from_millis(0)))?;
    if let Value::ServerError(e) = v {
        return Err(server_error(e));
    }
    Ok(v)
}

async fn query_pipe(c: &mut Conn, p: &redis::Pipeline, n: usize) -> StoreResult<Vec<Value>> {
    let r = match c {
        Conn::Single(m) => m.req_packed_commands(p, 0, n).await,
        Conn::Cluster(cc) => cc.req_packed_commands(p, 0, n).await,
    };
    r.map_err(|e| map_redis_error(e, Duration::from_millis(0)))
}

fn parse_scan(v: Value) -> StoreResult<(u64, Vec<String>)> {
    let bad = || StoreError::new(ERR_BAD_DATA, "unexpected SCAN reply");
    let Value::Array(mut parts) = v else {
        return Err(bad());
    };
    if parts.len() != 2 {
        return Err(bad());
    }
    let keys = parts.pop().ok_or_else(bad)?;
    let cursor = parts.pop().ok_or_else(bad)?;
    let cursor = match cursor {
        Value::BulkString(b) => std::str::from_utf8(&b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?,
        Value::Int(i) => i as u64,
        _ => return Err(bad()),
    };
    let Value::Array(items) = keys else {
        return Err(bad());
    };
    let keys = items
        .into_iter()
        .filter_map(|k| match k {
            Value::BulkString(b) => String::from_utf8(b).ok(),
            Value::SimpleString(s) => Some(s),
            _ => None,
        })
        .collect();
    Ok((cursor, keys))
}

/// The masters of a cluster, from `CLUSTER SHARDS`-free `CLUSTER SLOTS` (Redis ≥ 3).
async fn masters(cc: &mut ClusterConnection) -> StoreResult<Vec<(String, u16)>> {
    let v = cc
        .req_packed_command(&redis::cmd("CLUSTER").arg("SLOTS").clone())
        .await
        .map_err(|e| map_redis_error(e, Duration::from_millis(0)))?;
    let bad = || StoreError::new(ERR_BAD_DATA, "unexpected CLUSTER SLOTS reply");
    let Value::Array(ranges) = v else {
        return Err(bad());
    };
    let mut out: Vec<(String, u16)> = Vec::new();
    for r in ranges {
        let Value::Array(parts) = r else {
            return Err(bad());
        };
        let Some(Value::Array(master)) = parts.get(2) else {
            return Err(bad());
        };
        let host = match master.first() {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(Value::SimpleString(s)) => s.clone(),
            _ => return Err(bad()),
        };
        let port = match master.get(1) {
            Some(Value::Int(p)) => u16::try_from(*p).map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        if !out.iter().any(|(h, p)| *h == host && *p == port) {
            out.push((host, port));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_glob_characters() {
        assert_eq!(escape_glob("sess:"), "sess:");
        assert_eq!(escape_glob("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f");
    }

    #[test]
    fn parses_json_dates() {
        assert_eq!(parse_iso_date("1970-01-01T00:00:00.000Z"), Some(0.0));
        assert_eq!(
            parse_iso_date("2026-11-25T20:11:28.123Z"),
            Some(1_795_637_488_123.0)
        );
        assert_eq!(
            parse_iso_date("2000-02-29T12:00:00Z"),
            Some(951_825_600_000.0)
        );
        assert_eq!(parse_iso_date("1969-12-31T23:59:59.999Z"), Some(-1.0));
        assert_eq!(parse_iso_date("+275760-09-13T00:00:00.000Z"), Some(8.64e15));
        assert_eq!(parse_iso_date("2026-13-01T00:00:00.000Z"), None);
        assert_eq!(parse_iso_date("Wed, 25 Nov 2026 20:11:28 GMT"), None);
        assert_eq!(parse_iso_date(""), None);
        assert_eq!(parse_iso_date("2026-11-25T20:11:28.1234Z"), None);
    }

    #[test]
    fn reads_stored_expiry() {
        let j = r#"{"cookie":{"originalMaxAge":1000,"expires":"1970-01-01T00:00:01.000Z"},"n":1}"#;
        assert_eq!(stored_expiry(j), Ok(Some(1000.0)));
        assert_eq!(stored_expiry(r#"{"cookie":{"expires":null}}"#), Ok(None));
        assert_eq!(stored_expiry(r#"{"a":[1,{"b":2}]}"#), Ok(None));
        assert!(stored_expiry("{not json").is_err());
        assert!(stored_expiry("[1]").is_err());
        assert!(stored_expiry(r#"{"a":1} x"#).is_err());
    }

    #[test]
    fn served_rules() {
        // stored expiry ahead: served whatever the key says
        assert!(is_served(Some(2000.0), 500, 1000.0));
        // no stored expiry: the key decides (it exists)
        assert!(is_served(None, -1, 1000.0));
        // untouched key in its last (rounded-up) second: not served
        assert!(!is_served(Some(1000.0), 900, 1000.0));
        assert!(!is_served(Some(1000.0), 999, 1000.0));
        // touched: key lives on well past the stored expiry: served
        assert!(is_served(Some(1000.0), 60_000, 1000.0));
        assert!(is_served(Some(1000.0), 1000, 1000.0));
        // no TTL on the key (disableTTL): the stored expiry decides
        assert!(!is_served(Some(1000.0), -1, 1000.0));
        assert!(is_served(Some(1001.0), -1, 1000.0));
    }

    #[test]
    fn decides_from_get_and_pttl() {
        let j = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        assert_eq!(
            decided("k", Value::Nil, &Value::Int(-2), 0.0),
            Ok(Found::Missing)
        );
        assert_eq!(
            decided("k", j(""), &Value::Int(-1), 0.0),
            Ok(Found::Missing)
        );
        assert_eq!(
            decided("k", j("{}"), &Value::Int(5000), 0.0),
            Ok(Found::Session("{}".into()))
        );
        // past its stored expiry, GET alone cannot decide; with PTTL it can
        let old = r#"{"cookie":{"expires":"1970-01-01T00:00:01.000Z"}}"#;
        assert!(matches!(
            decide("k", j(old), None, 5000.0),
            Ok(Decision::NeedTtl)
        ));
        assert!(matches!(
            decide("k", j(old), None, 500.0),
            Ok(Decision::Is(Found::Session(_)))
        ));
        assert_eq!(
            decided("k", j(old), &Value::Int(100), 1500.0),
            Ok(Found::Missing)
        );
        assert_eq!(
            decided("k", j(old), &Value::Int(60_000), 5000.0),
            Ok(Found::Session(old.into()))
        );
        let e = decided("k", j("{bad"), &Value::Int(5000), 0.0).unwrap_err();
        assert_eq!(e.code, ERR_BAD_DATA);
        let e = decided("k", Value::BulkString(vec![0xff]), &Value::Int(5000), 0.0).unwrap_err();
        assert_eq!(e.code, ERR_BAD_DATA);
    }

    #[test]
    fn cas_op_keys_ttl_and_arguments() {
        let s = RedisStore::new(Config::default()).unwrap();
        let Op::Eval {
            sha,
            script,
            keys,
            args,
        } = s.cas_op(
            "a{b}",
            Cas {
                expected: Some("{}".into()),
                json: "{\"n\":1}".into(),
                ttl: Some(7),
                ..Cas::default()
            },
        )
        else {
            panic!("not an eval")
        };
        assert_eq!(script, CAS_SCRIPT);
        assert_eq!(sha, redis::Script::new(CAS_SCRIPT).get_hash());
        assert_eq!(keys, ["sess:a{b}", "{sess:a{b}}:tomb", "{sess:a{b}}:lock"]);
        assert_eq!(args, ["{}", "{\"n\":1}", "7", "", "1"]);
        // nothing expected, a lock token, the TTL from cookie.expires
        let in_90s = expiry::now_ms() + 89_500.0;
        let Op::Eval { args, .. } = s.cas_op(
            "x",
            Cas {
                json: "{}".into(),
                expires: Some(in_90s),
                token: Some("t".into()),
                ..Cas::default()
            },
        ) else {
            panic!("not an eval")
        };
        assert_eq!(args, ["", "{}", "90", "t", ""]);
        // disableTTL: no TTL at all
        let s = RedisStore::new(Config {
            disable_ttl: true,
            ..Config::default()
        })
        .unwrap();
        let Op::Eval { args, .. } = s.cas_op(
            "x",
            Cas {
                json: "{}".into(),
                ttl: Some(5),
                ..Cas::default()
            },
        ) else {
            panic!("not an eval")
        };
        assert_eq!(args[2], "");
    }

    #[test]
    fn closed_store_refuses() {
        let s = RedisStore::new(Config::default()).unwrap();
        s.close();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt.block_on(s.get("x")).unwrap_err();
        assert_eq!(e.code, ERR_CLOSED);
    }

    #[test]
    fn closed_port_is_unavailable_within_timeout() {
        // a port nothing listens on: bind, take the number, release
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = Config {
            target: Target::Single(format!("redis://127.0.0.1:{port}")),
            command_timeout: Duration::from_millis(1500),
            ..Config::default()
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let s = rt.block_on(async { RedisStore::new(cfg).unwrap() });
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        s.on_event(move |e| ev.lock().push(e));
        let t = std::time::Instant::now();
        let e = rt.block_on(s.get("x")).unwrap_err();
        assert!(e.is_outage(), "{e}");
        assert!(t.elapsed() < Duration::from_millis(5000));
        assert!(matches!(events.lock().first(), Some(Event::Down(_))));
        s.close();
    }
}
