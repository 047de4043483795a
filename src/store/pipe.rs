//! The Redis store's operations without I/O: a pipeline whose socket the caller owns.
//!
//! `RedisStore::batch` runs a tick's operations on tokio; every round trip there costs two
//! cross-thread wake-ups. A `Pipe` does the same protocol work for a socket the caller
//! drives on its own thread (lib/redis-store.js: a `net.Socket` on Node's thread): queue
//! operations, `take()` the bytes to write, `feed()` the bytes read and get the finished
//! operations back. Commands, replies, expiry rules and errors are the ones of
//! [`RedisStore`] (the same `plan` and `decide`), so both paths store the same bytes.
//!
//! Redis answers in the order commands were written, so the pipe keeps one expectation per
//! command written, in order. Follow-ups (GET + PTTL for a session past its stored expiry,
//! EVAL when Redis answers NOSCRIPT) are queued while feeding; `take()` returns them.

use std::collections::VecDeque;

use redis::{Cmd, Value};

use super::redis::{
    cas_sha, decide, decided, is_noscript, script_cmd, script_reply, server_error, Cas, Decision,
    Op, Planned, RedisStore, Reply, StoreError, StoreResult, CAS_SCRIPT, ERR_AUTH, ERR_BAD_DATA,
    ERR_COMMAND,
};
use crate::expiry;

/// What the reply to one written command completes.
enum Expect {
    /// AUTH / SELECT sent on connect; an error reply breaks the connection.
    Handshake,
    Get(u32, String),
    /// GET of a session past its stored expiry; the PTTL's reply follows.
    RecheckGet,
    RecheckTtl(u32, String, Value),
    Cmd(u32),
    /// EVALSHA of a registered script (its index); on NOSCRIPT, EVAL.
    Script(u32, usize, Vec<String>, Vec<String>),
    Eval(u32),
    /// An eval of a script index never registered: fails when its PING is answered.
    Unknown(u32),
}

/// The result of feeding bytes: the finished operations and, if the connection can no
/// longer be used (a failed handshake, a reply that is not RESP), why. The caller then
/// closes the socket and calls [`Pipe::fail`].
pub struct Fed {
    pub done: Vec<(u32, StoreResult<Reply>)>,
    pub broken: Option<StoreError>,
}

pub struct Pipe {
    store: RedisStore,
    /// AUTH / SELECT for a new connection.
    hello: Vec<Cmd>,
    /// Bytes not yet taken, and how many expectations they hold.
    out: Vec<u8>,
    unsent: usize,
    waiting: VecDeque<Expect>,
    input: Vec<u8>,
    sent: u64,
    received: u64,
    /// Registered scripts: SHA-1 and text (see [`Pipe::script`]).
    scripts: Vec<(String, String)>,
    /// The index of [`CAS_SCRIPT`] among them, once registered.
    cas: Option<usize>,
}

/// A RESP bulk string.
fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

impl Pipe {
    /// A pipe for `store`'s single node (see [`RedisStore::direct_target`]), which sends
    /// `AUTH` and `SELECT` first on each connection when the URL asks for them.
    pub fn new(store: RedisStore, username: Option<&str>, password: Option<&str>, db: i64) -> Self {
        let mut hello = Vec::new();
        if let Some(pw) = password {
            let mut c = redis::cmd("AUTH");
            if let Some(u) = username {
                c.arg(u);
            }
            c.arg(pw);
            hello.push(c);
        }
        if db != 0 {
            let mut c = redis::cmd("SELECT");
            c.arg(db);
            hello.push(c);
        }
        Pipe {
            store,
            hello,
            out: Vec::new(),
            unsent: 0,
            waiting: VecDeque::new(),
            input: Vec::new(),
            sent: 0,
            received: 0,
            scripts: Vec::new(),
            cas: None,
        }
    }

    fn write(&mut self, cmd: &Cmd, expect: Expect) {
        cmd.write_packed_command(&mut self.out);
        self.unsent += 1;
        self.waiting.push_back(expect);
    }

