//! The memory store core: sessions kept off the JS heap in a sharded hash map with a global
//! LRU order, coded with a learned dictionary, expired in the background by one sweeper
//! thread for the whole process, and optionally shared by name across every worker thread
//! of the process. No napi types here.

mod codec;
mod json;
mod shard;

use crate::expiry::is_expired;
use codec::Dict;
use parking_lot::{Condvar, Mutex};
use shard::Shard;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

const SHARDS: usize = 16;
/// Sessions sampled before a store learns its dictionary.
const SAMPLES: usize = 32;

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Most sessions kept; the least recently used go first.
    pub max: Option<usize>,
    /// Lifetime in ms of a session without `cookie.expires`; `None` keeps it until deleted.
    pub ttl_ms: Option<f64>,
    /// How often the background sweeper removes expired sessions, in ms.
    pub sweep_ms: f64,
    /// Code sessions with a learned dictionary (smaller, a little slower to write).
    pub compress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max: None,
            ttl_ms: None,
            sweep_ms: 60_000.0,
            compress: true,
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum Error {
    /// the store was closed
    Closed,
    /// a shared store of this name exists with other options
    SharedOptions(Options),
}

/// The outcome of [`MemoryStore::cas`].
#[derive(Debug, PartialEq)]
pub enum Cas {
    /// The new JSON is stored.
    Stored,
    /// A session was expected and there is none (destroyed, or expired).
    Gone,
    /// The stored JSON is not the expected one; it is here, and nothing was written.
    Conflict(Vec<u8>),
}

struct Learner {
    samples: Vec<u8>,
    count: usize,
}

pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    tail_stamps: Box<[AtomicU64]>,
    len: AtomicUsize,
    clock: AtomicU64,
    hasher: std::collections::hash_map::RandomState,
    opts: Options,
    closed: AtomicBool,
    /// open handles (JS objects) on this store; the last one to close closes it
    handles: AtomicUsize,
    shared: Option<String>,
    learned: OnceLock<Dict>,
    learner: Mutex<Learner>,
    last_sweep: Mutex<f64>,
}

impl MemoryStore {
    pub fn new(opts: Options) -> Arc<MemoryStore> {
        Self::create(opts, None)
    }

