//! End-to-end tests of persistence in-process: save and reopen, AOF replay, truncated and
//! corrupt files, rewrites, RESTORE, and payload mutations that must never panic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

use super::{Fsync, PersistConfig, dump};
use crate::Db;
use crate::reply::Reply;
use crate::types::bytetable::MemberHasher;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("embedis-persist-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(cfg: PersistConfig) -> Db {
    Db::builder().persistence(cfg).open().expect("open")
}

fn rdb_only(dir: &Path) -> PersistConfig {
    PersistConfig::new(dir).save_points(&[])
}

fn aof(dir: &Path, fsync: Fsync) -> PersistConfig {
    PersistConfig::new(dir)
        .save_points(&[])
        .appendonly(true)
        .appendfsync(fsync)
}

fn fill(db: &Db) {
    db.call(["SET", "s", "hello"]);
    db.call(["SET", "n", "12345"]);
    db.call(["SET", "long", &"x".repeat(500)]);
    db.call(["SET", "ttl", "v", "EX", "1000"]);
    db.call(["HSET", "h", "f", "1", "g", "two"]);
    db.call(["SADD", "ints", "1", "2", "3"]);
    db.call(["SADD", "words", "a", "b"]);
    let big: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
    let mut cmd = vec!["SADD".to_string(), "bigset".into()];
    cmd.extend(big);
    db.call(cmd);
    db.select(3).unwrap().call(["SET", "other", "db3"]);
}

fn check(db: &Db) {
    assert_eq!(db.call(["GET", "s"]), Reply::bulk("hello"));
    assert_eq!(db.call(["OBJECT", "ENCODING", "n"]), Reply::bulk("int"));
    assert_eq!(db.call(["STRLEN", "long"]), Reply::Int(500));
    match db.call(["TTL", "ttl"]) {
        Reply::Int(t) => assert!((990..=1000).contains(&t), "ttl {t}"),
        r => panic!("{r:?}"),
    }
    assert_eq!(db.call(["HGET", "h", "g"]), Reply::bulk("two"));
    assert_eq!(
        db.call(["OBJECT", "ENCODING", "ints"]),
        Reply::bulk("intset")
    );
    assert_eq!(db.call(["SCARD", "words"]), Reply::Int(2));
    assert_eq!(db.call(["SCARD", "bigset"]), Reply::Int(600));
    assert_eq!(
        db.select(3).unwrap().call(["GET", "other"]),
        Reply::bulk("db3")
    );
}

#[test]
fn save_and_reopen() {
    let dir = TempDir::new("save");
    let db = open(rdb_only(&dir.0));
    fill(&db);
    assert_eq!(db.call(["SAVE"]), Reply::Ok);
    db.call(["SET", "after", "not saved"]);
    drop(db);
    let db = open(rdb_only(&dir.0));
    check(&db);
    assert_eq!(db.call(["EXISTS", "after"]), Reply::Int(0));
}