    /// Queues one operation (its bytes wait for [`take`](Self::take)).
    pub fn push(&mut self, id: u32, op: Op) {
        if let Op::Eval {
            sha,
            script,
            keys,
            args,
        } = op
        {
            let i = self.script(sha, script);
            return self.eval(id, i, keys, args);
        }
        match self.store.plan(op) {
            Planned::Get(key) => {
                // the hot one, written directly (what `Cmd` would write)
                self.out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
                bulk(&mut self.out, key.as_bytes());
                self.unsent += 1;
                self.waiting.push_back(Expect::Get(id, key));
            }
            Planned::Cmd(cmd) => self.write(&cmd, Expect::Cmd(id)),
            // (not reached: scripts are queued by `eval` above)
            Planned::Eval(cmd, ..) => self.write(&cmd, Expect::Eval(id)),
            // nothing to do; a PING keeps the answer in order with the rest
            Planned::Nothing => self.ping(id),
        }
    }

    /// Registers a Lua script once (its SHA-1 and text) and gives its index for
    /// [`eval`](Self::eval), so that each call carries only keys and arguments.
    pub fn script(&mut self, sha: String, text: String) -> usize {
        if let Some(i) = self.scripts.iter().position(|(s, _)| *s == sha) {
            return i;
        }
        self.scripts.push((sha, text));
        self.scripts.len() - 1
    }

    /// Queues a registered script (EVALSHA; EVAL when Redis answers NOSCRIPT): its reply as
    /// text, as [`Op::Eval`]'s. An unknown index fails the operation.
    pub fn eval(&mut self, id: u32, script: usize, keys: Vec<String>, args: Vec<String>) {
        let Some((sha, _)) = self.scripts.get(script) else {
            // keeps the answer in order with the rest; the reply is replaced by the error
            self.write(&redis::cmd("PING"), Expect::Unknown(id));
            return;
        };
        // EVALSHA sha n keys… args…, written directly (what `script_cmd` would write)
        let out = &mut self.out;
        out.push(b'*');
        out.extend_from_slice((3 + keys.len() + args.len()).to_string().as_bytes());
        out.extend_from_slice(b"\r\n$7\r\nEVALSHA\r\n");
        bulk(out, sha.as_bytes());
        bulk(out, keys.len().to_string().as_bytes());
        for a in keys.iter().chain(&args) {
            bulk(out, a.as_bytes());
        }
        self.unsent += 1;
        self.waiting
            .push_back(Expect::Script(id, script, keys, args));
    }

    /// Queues lib/merge.js's compare-and-set of `sid` ([`CAS_SCRIPT`], registered once).
    pub fn cas(&mut self, id: u32, sid: &str, cas: Cas) {
        let i = match self.cas {
            Some(i) => i,
            None => {
                let i = self.script(cas_sha().to_string(), CAS_SCRIPT.to_string());
                self.cas = Some(i);
                i
            }
        };
        let (keys, args) = self.store.cas_parts(sid, cas);
        self.eval(id, i, keys, args);
    }

    /// Queues a PING (Redis answers: it is reachable).
    pub fn ping(&mut self, id: u32) {
        self.write(&redis::cmd("PING"), Expect::Cmd(id));
    }