    fn create(opts: Options, shared: Option<String>) -> Arc<MemoryStore> {
        let store = Arc::new(MemoryStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            tail_stamps: (0..SHARDS).map(|_| AtomicU64::new(u64::MAX)).collect(),
            len: AtomicUsize::new(0),
            clock: AtomicU64::new(0),
            hasher: Default::default(),
            opts,
            closed: AtomicBool::new(false),
            handles: AtomicUsize::new(1),
            shared,
            learned: OnceLock::new(),
            learner: Mutex::new(Learner {
                samples: codec::SEED.as_bytes().to_vec(),
                count: 0,
            }),
            last_sweep: Mutex::new(crate::expiry::now_ms()),
        });
        sweeper::register(&store);
        store
    }

    /// The store shared under `name` in this process, created with `opts` if there is none
    /// open. Each call is one handle; `close` it once.
    pub fn shared(name: &str, opts: Options) -> Result<Arc<MemoryStore>, Error> {
        let mut reg = registry().lock();
        if let Some(store) = reg.get(name).and_then(Weak::upgrade) {
            // a handle may be closing concurrently: only join while handles > 0
            let joined = store
                .handles
                .fetch_update(AcqRel, Acquire, |h| (h > 0).then_some(h + 1))
                .is_ok();
            if joined && !store.closed.load(Acquire) {
                if store.opts != opts {
                    store.release();
                    return Err(Error::SharedOptions(store.opts.clone()));
                }
                return Ok(store);
            }
        }
        let store = Self::create(opts, Some(name.to_string()));
        reg.insert(name.to_string(), Arc::downgrade(&store));
        Ok(store)
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Acquire)
    }

    /// Gives up one handle; the last one closes the store (frees its sessions, stops its
    /// sweeping, and frees its shared name). Returns true when this closed the store.
    pub fn release(&self) -> bool {
        let prev = self
            .handles
            .fetch_update(AcqRel, Acquire, |h| h.checked_sub(1));
        if prev != Ok(1) {
            return false;
        }
        if let Some(name) = &self.shared {
            let mut reg = registry().lock();
            if reg
                .get(name)
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), self as *const _))
            {
                reg.remove(name);
            }
        }
        self.closed.store(true, Release);
        self.clear_all();
        true
    }

    fn check(&self) -> Result<(), Error> {
        if self.closed.load(Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn locate(&self, sid: &str) -> (usize, u64) {
        let h = self.hasher.hash_one(sid.as_bytes());
        ((h >> 59) as usize % SHARDS, h)
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Relaxed)
    }

    fn sync_tail(&self, i: usize, shard: &Shard) {
        self.tail_stamps[i].store(shard.tail_stamp(), Release);
    }

    fn dict(&self, id: u8) -> Option<&Dict> {
        match id {
            1 => Some(&codec::SEED_DICT),
            2 => self.learned.get(),
            _ => None,
        }
    }

    fn encode(&self, json: &[u8]) -> Vec<u8> {
        if !self.opts.compress {
            let mut v = Vec::with_capacity(json.len() + 1);
            v.push(codec::RAW);
            v.extend_from_slice(json);
            return v;
        }
        match self.learned.get() {
            Some(d) => codec::encode(json, d),
            None => {
                self.learn(json);
                codec::encode(json, self.learned.get().unwrap_or(&codec::SEED_DICT))
            }
        }
    }

    fn learn(&self, json: &[u8]) {
        let mut l = self.learner.lock();
        if self.learned.get().is_some() || json.len() > codec::MAX_DICT / 4 {
            return;
        }
        l.samples.extend_from_slice(json);
        l.count += 1;
        if l.count >= SAMPLES || l.samples.len() >= codec::MAX_DICT {
            let _ = self.learned.set(Dict::new(2, &l.samples));
            l.samples = Vec::new();
        }
    }

    fn decode(&self, data: &[u8]) -> Vec<u8> {
        // every coded session was made by this store with a dictionary it still has
        codec::decode(data, self.dict(codec::dict_id(data))).unwrap_or_default()
    }

    /// The session's JSON, or `None` when missing or expired (an expired one is removed).
    pub fn get(&self, sid: &str, now: f64) -> Result<Option<Vec<u8>>, Error> {
        self.check()?;
        let (i, h) = self.locate(sid);
        let mut shard = self.shards[i].lock();
        let Some(n) = shard.get(sid.as_bytes(), h) else {
            return Ok(None);
        };
        if is_expired(Some(shard.node(n).expires), now) {
            shard.remove_node(n);
            self.len.fetch_sub(1, Relaxed);
            self.sync_tail(i, &shard);
            return Ok(None);
        }
        let stamp = self.tick();
        shard.bump(n, stamp);
        self.sync_tail(i, &shard);
        let data = shard.node(n).data();
        if codec::dict_id(data) == codec::RAW {
            return Ok(Some(data[1..].to_vec()));
        }
        let data = data.to_vec();
        drop(shard);
        Ok(Some(self.decode(&data)))
    }

    /// When a session stored with cookie expiry `expires` (ms) expires in this store.
    pub fn expiry_of(&self, expires: Option<f64>, now: f64) -> f64 {
        match (expires.filter(|e| !e.is_nan()), self.opts.ttl_ms) {
            (Some(e), _) => e,
            (None, Some(ttl)) => now + ttl,
            (None, None) => f64::INFINITY,
        }
    }

    /// Stores `json` under `sid`; `expires` is the session's `cookie.expires` in ms.
    pub fn set(&self, sid: &str, json: &[u8], expires: Option<f64>, now: f64) -> Result<(), Error> {
        self.check()?;
        let exp = self.expiry_of(expires, now);
        let (i, h) = self.locate(sid);
        if is_expired(Some(exp), now) {
            // storing an already expired session is deleting it
            self.destroy(sid)?;
            return Ok(());
        }
        let data = self.encode(json);
        let added = {
            let mut shard = self.shards[i].lock();
            let stamp = self.tick();
            let added = shard.upsert(sid.as_bytes(), h, &data, exp, stamp);
            self.sync_tail(i, &shard);
            added
        };
        if added {
            self.len.fetch_add(1, Relaxed);
            self.evict();
        }
        Ok(())
    }

    /// Compare-and-set under the shard lock: stores `json` (as [`set`](Self::set) does) if the
    /// stored JSON is `expected`, or, with `expected` `None`, if there is no session. Atomic
    /// for every handle on the store, in every worker thread.
    pub fn cas(
        &self,
        sid: &str,
        expected: Option<&[u8]>,
        json: &[u8],
        expires: Option<f64>,
        now: f64,
    ) -> Result<Cas, Error> {
        self.check()?;
        let exp = self.expiry_of(expires, now);
        let (i, h) = self.locate(sid);
        let data = self.encode(json);
        let mut shard = self.shards[i].lock();
        let mut current = shard.get(sid.as_bytes(), h);
        if let Some(n) = current {
            if is_expired(Some(shard.node(n).expires), now) {
                shard.remove_node(n);
                self.len.fetch_sub(1, Relaxed);
                self.sync_tail(i, &shard);
                current = None;
            }
        }
        match (current, expected) {
            (None, Some(_)) => return Ok(Cas::Gone),
            (Some(n), expected) => {
                let data = shard.node(n).data();
                let stored: Cow<[u8]> = if codec::dict_id(data) == codec::RAW {
                    Cow::Borrowed(&data[1..])
                } else {
                    Cow::Owned(self.decode(data))
                };
                if expected != Some(&*stored) {
                    return Ok(Cas::Conflict(stored.into_owned()));
                }
            }
            (None, None) => {}
        }
        if is_expired(Some(exp), now) {
            // storing an already expired session is deleting it
            if shard.remove(sid.as_bytes(), h) {
                self.len.fetch_sub(1, Relaxed);
                self.sync_tail(i, &shard);
            }
            return Ok(Cas::Stored);
        }
        let stamp = self.tick();
        let added = shard.upsert(sid.as_bytes(), h, &data, exp, stamp);
        self.sync_tail(i, &shard);
        drop(shard);
        if added {
            self.len.fetch_add(1, Relaxed);
            self.evict();
        }
        Ok(Cas::Stored)
    }

    /// Replaces the stored `cookie` with `cookie_json` and moves the expiry; false (and
    /// nothing done) when the session is missing or expired.
    pub fn touch(
        &self,
        sid: &str,
        cookie_json: &[u8],
        expires: Option<f64>,
        now: f64,
    ) -> Result<bool, Error> {
        self.check()?;
        let (i, h) = self.locate(sid);
        let mut shard = self.shards[i].lock();
        let Some(n) = shard.get(sid.as_bytes(), h) else {
            return Ok(false);
        };
        if is_expired(Some(shard.node(n).expires), now) {
            shard.remove_node(n);
            self.len.fetch_sub(1, Relaxed);
            self.sync_tail(i, &shard);
            return Ok(false);
        }
        let exp = self.expiry_of(expires, now);
        let stamp = self.tick();
        let old = self.decode(shard.node(n).data());
        match json::replace_cookie(&old, cookie_json) {
            Some(new) => {
                let data = self.encode(&new);
                shard.update(n, &data, exp, stamp);
            }
            None => {
                shard.set_expires(n, exp);
                shard.bump(n, stamp);
            }
        }
        if is_expired(Some(exp), now) {
            shard.remove_node(n);
            self.len.fetch_sub(1, Relaxed);
        }
        self.sync_tail(i, &shard);
        Ok(true)
    }

    pub fn destroy(&self, sid: &str) -> Result<(), Error> {
        self.check()?;
        let (i, h) = self.locate(sid);
        let mut shard = self.shards[i].lock();
        if shard.remove(sid.as_bytes(), h) {
            self.len.fetch_sub(1, Relaxed);
            self.sync_tail(i, &shard);
        }
        Ok(())
    }

    /// Evicts least recently used sessions while over `max`.
    fn evict(&self) {
        let Some(max) = self.opts.max else { return };
        // reserve one eviction at a time, so racing writers do not evict too many
        while self
            .len
            .fetch_update(AcqRel, Acquire, |l| (l > max).then(|| l - 1))
            .is_ok()
        {
            let mut done = false;
            for _ in 0..4 {
                let i = (0..SHARDS)
                    .min_by_key(|&i| self.tail_stamps[i].load(Acquire))
                    .unwrap_or(0);
                let mut shard = self.shards[i].lock();
                if let Some(n) = shard.tail() {
                    shard.remove_node(n);
                    self.sync_tail(i, &shard);
                    done = true;
                    break;
                }
            }
            if !done {
                self.len.fetch_add(1, Relaxed);
                break;
            }
        }
    }

    /// Removes expired sessions; returns how many.
    pub fn sweep(&self, now: f64) -> usize {
        let mut removed = 0;
        for (i, s) in self.shards.iter().enumerate() {
            let mut shard = s.lock();
            let r = shard.sweep(now);
            if r > 0 {
                self.len.fetch_sub(r, Relaxed);
                self.sync_tail(i, &shard);
                removed += r;
            }
        }
        removed
    }

    /// Number of live sessions (expired ones are removed first).
    pub fn len(&self, now: f64) -> Result<usize, Error> {
        self.check()?;
        self.sweep(now);
        Ok(self.shards.iter().map(|s| s.lock().len).sum())
    }

    pub fn is_empty(&self, now: f64) -> Result<bool, Error> {
        self.len(now).map(|l| l == 0)
    }

    /// Calls `f(sid, json)` for every live session, most recently used first within a
    /// shard (expired ones are removed first).
    pub fn for_each(&self, now: f64, mut f: impl FnMut(&str, &[u8])) -> Result<(), Error> {
        self.check()?;
        self.sweep(now);
        for s in self.shards.iter() {
            let entries: Vec<(Vec<u8>, Vec<u8>)> = {
                let shard = s.lock();
                shard
                    .iter()
                    .map(|(_, n)| (n.key().to_vec(), n.data().to_vec()))
                    .collect()
            };
            for (k, d) in entries {
                let key = std::str::from_utf8(&k).unwrap_or_default();
                f(key, &self.decode(&d));
            }
        }
        Ok(())
    }

    /// Every live sid.
    pub fn ids(&self, now: f64) -> Result<Vec<String>, Error> {
        self.check()?;
        self.sweep(now);
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let shard = s.lock();
            out.extend(
                shard
                    .iter()
                    .map(|(_, n)| String::from_utf8_lossy(n.key()).into_owned()),
            );
        }
        Ok(out)
    }

    /// `{"sid":session,…}` of every live session, as JSON text.
    pub fn all_json(&self, now: f64) -> Result<String, Error> {
        let mut out = String::from("{");
        self.for_each(now, |sid, json| {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(sid).unwrap_or_default());
            out.push(':');
            out.push_str(std::str::from_utf8(json).unwrap_or("null"));
        })?;
        out.push('}');
        Ok(out)
    }

    pub fn clear(&self) -> Result<(), Error> {
        self.check()?;
        self.clear_all();
        Ok(())
    }

    fn clear_all(&self) {
        for (i, s) in self.shards.iter().enumerate() {
            let mut shard = s.lock();
            let n = shard.clear();
            self.len.fetch_sub(n, Relaxed);
            self.sync_tail(i, &shard);
        }
    }

    /// Bytes held for session data (keys + coded sessions), for diagnostics.
    pub fn data_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().iter().map(|(_, n)| n.blob.len()).sum::<usize>())
            .sum()
    }
}