#[test]
fn bgsave_and_lastsave() {
    let dir = TempDir::new("bgsave");
    let db = open(rdb_only(&dir.0));
    fill(&db);
    assert_eq!(
        db.call(["BGSAVE"]),
        Reply::status("Background saving started")
    );
    // Writes right after the request are not in the snapshot.
    db.call(["SET", "s", "changed"]);
    while db.engine().persist.state().unwrap().bgsave_in_progress() {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(matches!(db.call(["LASTSAVE"]), Reply::Int(t) if t > 1_600_000_000));
    drop(db);
    let db = open(rdb_only(&dir.0));
    check(&db);
}

#[test]
fn without_a_directory_saving_is_an_error() {
    let db = Db::new();
    assert!(matches!(db.call(["SAVE"]), Reply::Error(_)));
    assert!(matches!(db.call(["BGSAVE"]), Reply::Error(_)));
    assert!(matches!(db.call(["LASTSAVE"]), Reply::Int(_)));
    assert_eq!(db.call(["BGSAVE", "x"]), Reply::Error(crate::Error::Syntax));
}

#[test]
fn aof_replays_every_acknowledged_write() {
    for fsync in [Fsync::Always, Fsync::Everysec, Fsync::No] {
        let dir = TempDir::new("aof");
        let db = open(aof(&dir.0, fsync));
        fill(&db);
        db.call(["EXPIRE", "s", "500"]);
        db.call(["INCR", "n"]);
        db.call(["HDEL", "h", "f"]);
        db.call(["SPOP", "words"]);
        db.call(["DEL", "long"]);
        let left = db.call(["SMEMBERS", "words"]);
        drop(db); // no save: only the AOF holds these
        let db = open(aof(&dir.0, fsync));
        assert_eq!(db.call(["GET", "n"]), Reply::bulk("12346"));
        assert_eq!(db.call(["HLEN", "h"]), Reply::Int(1));
        assert_eq!(db.call(["SMEMBERS", "words"]), left);
        assert_eq!(db.call(["EXISTS", "long"]), Reply::Int(0));
        assert!(matches!(db.call(["TTL", "s"]), Reply::Int(t) if (490..=500).contains(&t)));
        assert_eq!(
            db.select(3).unwrap().call(["GET", "other"]),
            Reply::bulk("db3")
        );
    }
}

fn incr_file(dir: &Path) -> PathBuf {
    let adir = dir.join("appendonlydir");
    let m = std::fs::read_to_string(adir.join("appendonly.aof.manifest")).unwrap();
    let m = super::aof::Manifest::parse(&m).unwrap();
    adir.join(&m.incrs.last().unwrap().name)
}

#[test]
fn truncated_tail_loads_what_it_can_when_allowed() {
    let dir = TempDir::new("trunc");
    let db = open(aof(&dir.0, Fsync::Always));
    db.call(["SET", "a", "1"]);
    db.call(["SET", "b", "2"]);
    drop(db);
    let incr = incr_file(&dir.0);
    let whole = std::fs::read(&incr).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&incr)
        .unwrap();
    std::io::Write::write_all(&mut f, b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1").unwrap();
    drop(f);
    let mut strict = aof(&dir.0, Fsync::Always);
    strict.aof_load_truncated = false;
    let err = Db::builder().persistence(strict).open().unwrap_err();
    assert!(err.to_string().contains("Unexpected end of file"), "{err}");
    let db = open(aof(&dir.0, Fsync::Always));
    assert_eq!(
        db.call(["MGET", "a", "b", "c"]),
        Reply::Array(vec![Reply::bulk("1"), Reply::bulk("2"), Reply::Nil])
    );
    // The file was repaired: the cut command is gone, and new writes follow whole ones.
    assert_eq!(std::fs::read(&incr).unwrap(), whole);
    db.call(["SET", "c", "3"]);
    drop(db);
    let db = open(aof(&dir.0, Fsync::Always));
    assert_eq!(db.call(["GET", "c"]), Reply::bulk("3"));
}

#[test]
fn corrupt_aof_is_refused_with_a_clear_error() {
    let dir = TempDir::new("corrupt");
    let db = open(aof(&dir.0, Fsync::Always));
    db.call(["SET", "a", "1"]);
    db.call(["SET", "b", "2"]);
    drop(db);
    let incr = incr_file(&dir.0);
    let mut data = std::fs::read(&incr).unwrap();
    let at = data.len() / 2;
    data[at] = b'!';
    data[at - 1] = b'?';
    std::fs::write(&incr, &data).unwrap();
    let err = Db::builder()
        .persistence(aof(&dir.0, Fsync::Always))
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("Bad file format"), "{err}");
    // Nothing was overwritten.
    assert_eq!(std::fs::read(&incr).unwrap(), data);
}