    /// The bytes to write, if any, handed to `f` (the pipe keeps its buffer).
    pub fn take_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if self.out.is_empty() {
            return None;
        }
        self.sent += self.unsent as u64;
        self.unsent = 0;
        let r = f(&self.out);
        self.out.clear();
        Some(r)
    }

    #[cfg(test)]
    pub fn take(&mut self) -> Option<Vec<u8>> {
        self.take_with(<[u8]>::to_vec)
    }

    /// A new connection is up: the handshake and then everything queued.
    pub fn start_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if !self.hello.is_empty() {
            let mut bytes = Vec::new();
            for c in &self.hello {
                c.write_packed_command(&mut bytes);
                self.waiting.push_front(Expect::Handshake);
            }
            self.sent += self.hello.len() as u64;
            bytes.extend_from_slice(&self.out);
            self.out = bytes;
        }
        self.take_with(f)
    }

    #[cfg(test)]
    pub fn start(&mut self) -> Option<Vec<u8>> {
        self.start_with(<[u8]>::to_vec)
    }

    /// Replies expected so far for written commands, and replies read: operations written
    /// up to `sent()` are answered once `received()` reaches it.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// Operations queued or in flight.
    pub fn pending(&self) -> usize {
        self.waiting.len()
    }

    /// Reads replies from `bytes` (any split: a partial reply waits for the rest).
    pub fn feed(&mut self, bytes: &[u8]) -> Fed {
        // whole replies are read from `bytes` itself; only a partial one is kept
        let mut held = std::mem::take(&mut self.input);
        let data: &[u8] = if held.is_empty() {
            bytes
        } else {
            held.extend_from_slice(bytes);
            &held
        };
        let mut done = Vec::new();
        let mut at = 0;
        let mut broken = None;
        let now = expiry::now_ms();
        while at < data.len() {
            let len = match frame_len(&data[at..]) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(why) => {
                    broken = Some(StoreError::new(ERR_BAD_DATA, why));
                    break;
                }
            };
            let frame = &data[at..at + len];
            let value = match flat_value(frame).map_or_else(|| redis::parse_redis_value(frame), Ok)
            {
                Ok(v) => v,
                Err(e) => {
                    broken = Some(StoreError::new(
                        ERR_BAD_DATA,
                        format!("unreadable reply: {e}"),
                    ));
                    break;
                }
            };
            at += len;
            self.received += 1;
            let Some(expect) = self.waiting.pop_front() else {
                broken = Some(StoreError::new(ERR_BAD_DATA, "a reply nobody asked for"));
                break;
            };
            if let Err(e) = self.answer(expect, value, now, &mut done) {
                broken = Some(e);
                break;
            }
        }
        let rest = data[at..].to_vec();
        held.clear();
        self.input = if rest.is_empty() { held } else { rest };
        Fed { done, broken }
    }

    fn answer(
        &mut self,
        expect: Expect,
        value: Value,
        now: f64,
        done: &mut Vec<(u32, StoreResult<Reply>)>,
    ) -> StoreResult<()> {
        match expect {
            Expect::Handshake => {
                if let Value::ServerError(e) = value {
                    let auth = matches!(e.code(), "WRONGPASS" | "NOAUTH" | "NOPERM")
                        || e.details().unwrap_or("").contains("password");
                    return Err(if auth {
                        StoreError::new(
                            ERR_AUTH,
                            format!(
                                "Redis refused the credentials: {e:?} (check username/password)"
                            ),
                        )
                    } else {
                        StoreError::new(
                            ERR_COMMAND,
                            format!("Redis refused the connection setup: {e:?}"),
                        )
                    });
                }
            }
            Expect::Get(id, key) => match decide(&key, value, None, now) {
                Ok(Decision::Is(f)) => done.push((id, Ok(Reply::Found(f)))),
                Ok(Decision::NeedTtl) => {
                    let mut get = redis::cmd("GET");
                    get.arg(&key);
                    let mut pttl = redis::cmd("PTTL");
                    pttl.arg(&key);
                    self.write(&get, Expect::RecheckGet);
                    self.write(&pttl, Expect::RecheckTtl(id, key, Value::Nil));
                }
                Err(e) => done.push((id, Err(e))),
            },
            Expect::RecheckGet => {
                if let Some(Expect::RecheckTtl(_, _, held)) = self.waiting.front_mut() {
                    *held = value;
                }
            }
            Expect::RecheckTtl(id, key, held) => {
                done.push((id, decided(&key, held, &value, now).map(Reply::Found)));
            }
            Expect::Cmd(id) => done.push((
                id,
                match value {
                    Value::ServerError(e) => Err(server_error(e)),
                    _ => Ok(Reply::Done),
                },
            )),
            Expect::Script(id, i, keys, args) => match value {
                Value::ServerError(e) if is_noscript(&e) => {
                    let cmd = script_cmd("EVAL", &self.scripts[i].1, &keys, &args);
                    self.write(&cmd, Expect::Eval(id));
                }
                v => done.push((id, eval_reply(v))),
            },
            Expect::Eval(id) => done.push((id, eval_reply(value))),
            Expect::Unknown(id) => done.push((
                id,
                Err(StoreError::new(ERR_COMMAND, "no such registered script")),
            )),
        }
        Ok(())
    }

    /// The connection is gone (or was never made): every queued and in-flight operation
    /// fails with `err`, and the pipe is ready for a new connection.
    pub fn fail(&mut self, err: &StoreError) -> Vec<(u32, StoreResult<Reply>)> {
        self.out.clear();
        self.input.clear();
        self.unsent = 0;
        self.received = self.sent;
        let mut done = Vec::new();
        for e in self.waiting.drain(..) {
            let id = match e {
                Expect::Handshake => continue,
                Expect::RecheckGet => continue, // its RecheckTtl reports it
                Expect::Get(id, _)
                | Expect::RecheckTtl(id, ..)
                | Expect::Cmd(id)
                | Expect::Script(id, ..)
                | Expect::Eval(id)
                | Expect::Unknown(id) => id,
            };
            done.push((id, Err(err.clone())));
        }
        done
    }
}

