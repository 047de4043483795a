use super::*;

const T: f64 = 1_000_000.0;

fn store(max: Option<usize>, ttl: Option<f64>) -> Arc<MemoryStore> {
    MemoryStore::new(Options {
        max,
        ttl_ms: ttl,
        ..Options::default()
    })
}

fn get(s: &MemoryStore, sid: &str, now: f64) -> Option<String> {
    s.get(sid, now)
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

fn sess(i: usize) -> String {
    format!(
        r#"{{"cookie":{{"originalMaxAge":1000,"expires":"x","path":"/"}},"user":"ü{i}","n":{i},"pad":"{}"}}"#,
        "p".repeat(i % 40)
    )
}

#[test]
fn set_get_destroy_and_expiry() {
    let s = store(None, None);
    s.set("a", sess(1).as_bytes(), Some(T + 10.0), T).unwrap();
    s.set("b", sess(2).as_bytes(), None, T).unwrap();
    assert_eq!(get(&s, "a", T).unwrap(), sess(1));
    assert_eq!(get(&s, "missing", T), None);
    assert_eq!(
        get(&s, "b", 1e15).unwrap(),
        sess(2),
        "no expiry never expires"
    );
    assert_eq!(get(&s, "a", T + 10.0), None, "expired at expires");
    assert_eq!(s.len(T).unwrap(), 1, "the expired one was removed on read");
    s.destroy("b").unwrap();
    s.destroy("b").unwrap();
    assert_eq!(s.len(T).unwrap(), 0);
}

#[test]
fn many_sessions_round_trip_through_the_codec_and_table() {
    let s = store(None, None);
    for i in 0..5000 {
        s.set(&format!("sid{i}"), sess(i).as_bytes(), None, T)
            .unwrap();
    }
    for i in (0..5000).step_by(3) {
        s.destroy(&format!("sid{i}")).unwrap();
    }
    for i in 0..5000 {
        let got = get(&s, &format!("sid{i}"), T);
        assert_eq!(got, (i % 3 != 0).then(|| sess(i)), "sid{i}");
    }
    assert_eq!(s.len(T).unwrap(), 5000 - 1667);
    let mut ids = s.ids(T).unwrap();
    ids.sort();
    let mut want: Vec<String> = (0..5000)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("sid{i}"))
        .collect();
    want.sort();
    assert_eq!(ids, want);
    assert!(s.data_bytes() < 3333 * sess(20).len() / 2, "coded smaller");
}

#[test]
fn ttl_applies_to_sessions_without_expiry() {
    let s = store(None, Some(100.0));
    s.set("a", b"{}", None, T).unwrap();
    s.set("b", b"{}", Some(T + 1000.0), T).unwrap();
    assert!(get(&s, "a", T + 99.0).is_some());
    assert!(get(&s, "a", T + 100.0).is_none());
    assert!(get(&s, "b", T + 500.0).is_some());
    // touch moves a ttl session's expiry
    s.set("c", b"{}", None, T).unwrap();
    assert!(s.touch("c", b"{}", None, T + 90.0).unwrap());
    assert!(get(&s, "c", T + 150.0).is_some());
}