#[test]
fn corrupt_rdb_is_refused() {
    let dir = TempDir::new("badrdb");
    let db = open(rdb_only(&dir.0));
    fill(&db);
    db.save().unwrap();
    drop(db);
    let path = dir.0.join("dump.rdb");
    let mut data = std::fs::read(&path).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x40;
    std::fs::write(&path, &data).unwrap();
    let err = Db::builder()
        .persistence(rdb_only(&dir.0))
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn rewrite_keeps_everything_and_swaps_files() {
    let dir = TempDir::new("rewrite");
    let db = open(aof(&dir.0, Fsync::Everysec));
    fill(&db);
    for i in 0..1000 {
        db.call(["INCR", "counter"]);
        if i == 500 {
            assert_eq!(
                db.call(["BGREWRITEAOF"]),
                Reply::status("Background append only file rewriting started")
            );
        }
    }
    let state = db.engine().persist.state().unwrap().clone();
    while state.rewrite_in_progress() {
        std::thread::sleep(Duration::from_millis(5));
    }
    db.call(["SET", "late", "x"]);
    drop(db);
    let adir = dir.0.join("appendonlydir");
    let m = std::fs::read_to_string(adir.join("appendonly.aof.manifest")).unwrap();
    assert!(m.contains("appendonly.aof.2.base.rdb"), "{m}");
    assert!(!m.contains(".1.incr.aof"), "{m}");
    let files: Vec<_> = std::fs::read_dir(&adir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    let db = open(aof(&dir.0, Fsync::Everysec));
    check(&db);
    assert_eq!(db.call(["GET", "counter"]), Reply::bulk("1000"));
    assert_eq!(db.call(["GET", "late"]), Reply::bulk("x"));
}

#[test]
fn turning_aof_on_starts_from_the_rdb() {
    let dir = TempDir::new("rdb2aof");
    let db = open(rdb_only(&dir.0));
    fill(&db);
    db.save().unwrap();
    drop(db);
    let db = open(aof(&dir.0, Fsync::Always));
    check(&db);
    db.call(["SET", "more", "1"]);
    drop(db);
    std::fs::remove_file(dir.0.join("dump.rdb")).unwrap();
    let db = open(aof(&dir.0, Fsync::Always));
    check(&db);
    assert_eq!(db.call(["GET", "more"]), Reply::bulk("1"));
}

#[test]
fn restore_follows_redis() {
    let db = Db::new();
    db.call(["SET", "k", "hello"]);
    let Reply::Bulk(p) = db.call(["DUMP", "k"]) else {
        panic!()
    };
    assert_eq!(&p[..], b"\x00\x05hello\n\x00cr\xdfve4 \n");
    assert_eq!(db.call(["DUMP", "nope"]), Reply::Nil);
    let p = p.to_vec();
    let busy = db.call([&b"RESTORE"[..], b"k", b"0", &p]);
    assert_eq!(busy.clone(), Reply::Error(crate::error::BUSYKEY));
    assert_eq!(db.call([&b"RESTORE"[..], b"k", b"-1", &p]), busy);
    assert_eq!(
        db.call([&b"RESTORE"[..], b"k2", b"-1", &p]),
        Reply::Error(crate::error::INVALID_TTL)
    );
    assert_eq!(
        db.call([&b"RESTORE"[..], b"k2", b"0", b"junk"]),
        Reply::Error(crate::error::DUMP_PAYLOAD)
    );
    assert_eq!(
        db.call([&b"RESTORE"[..], b"k2", b"0", &p, b"FREQ", b"300"]),
        Reply::Error(crate::error::INVALID_FREQ)
    );
    assert_eq!(
        db.call([
            &b"RESTORE"[..],
            b"k2",
            b"0",
            &p,
            b"IDLETIME",
            b"1",
            b"FREQ",
            b"2"
        ]),
        Reply::Error(crate::Error::Syntax)
    );
    assert_eq!(
        db.call([&b"RESTORE"[..], b"k2", b"0", &p, b"IDLETIME", b"100"]),
        Reply::Ok
    );
    assert!(
        matches!(db.call(["OBJECT", "IDLETIME", "k2"]), Reply::Int(t) if (100..=101).contains(&t))
    );
    assert_eq!(
        db.call([&b"RESTORE"[..], b"k", b"5000", &p, b"REPLACE"]),
        Reply::Ok
    );
    assert!(matches!(db.call(["PTTL", "k"]), Reply::Int(t) if (4000..=5000).contains(&t)));
    // An absolute TTL in the past: OK, and no key (the old one is gone under REPLACE).
    assert_eq!(
        db.call([&b"RESTORE"[..], b"k", b"1", &p, b"REPLACE", b"ABSTTL"]),
        Reply::Ok
    );
    assert_eq!(db.call(["EXISTS", "k"]), Reply::Int(0));
    // A payload that passes the checksum but does not decode.
    let bad = {
        let mut o = super::rdb::Out::new();
        o.u8(4);
        o.len(3);
        let mut b = o.buf;
        b.extend_from_slice(&10u16.to_le_bytes());
        let crc = super::rdb::crc64::crc64(0, &b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    };
    assert_eq!(
        db.call([&b"RESTORE"[..], b"x", b"0", &bad]),
        Reply::Error(crate::error::BAD_DATA_FORMAT)
    );
}

fn sample_payloads() -> Vec<Vec<u8>> {
    let db = Db::new();
    fill(&db);
    db.call(["HSET", "bighash", &"f".repeat(100), &"v".repeat(100)]);
    ["s", "n", "long", "h", "ints", "words", "bigset", "bighash"]
        .iter()
        .map(|k| db.dump(k).unwrap().unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random byte changes, cuts and insertions in valid payload bodies never panic the
    /// decoder (checksums are bypassed so the mutations reach it).
    #[test]
    fn mutated_payloads_never_panic(
        which in 0usize..8,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let payloads = sample_payloads();
        let p = &payloads[which % payloads.len()];
        let mut body = p[..p.len() - 10].to_vec();
        for (at, byte, kind) in edits {
            if body.is_empty() { break; }
            let i = at % body.len();
            match kind {
                0 => body[i] = byte,
                1 => body.truncate(i),
                _ => body.insert(i, byte),
            }
        }
        let _ = dump::restore_value(&body, MemberHasher::with_seed(1), &Default::default());
        // And through RESTORE with a recomputed checksum.
        let mut full = body.clone();
        full.extend_from_slice(&10u16.to_le_bytes());
        let crc = super::rdb::crc64::crc64(0, &full);
        full.extend_from_slice(&crc.to_le_bytes());
        let db = Db::new();
        let r = db.call([&b"RESTORE"[..], b"k", b"0", &full]);
        prop_assert!(matches!(r, Reply::Ok | Reply::Error(_)));
    }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

fn info_field(db: &Db, field: &str) -> String {
    let info = db.info("persistence");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn config_set_appendonly_starts_and_stops_the_aof() {
    let dir = TempDir::new("cfg-aof");
    let db = open(rdb_only(&dir.0));
    db.call(["SET", "before", "1"]);
    db.config_set(&[("appendonly", "yes"), ("appendfsync", "always")])
        .unwrap();
    assert_eq!(info_field(&db, "aof_enabled"), "1");
    wait_until("the AOF to start", || {
        db.engine().persist.aof().is_some() && info_field(&db, "aof_rewrite_in_progress") == "0"
    });
    db.call(["SET", "after", "2"]);
    let manifest = dir.0.join("appendonlydir/appendonly.aof.manifest");
    assert!(manifest.is_file());
    drop(db);
    // The AOF holds both: the write before (in the base) and after (in the incr file).
    let db = open(aof(&dir.0, Fsync::Always));
    assert_eq!(db.call(["GET", "before"]), Reply::bulk("1"));
    assert_eq!(db.call(["GET", "after"]), Reply::bulk("2"));
    db.config_set(&[("appendonly", "no")]).unwrap();
    wait_until("the AOF to stop", || db.engine().persist.aof().is_none());
    db.call(["SET", "unlogged", "3"]);
    drop(db);
    let db = open(aof(&dir.0, Fsync::Always));
    assert_eq!(db.call(["GET", "after"]), Reply::bulk("2"));
    assert_eq!(db.call(["GET", "unlogged"]), Reply::Nil);
}

#[test]
fn config_set_appendonly_again_replaces_an_old_aof() {
    let dir = TempDir::new("cfg-aof-again");
    let db = open(aof(&dir.0, Fsync::Always));
    db.call(["SET", "old", "1"]);
    drop(db);
    // Started without the AOF, the old files are not loaded; turning it on must not replay
    // them on top of the new base later.
    let db = open(rdb_only(&dir.0));
    db.call(["SET", "new", "2"]);
    db.config_set(&[("appendonly", "yes")]).unwrap();
    wait_until("the AOF to start", || {
        db.engine().persist.aof().is_some() && info_field(&db, "aof_rewrite_in_progress") == "0"
    });
    db.call(["SET", "newer", "3"]);
    drop(db);
    let db = open(aof(&dir.0, Fsync::Always));
    assert_eq!(db.call(["GET", "old"]), Reply::Nil);
    assert_eq!(db.call(["GET", "new"]), Reply::bulk("2"));
    assert_eq!(db.call(["GET", "newer"]), Reply::bulk("3"));
    let files = std::fs::read_dir(dir.0.join("appendonlydir"))
        .unwrap()
        .count();
    assert_eq!(files, 3, "manifest, one base, one incr");
}

#[test]
fn config_set_save_and_dir_take_effect() {
    let dir = TempDir::new("cfg-save");
    let other = TempDir::new("cfg-save-other");
    let mut values = crate::config::ConfigValues::default();
    values.apply("enable-protected-configs", b"yes").unwrap();
    let db = Db::builder()
        .config(values)
        .persistence(rdb_only(&dir.0))
        .open()
        .unwrap();
    let shown = db.config_get(&["dir"]);
    assert_eq!(
        shown[0].1,
        std::fs::canonicalize(&dir.0).unwrap().display().to_string()
    );
    db.config_set(&[("dir", other.0.to_str().unwrap()), ("dbfilename", "x.rdb")])
        .unwrap();
    db.call(["SET", "k", "v"]);
    assert_eq!(db.call(["SAVE"]), Reply::Ok);
    assert!(other.0.join("x.rdb").is_file());
    assert!(!dir.0.join("dump.rdb").exists());
    // A save point: one change in one second makes the persistence thread save.
    db.config_set(&[("dbfilename", "auto.rdb"), ("save", "1 1")])
        .unwrap();
    db.call(["SET", "k2", "v"]);
    wait_until("the save point", || other.0.join("auto.rdb").is_file());
    // A refused value undoes the whole CONFIG SET.
    assert!(
        db.config_set(&[("save", ""), ("dir", "/nonexistent-embedis-dir")])
            .is_err()
    );
    assert_eq!(db.config_get(&["save"])[0].1, "1 1");
}

#[test]
fn a_store_without_persistence_refuses_save_points_and_the_aof() {
    let db = Db::new();
    assert_eq!(db.config_get(&["save"])[0].1, "");
    assert_eq!(db.config_get(&["appendonly"])[0].1, "no");
    let e = db
        .config_set(&[("appendfsync", "always"), ("appendonly", "yes")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'appendonly'") && e.contains("not configured"),
        "{e}"
    );
    assert_eq!(db.config_get(&["appendfsync"])[0].1, "everysec");
    assert!(db.config_set(&[("save", "60 1")]).is_err());
    db.config_set(&[("save", ""), ("rdbcompression", "no")])
        .unwrap();
}

#[test]
fn bgsave_is_the_keyspace_at_its_request_whatever_runs_after() {
    let dir = TempDir::new("bgsave-pit");
    let db = open(rdb_only(&dir.0));
    for chunk in 0..20 {
        let mut cmd = vec!["MSET".to_string()];
        for i in chunk * 500..(chunk + 1) * 500 {
            cmd.push(format!("k{i}"));
            cmd.push(format!("v{i}"));
        }
        db.call(cmd);
    }
    db.call(["ZADD", "z", "1", "a", "2.5", "b"]);
    assert_eq!(
        db.call(["BGSAVE"]),
        Reply::status("Background saving started")
    );
    // Readers (which capture nothing), then writers of every kind, all shards included.
    assert_eq!(db.call(["DBSIZE"]), Reply::Int(10_001));
    db.call(["KEYS", "k1*"]);
    db.call(["MSET", "k1", "changed", "k2", "changed", "new", "1"]);
    db.call(["DEL", "k3", "k4"]);
    db.call(["ZADD", "z", "9", "c"]);
    db.call(["SET", "k5", "x", "EX", "100"]);
    db.call(["FLUSHDB"]);
    while db.engine().persist.state().unwrap().bgsave_in_progress() {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(db);
    let db = open(rdb_only(&dir.0));
    assert_eq!(db.call(["DBSIZE"]), Reply::Int(10_001));
    for i in [1, 2, 3, 4, 5, 9999] {
        assert_eq!(
            db.call(["GET", &format!("k{i}")]),
            Reply::bulk(format!("v{i}"))
        );
    }
    assert_eq!(db.call(["TTL", "k5"]), Reply::Int(-1));
    assert_eq!(db.call(["ZCARD", "z"]), Reply::Int(2));
    assert_eq!(db.call(["EXISTS", "new"]), Reply::Int(0));
}