fn eval_reply(v: Value) -> StoreResult<Reply> {
    match v {
        Value::ServerError(e) => Err(server_error(e)),
        v => script_reply(v).map(Reply::Text),
    }
}

/// A complete reply that is a bulk string, nil, integer or status, decoded directly (what
/// the crate's parser makes of it); None for the rest (errors, arrays).
fn flat_value(f: &[u8]) -> Option<Value> {
    let body = f.get(1..f.len().checked_sub(2)?)?;
    match f[0] {
        b'$' if body.first() == Some(&b'-') => Some(Value::Nil),
        b'$' => {
            let nl = body.iter().position(|&c| c == b'\n')?;
            Some(Value::BulkString(body[nl + 1..].to_vec()))
        }
        b':' => std::str::from_utf8(body).ok()?.parse().ok().map(Value::Int),
        b'+' if body == b"OK" => Some(Value::Okay),
        b'+' => Some(Value::SimpleString(
            std::str::from_utf8(body).ok()?.to_string(),
        )),
        _ => None,
    }
}

/// The length of the RESP2 reply at the start of `b`: `Ok(None)` when it is not all there
/// yet, `Err` when the bytes are not RESP2.
pub fn frame_len(b: &[u8]) -> Result<Option<usize>, String> {
    let mut at = 0;
    // replies still to read: nested arrays add theirs
    let mut need: u64 = 1;
    while need > 0 {
        let Some(kind) = b.get(at).copied() else {
            return Ok(None);
        };
        let Some(nl) = b[at..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = &b[at + 1..at + nl];
        at += nl + 2;
        need -= 1;
        match kind {
            b'+' | b'-' | b':' => {}
            b'$' | b'*' => {
                let n: i64 = std::str::from_utf8(line)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("bad length {:?}", String::from_utf8_lossy(line)))?;
                if n < -1 {
                    return Err(format!("bad length {n}"));
                }
                if kind == b'*' {
                    need += n.max(0) as u64;
                } else if n >= 0 {
                    let end = at + n as usize + 2;
                    if b.len() < end {
                        return Ok(None);
                    }
                    if &b[end - 2..end] != b"\r\n" {
                        return Err("a bulk string without its CRLF".into());
                    }
                    at = end;
                }
            }
            other => return Err(format!("unexpected reply type {:?}", other as char)),
        }
    }
    Ok(Some(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redis::{Config, Found, Target};

    fn pipe() -> Pipe {
        let store = RedisStore::new(Config {
            target: Target::Single("redis://127.0.0.1:1".into()),
            ..Config::default()
        })
        .unwrap();
        Pipe::new(store, None, Some("pw"), 2)
    }

    fn get(sid: &str) -> Op {
        Op::Get { sid: sid.into() }
    }

    #[test]
    fn frames_any_split() {
        let whole = b"*3\r\n$3\r\nabc\r\n:12\r\n*2\r\n$-1\r\n+OK\r\n-ERR x\r\n";
        let first = whole.len() - b"-ERR x\r\n".len();
        assert_eq!(frame_len(whole), Ok(Some(first)));
        for cut in 0..first {
            assert_eq!(frame_len(&whole[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(frame_len(b"$-1\r\n"), Ok(Some(5)));
        assert!(frame_len(b"$3\r\nabcd\r\n").is_err());
        assert!(frame_len(b"?x\r\n").is_err());
        assert!(frame_len(b"$-5\r\n").is_err());
    }

    #[test]
    fn flat_replies_decode_as_the_crate_does() {
        for f in [
            &b"$5\r\nhe\r\no\r\n"[..],
            b"$0\r\n\r\n",
            b"$-1\r\n",
            b":-42\r\n",
            b"+OK\r\n",
            b"+PONG\r\n",
        ] {
            assert_eq!(
                flat_value(f),
                Some(redis::parse_redis_value(f).unwrap()),
                "{f:?}"
            );
        }
        assert_eq!(flat_value(b"-ERR x\r\n"), None);
        assert_eq!(flat_value(b"*0\r\n"), None);
    }

    #[test]
    fn get_is_written_as_the_crate_writes_it() {
        let mut p = Pipe::new(pipe().store, None, None, 0);
        p.push(1, get("sïd"));
        let mut c = redis::cmd("GET");
        c.arg("sess:sïd");
        assert_eq!(p.take().unwrap(), c.get_packed_command());
    }

    #[test]
    fn scripts_are_written_as_the_crate_writes_them() {
        let mut p = Pipe::new(pipe().store, None, None, 0);
        p.cas(
            1,
            "sïd",
            Cas {
                expected: Some("{}".into()),
                json: "{\"a\":1}".into(),
                ttl: Some(60),
                ..Cas::default()
            },
        );
        p.cas(
            2,
            "x",
            Cas {
                json: "{}".into(),
                token: Some("tok".into()),
                ..Cas::default()
            },
        );
        let mut want = Vec::new();
        for (sid, args) in [
            ("sïd", ["{}", "{\"a\":1}", "60", "", "1"]),
            ("x", ["", "{}", "86400", "tok", ""]),
        ] {
            let key = format!("sess:{sid}");
            let keys = [
                key.clone(),
                format!("{{{key}}}:tomb"),
                format!("{{{key}}}:lock"),
            ];
            let args = args.map(String::from);
            want.extend(script_cmd("EVALSHA", cas_sha(), &keys, &args).get_packed_command());
        }
        assert_eq!(p.take().unwrap(), want);
        assert_eq!(p.scripts.len(), 1, "registered once");
    }

    #[test]
    fn handshake_goes_first_and_replies_complete_in_order() {
        let mut p = pipe();
        p.push(1, get("a"));
        p.push(
            2,
            Op::Set {
                sid: "b".into(),
                json: "{}".into(),
                expires: None,
                ttl: Some(10),
            },
        );
        let bytes = p.start().unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let auth = text.find("AUTH").unwrap();
        let select = text.find("SELECT").unwrap();
        let get = text.find("GET").unwrap();
        assert!(auth < select && select < get, "{text}");
        assert!(text.contains("sess:b") && text.contains("EX"));
        assert_eq!(p.sent(), 4);
        // split across two feeds
        let reply = b"+OK\r\n+OK\r\n$2\r\n{}\r\n+OK\r\n";
        let fed = p.feed(&reply[..14]);
        assert!(fed.done.is_empty() && fed.broken.is_none());
        let fed = p.feed(&reply[14..]);
        assert!(fed.broken.is_none());
        assert_eq!(
            fed.done,
            vec![
                (1, Ok(Reply::Found(Found::Session("{}".into())))),
                (2, Ok(Reply::Done))
            ]
        );
        assert_eq!((p.received(), p.pending()), (4, 0));
    }

    #[test]
    fn wrong_password_breaks_the_connection_with_err_auth() {
        let mut p = pipe();
        p.push(1, get("a"));
        p.start();
        let fed = p.feed(b"-WRONGPASS invalid username-password pair\r\n");
        assert_eq!(fed.broken.as_ref().unwrap().code, ERR_AUTH);
        let failed = p.fail(fed.broken.as_ref().unwrap());
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, 1);
        assert_eq!(failed[0].1.as_ref().unwrap_err().code, ERR_AUTH);
        assert_eq!(p.pending(), 0);
        assert!(p.take().is_none());
    }

    #[test]
    fn expired_cookie_is_checked_against_pttl() {
        let mut p = pipe();
        p.push(7, get("old"));
        p.start();
        let json = r#"{"cookie":{"expires":"2000-01-01T00:00:00.000Z"}}"#;
        let reply = format!("+OK\r\n+OK\r\n${}\r\n{}\r\n", json.len(), json);
        let fed = p.feed(reply.as_bytes());
        assert!(fed.done.is_empty(), "waits for GET + PTTL");
        let again = String::from_utf8(p.take().unwrap()).unwrap();
        assert!(again.contains("GET") && again.contains("PTTL"));
        // the key was touched past the stored expiry: served
        let reply = format!("${}\r\n{}\r\n:5000\r\n", json.len(), json);
        let fed = p.feed(reply.as_bytes());
        assert_eq!(
            fed.done,
            vec![(7, Ok(Reply::Found(Found::Session(json.into()))))]
        );
        // the key is gone by the time of the PTTL: not served
        p.push(8, get("old"));
        p.take();
        p.feed(format!("${}\r\n{}\r\n", json.len(), json).as_bytes());
        p.take();
        let fed = p.feed(format!("${}\r\n{}\r\n:-2\r\n", json.len(), json).as_bytes());
        assert_eq!(fed.done, vec![(8, Ok(Reply::Found(Found::Missing)))]);
    }

    #[test]
    fn noscript_is_sent_again_as_eval() {
        let mut p = Pipe::new(pipe().store, None, None, 0);
        p.push(
            3,
            Op::Eval {
                sha: "abc".into(),
                script: "return 'ok'".into(),
                keys: vec!["k".into()],
                args: vec![],
            },
        );
        assert!(String::from_utf8(p.start().unwrap())
            .unwrap()
            .contains("EVALSHA"));
        let fed = p.feed(b"-NOSCRIPT No matching script.\r\n");
        assert!(fed.done.is_empty() && fed.broken.is_none());
        let again = String::from_utf8(p.take().unwrap()).unwrap();
        assert!(again.contains("EVAL") && again.contains("return 'ok'"));
        let fed = p.feed(b"$2\r\nok\r\n");
        assert_eq!(fed.done, vec![(3, Ok(Reply::Text(Some("ok".into()))))]);
    }

    #[test]
    fn registered_scripts_go_by_sha_and_are_sent_again_as_eval() {
        let mut p = Pipe::new(pipe().store, None, None, 0);
        let i = p.script("abc".into(), "return 'ok'".into());
        assert_eq!(p.script("abc".into(), "return 'ok'".into()), i);
        p.eval(4, i, vec!["k".into()], vec!["a".into()]);
        p.eval(5, 99, vec![], vec![]);
        let sent = String::from_utf8(p.start().unwrap()).unwrap();
        assert!(sent.contains("EVALSHA\r\n$3\r\nabc") && !sent.contains("return"));
        let fed = p.feed(b"-NOSCRIPT No matching script.\r\n+PONG\r\n");
        assert_eq!(fed.done.len(), 1);
        assert_eq!(fed.done[0].0, 5);
        assert_eq!(fed.done[0].1.as_ref().unwrap_err().code, ERR_COMMAND);
        let again = String::from_utf8(p.take().unwrap()).unwrap();
        assert!(again.contains("EVAL\r\n") && again.contains("return 'ok'"));
        let fed = p.feed(b":1\r\n");
        assert_eq!(fed.done, vec![(4, Ok(Reply::Text(Some("1".into()))))]);
    }

    #[test]
    fn error_replies_fail_only_their_operation() {
        let mut p = Pipe::new(pipe().store, None, None, 0);
        p.push(1, Op::Destroy { sid: "a".into() });
        p.push(2, get("b"));
        p.start();
        let fed = p.feed(b"-WRONGTYPE x\r\n$-1\r\n");
        assert!(fed.broken.is_none());
        assert_eq!(fed.done[0].1.as_ref().unwrap_err().code, ERR_COMMAND);
        assert_eq!(fed.done[1], (2, Ok(Reply::Found(Found::Missing))));
    }

    #[test]
    fn garbage_breaks_the_connection_and_fail_settles_everything() {
        let mut p = Pipe::new(pipe().store, None, None, 0);
        p.push(1, get("a"));
        p.push(2, get("b"));
        p.start();
        let fed = p.feed(b"$-1\r\n!!\r\n");
        assert_eq!(fed.done.len(), 1);
        assert_eq!(fed.broken.as_ref().unwrap().code, ERR_BAD_DATA);
        let failed = p.fail(&fed.broken.unwrap());
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, 2);
    }
}