fn registry() -> &'static Mutex<HashMap<String, Weak<MemoryStore>>> {
    static REG: OnceLock<Mutex<HashMap<String, Weak<MemoryStore>>>> = OnceLock::new();
    REG.get_or_init(Default::default)
}

/// One background thread for the process sweeps every open store on its own period. It
/// holds stores weakly, exits when none is left, and is restarted by the next store.
mod sweeper {
    use super::*;

    struct State {
        stores: Vec<Weak<MemoryStore>>,
        running: bool,
    }

    fn state() -> &'static (Mutex<State>, Condvar) {
        static S: OnceLock<(Mutex<State>, Condvar)> = OnceLock::new();
        S.get_or_init(|| {
            (
                Mutex::new(State {
                    stores: Vec::new(),
                    running: false,
                }),
                Condvar::new(),
            )
        })
    }

    pub fn register(store: &Arc<MemoryStore>) {
        let (m, cv) = state();
        let mut st = m.lock();
        st.stores.push(Arc::downgrade(store));
        if !st.running {
            let spawned = std::thread::Builder::new()
                .name("native-session-sweeper".into())
                .spawn(run);
            st.running = spawned.is_ok();
        }
        cv.notify_all();
    }

    fn run() {
        let (m, cv) = state();
        loop {
            let mut due = Vec::new();
            let mut wait_ms: f64 = 1000.0;
            {
                let mut st = m.lock();
                st.stores
                    .retain(|w| w.upgrade().is_some_and(|s| !s.is_closed()));
                if st.stores.is_empty() {
                    st.running = false;
                    return;
                }
                let now = crate::expiry::now_ms();
                for s in st.stores.iter().filter_map(Weak::upgrade) {
                    let last = *s.last_sweep.lock();
                    let left = last + s.opts.sweep_ms - now;
                    if left <= 0.0 {
                        due.push(s);
                    } else {
                        wait_ms = wait_ms.min(left);
                    }
                }
                if due.is_empty() {
                    cv.wait_for(&mut st, Duration::from_millis(wait_ms.max(1.0) as u64));
                    continue;
                }
            }
            for s in due {
                let now = crate::expiry::now_ms();
                *s.last_sweep.lock() = now;
                s.sweep(now);
            }
        }
    }

    /// Whether the sweeper thread is running (for tests).
    #[allow(dead_code)]
    pub fn running() -> bool {
        state().0.lock().running
    }
}

#[cfg(test)]
mod tests;