#[test]
fn touch_replaces_only_the_cookie_and_expiry() {
    let s = store(None, None);
    s.set(
        "a",
        br#"{"cookie":{"e":1},"x":[1,{"cookie":2}]}"#,
        Some(T + 10.0),
        T,
    )
    .unwrap();
    assert!(s.touch("a", br#"{"e":2}"#, Some(T + 100.0), T).unwrap());
    assert_eq!(
        get(&s, "a", T + 50.0).unwrap(),
        r#"{"cookie":{"e":2},"x":[1,{"cookie":2}]}"#
    );
    assert!(!s.touch("nope", b"{}", None, T).unwrap());
    assert!(
        !s.touch("a", b"{}", Some(T + 1e6), T + 100.0).unwrap(),
        "expired: no touch"
    );
    assert_eq!(get(&s, "a", T), None);
}

#[test]
fn lru_evicts_least_recently_used_across_shards() {
    let s = store(Some(50), None);
    for i in 0..50 {
        s.set(&format!("k{i}"), b"{}", None, T).unwrap();
    }
    // use the first ten again: they become the most recent
    for i in 0..10 {
        assert!(get(&s, &format!("k{i}"), T).is_some());
    }
    for i in 50..70 {
        s.set(&format!("k{i}"), b"{}", None, T).unwrap();
    }
    assert_eq!(s.len(T).unwrap(), 50);
    for i in 0..70 {
        let alive = get(&s, &format!("k{i}"), T).is_some();
        assert_eq!(alive, !(10..30).contains(&i), "k{i}");
    }
    s.set("k0", br#"{"v":1}"#, None, T).unwrap();
    assert_eq!(s.len(T).unwrap(), 50, "replacing does not evict");
}

#[test]
fn all_json_is_an_object_keyed_by_sid() {
    let s = store(None, None);
    s.set("a\"b", br#"{"v":1}"#, None, T).unwrap();
    s.set("c", r#"{"v":"é"}"#.as_bytes(), None, T).unwrap();
    s.set("gone", b"{}", Some(T - 1.0), T - 10.0).unwrap();
    let v: serde_json::Value = serde_json::from_str(&s.all_json(T).unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({"a\"b": {"v": 1}, "c": {"v": "é"}}));
}

#[test]
fn sweep_removes_expired() {
    let s = store(None, None);
    for i in 0..100 {
        s.set(&format!("k{i}"), b"{}", Some(T + i as f64), T)
            .unwrap();
    }
    assert_eq!(
        s.sweep(T + 50.0),
        50,
        "k0 expired on arrival was never stored"
    );
    assert_eq!(s.len(T + 50.0).unwrap(), 49);
}

#[test]
fn background_sweeper_runs_and_stops() {
    let s = MemoryStore::new(Options {
        sweep_ms: 20.0,
        ..Options::default()
    });
    let now = crate::expiry::now_ms();
    s.set("a", b"{}", Some(now + 30.0), now).unwrap();
    s.set("b", b"{}", None, now).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.len.load(Relaxed) != 1 {
        assert!(std::time::Instant::now() < deadline, "sweeper did not run");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(s.release());
    assert_eq!(s.get("b", now), Err(Error::Closed));
}

#[test]
fn shared_stores_share_and_refcount() {
    let o = Options::default();
    let a = MemoryStore::shared("t-shared", o.clone()).unwrap();
    let b = MemoryStore::shared("t-shared", o.clone()).unwrap();
    a.set("x", b"{}", None, T).unwrap();
    assert!(get(&b, "x", T).is_some());
    let other = Options {
        max: Some(3),
        ..o.clone()
    };
    assert!(matches!(
        MemoryStore::shared("t-shared", other),
        Err(Error::SharedOptions(_))
    ));
    assert!(!a.release(), "b still open");
    assert!(get(&b, "x", T).is_some());
    assert!(b.release());
    assert!(b.is_closed());
    let c = MemoryStore::shared("t-shared", o).unwrap();
    assert_eq!(get(&c, "x", T), None, "a closed name starts empty");
    c.release();
}

#[test]
fn threads_hammering_one_store() {
    let s = store(Some(1000), None);
    std::thread::scope(|sc| {
        for t in 0..4 {
            let s = &s;
            sc.spawn(move || {
                for i in 0..20_000 {
                    let k = format!("k{}", (i * 7 + t) % 3000);
                    match i % 4 {
                        0 | 1 => s.set(&k, sess(i).as_bytes(), None, T).unwrap(),
                        2 => drop(s.get(&k, T).unwrap()),
                        _ => s.destroy(&k).unwrap(),
                    }
                }
            });
        }
    });
    let n = s.len(T).unwrap();
    assert!(n <= 1000);
    assert_eq!(n, s.len.load(Relaxed));
    assert_eq!(n, s.ids(T).unwrap().len());
}

#[test]
fn cas_writes_only_over_the_expected_json() {
    for compress in [true, false] {
        let s = MemoryStore::new(Options {
            compress,
            ..Options::default()
        });
        let (a, b, c) = (sess(1), sess(2), sess(3));
        // no session expected: stored when there is none, a conflict when there is one
        assert_eq!(
            s.cas("x", None, a.as_bytes(), None, T).unwrap(),
            Cas::Stored
        );
        assert_eq!(
            s.cas("x", None, b.as_bytes(), None, T).unwrap(),
            Cas::Conflict(a.clone().into_bytes())
        );
        // over the expected JSON only; a conflict hands back what is stored, unchanged
        assert_eq!(
            s.cas("x", Some(b.as_bytes()), c.as_bytes(), None, T)
                .unwrap(),
            Cas::Conflict(a.clone().into_bytes())
        );
        assert_eq!(get(&s, "x", T).unwrap(), a);
        assert_eq!(
            s.cas("x", Some(a.as_bytes()), b.as_bytes(), Some(T + 50.0), T)
                .unwrap(),
            Cas::Stored
        );
        assert_eq!(get(&s, "x", T).unwrap(), b);
        // expired (at its new expiry) or destroyed: gone, and nothing is written back
        assert_eq!(
            s.cas("x", Some(b.as_bytes()), c.as_bytes(), None, T + 50.0)
                .unwrap(),
            Cas::Gone
        );
        assert_eq!(s.len(T).unwrap(), 0);
        s.set("y", a.as_bytes(), None, T).unwrap();
        s.destroy("y").unwrap();
        assert_eq!(
            s.cas("y", Some(a.as_bytes()), b.as_bytes(), None, T)
                .unwrap(),
            Cas::Gone
        );
        assert_eq!(get(&s, "y", T), None);
        // a new JSON that is already expired deletes, as set does
        s.set("z", a.as_bytes(), None, T).unwrap();
        assert_eq!(
            s.cas("z", Some(a.as_bytes()), b.as_bytes(), Some(T - 1.0), T)
                .unwrap(),
            Cas::Stored
        );
        assert_eq!(get(&s, "z", T), None);
        assert_eq!(s.len(T).unwrap(), 0);
    }
}

#[test]
fn cas_is_atomic_across_threads() {
    // 4 threads × 500 increments of one counter, each a read then a cas retried on conflict:
    // none is lost
    let s = store(None, None);
    s.set("n", b"{\"cookie\":{},\"n\":0}", None, T).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    let mut cur = s.get("n", T).unwrap().unwrap();
                    loop {
                        let text = String::from_utf8(cur.clone()).unwrap();
                        let n: u64 = text[text.rfind(':').unwrap() + 1..text.len() - 1]
                            .parse()
                            .unwrap();
                        let next = format!("{{\"cookie\":{{}},\"n\":{}}}", n + 1);
                        match s.cas("n", Some(&cur), next.as_bytes(), None, T).unwrap() {
                            Cas::Stored => break,
                            Cas::Conflict(now) => cur = now,
                            Cas::Gone => panic!("gone"),
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(get(&s, "n", T).unwrap(), "{\"cookie\":{},\"n\":2000}");
}
