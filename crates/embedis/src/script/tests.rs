//! Unit tests of the scripting engine through `Db::call` and sessions.

use crate::{Db, Reply};

fn eval(db: &Db, script: &str, keys: &[&str], args: &[&str]) -> Reply {
    let n = keys.len().to_string();
    let mut v: Vec<&str> = vec!["EVAL", script, &n];
    v.extend_from_slice(keys);
    v.extend_from_slice(args);
    db.call(v)
}

#[test]
fn smoke() {
    let db = Db::new();
    for s in [
        "return 1",
        "return {1,2,{3,'x'}}",
        "return redis.call('set', KEYS[1], ARGV[1])",
        "return redis.call('get', KEYS[1])",
        "return x",
        "x = 1",
        "return redis.call('nosuch')",
        "return redis.pcall('nosuch')",
        "error('boom')",
        "return math.random(1000)",
        "return cjson.encode({a=1})",
        "return 1+",
        "local t = {} t[1] = t return #t",
        "return pcall(redis.call, 'nosuch')",
        "local ok, e = pcall(redis.call, 'nosuch') return e",
        "return string.x",
        "string.x = 1",
        "return rawset(_G, 'x', 1)",
        "local function f() local x = nil return x.y end return f()",
        "return redis.call('incr', KEYS[1])",
    ] {
        println!("{s:?} => {:?}", eval(&db, s, &["k"], &["v"]));
    }
}
