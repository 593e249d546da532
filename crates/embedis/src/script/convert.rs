//! Conversions between command replies and Lua values, both ways, as Redis 7.0 does them.
//!
//! Reply to Lua (`redis.call`'s result), depending on the protocol the script chose with
//! `redis.setresp` (2 by default): integers become numbers, bulk strings strings, nulls `false`
//! (RESP2) or `nil` (RESP3), statuses `{ok=...}`, errors `{err=...}`, arrays tables; under RESP3
//! maps become `{map={...}}`, sets `{set={member=true}}`, doubles `{double=n}`, booleans
//! booleans, verbatim strings `{verbatim_string={format=, string=}}`, while RESP2 sees them as
//! Redis sends them to a RESP2 client.
//!
//! Lua to reply (a script's result): strings are bulk strings, numbers integers (truncated like a
//! C cast), `true` 1 (RESP3: a boolean), `false` and nil null, tables with a string `err` an
//! error, with a string `ok` a status, `double`, `map`, `set`, `verbatim_string` and
//! `big_number` the RESP3 shapes, any other table an array of its items 1..n up to the first
//! nil.
//!
//! Known gap: a verbatim string's format is not kept (`txt` always), because [`Reply`] has no
//! such shape.
//!
//! Depth: Redis converts a script's result recursively on the Lua stack and replies "reached
//! lua stack limit" for an element where fewer than 4 slots are left of Lua's 8000
//! (`lua_checkstack`); an array level takes one slot, a map or set level three (four for a map key). The
//! conversion here is iterative and counts the same slots, so the cut falls where Redis's does
//! (a table containing itself gives 7995 levels of arrays).

use std::borrow::Cow;

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use super::vm::{c_i64, error_text};
use crate::error::Error;
use crate::num::fmt_f64_17g;
use crate::reply::Reply;

/// Lua's `LUAI_MAXCSTACK`: the most stack slots a C function may use.
const LUA_MAX_C_STACK: usize = 8000;
/// Slots in use when Redis starts converting a script's result (the result among them).
const ROOT_SLOTS: usize = 2;

/// `{err = text}` for an error reply of a command (Redis's `luaPushErrorBuff("-" .. text)`).
pub fn error_table(lua: &Lua, e: &Error) -> mlua::Result<Table> {
    let text = format!("-{e}");
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(error_text(text.as_bytes()))?)?;
    Ok(t)
}

fn single(lua: &Lua, key: &str, v: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(key, v)?;
    Ok(Value::Table(t))
}

/// A command's reply as the script sees it (`resp` is the script's protocol).
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp: u8) -> mlua::Result<Value> {
    stacker::maybe_grow(
        super::cjson::STACK_RED_ZONE,
        super::cjson::STACK_SEGMENT,
        || reply_to_lua_inner(lua, reply, resp),
    )
}

fn reply_to_lua_inner(lua: &Lua, reply: &Reply, resp: u8) -> mlua::Result<Value> {
    let resp3 = resp >= 3;
    Ok(match reply {
        Reply::Ok => single(lua, "ok", "OK")?,
        Reply::Status(s) => single(lua, "ok", lua.create_string(s.as_bytes())?)?,
        Reply::Error(e) => Value::Table(error_table(lua, e)?),
        Reply::Int(n) => Value::Number(*n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        // Pushed never reaches a script (SUBSCRIBE and friends are `noscript`); like nil.
        Reply::Nil | Reply::NilArray | Reply::Pushed => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) | Reply::Push(items) | Reply::Frames(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, item, resp)?)?;
            }
            Value::Table(t)
        }
        Reply::Map(pairs) => {
            if resp3 {
                let t = lua.create_table()?;
                for (k, v) in pairs {
                    let k = reply_to_lua(lua, k, resp)?;
                    if matches!(k, Value::Nil) {
                        continue;
                    }
                    t.raw_set(k, reply_to_lua(lua, v, resp)?)?;
                }
                single(lua, "map", t)?
            } else {
                let t = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    t.raw_set(2 * i + 1, reply_to_lua(lua, k, resp)?)?;
                    t.raw_set(2 * i + 2, reply_to_lua(lua, v, resp)?)?;
                }
                Value::Table(t)
            }
        }
        Reply::Set(items) => {
            if resp3 {
                let t = lua.create_table()?;
                for item in items {
                    let k = reply_to_lua(lua, item, resp)?;
                    if matches!(k, Value::Nil) {
                        continue;
                    }
                    t.raw_set(k, true)?;
                }
                single(lua, "set", t)?
            } else {
                let t = lua.create_table_with_capacity(items.len(), 0)?;
                for (i, item) in items.iter().enumerate() {
                    t.raw_set(i + 1, reply_to_lua(lua, item, resp)?)?;
                }
                Value::Table(t)
            }
        }
        Reply::Double(d) => {
            if resp3 {
                single(lua, "double", *d)?
            } else {
                Value::String(lua.create_string(fmt_f64_17g(*d))?)
            }
        }
        Reply::Bool(b) => {
            if resp3 {
                Value::Boolean(*b)
            } else {
                Value::Number(*b as i64 as f64)
            }
        }
        Reply::BigNumber(b) => {
            if resp3 {
                single(lua, "big_number", lua.create_string(b)?)?
            } else {
                Value::String(lua.create_string(b)?)
            }
        }
        Reply::Verbatim(b) => {
            if resp3 {
                let inner = lua.create_table()?;
                inner.raw_set("format", "txt")?;
                inner.raw_set("string", lua.create_string(b)?)?;
                single(lua, "verbatim_string", inner)?
            } else {
                Value::String(lua.create_string(b)?)
            }
        }
    })
}

/// The text of a Lua string up to its first NUL (Redis copies it as a C string).
fn c_text(s: &mlua::LuaString) -> Vec<u8> {
    let b = s.as_bytes();
    b[..memchr::memchr(0, &b).unwrap_or(b.len())].to_vec()
}

/// A string field of a table, read raw (`lua_rawget` and a strict type check).
fn raw_string(t: &Table, key: &str) -> Option<mlua::LuaString> {
    match t.raw_get::<Value>(key) {
        Ok(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// A script's result as a reply (`resp` is the script's protocol: it decides how booleans
/// reply). Iterative, so that a deep table cannot exhaust the thread's stack.
pub fn lua_to_reply(v: &Value, resp: u8) -> Reply {
    /// A table being converted: its children in reply order, and the replies so far.
    struct Frame {
        shape: Shape,
        children: std::vec::IntoIter<Value>,
        done: Vec<Reply>,
        /// Lua stack slots Redis uses while converting this table.
        slots: usize,
    }
    impl Frame {
        /// The slots in use while Redis converts this table's next child: an array element is
        /// pushed on top of its table; a map value or set member sits above the map (set)
        /// table and the key and value Lua's `next` pushed, a map key also above a copy of
        /// itself (measured on Redis 7.0: a table containing itself is cut after 7995 levels as
        /// an array, 2665 as a map value or set member, 1999 as a map key).
        fn child_slots(&self) -> usize {
            self.slots
                + match self.shape {
                    Shape::Array => 1,
                    Shape::Map if self.done.len() % 2 == 0 => 4,
                    Shape::Map | Shape::Set => 3,
                }
        }
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut current = v.clone();
    loop {
        let slots = stack.last().map_or(ROOT_SLOTS, Frame::child_slots);
        // Convert `current`: a leaf gives a reply, a container pushes a frame.
        let mut reply = if slots + 4 > LUA_MAX_C_STACK {
            Some(Reply::Error(Error::script(b"ERR reached lua stack limit")))
        } else {
            match leaf_or_children(&current, resp) {
                Converted::Leaf(r) => Some(r),
                Converted::Children(shape, children) => {
                    stack.push(Frame {
                        shape,
                        children: children.into_iter(),
                        done: Vec::new(),
                        slots,
                    });
                    None
                }
            }
        };
        // Hand finished replies to their parents until a frame has more children.
        loop {
            let Some(top) = stack.last_mut() else {
                return reply.unwrap_or(Reply::Nil);
            };
            if let Some(r) = reply.take() {
                top.done.push(r);
            }
            if let Some(next) = top.children.next() {
                current = next;
                break;
            }
            let Some(frame) = stack.pop() else {
                return Reply::Nil;
            };
            reply = Some(frame.shape.build(frame.done));
        }
    }
}

/// The kind of container a table replies as.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Array,
    Map,
    Set,
}

impl Shape {
    fn build(self, items: Vec<Reply>) -> Reply {
        match self {
            Shape::Array => Reply::Array(items),
            Shape::Set => Reply::Set(items),
            Shape::Map => {
                let mut pairs = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Reply::Map(pairs)
            }
        }
    }
}

enum Converted {
    Leaf(Reply),
    /// A container and its children in order (map: key, value, key, value...).
    Children(Shape, Vec<Value>),
}

fn leaf_or_children(v: &Value, resp: u8) -> Converted {
    Converted::Leaf(match v {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) => {
            if resp >= 3 {
                Reply::Bool(*b)
            } else if *b {
                Reply::Int(1)
            } else {
                Reply::Nil
            }
        }
        Value::Integer(i) => Reply::Int(*i),
        Value::Number(n) => Reply::Int(c_i64(*n)),
        Value::Table(t) => return table(t),
        _ => Reply::Nil,
    })
}

fn table(t: &Table) -> Converted {
    if let Some(e) = raw_string(t, "err") {
        return Converted::Leaf(Reply::Error(Error::script(&c_text(&e))));
    }
    if let Some(ok) = raw_string(t, "ok") {
        let text: String = String::from_utf8_lossy(&c_text(&ok))
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        return Converted::Leaf(Reply::Status(Cow::Owned(text)));
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(n)) => return Converted::Leaf(Reply::Double(n)),
        Ok(Value::Integer(i)) => return Converted::Leaf(Reply::Double(i as f64)),
        _ => {}
    }
    if let Some(b) = raw_string(t, "big_number") {
        let text: Vec<u8> = b
            .as_bytes()
            .iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect();
        return Converted::Leaf(Reply::BigNumber(Bytes::from(text)));
    }
    if let Ok(Value::Table(vs)) = t.raw_get::<Value>("verbatim_string")
        && raw_string(&vs, "format").is_some()
        && let Some(s) = raw_string(&vs, "string")
    {
        return Converted::Leaf(Reply::Verbatim(Bytes::copy_from_slice(&s.as_bytes())));
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let mut children = Vec::new();
        for pair in m.pairs::<Value, Value>() {
            let Ok((k, v)) = pair else { break };
            children.push(k);
            children.push(v);
        }
        return Converted::Children(Shape::Map, children);
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let mut children = Vec::new();
        for pair in s.pairs::<Value, Value>() {
            let Ok((k, _)) = pair else { break };
            children.push(k);
        }
        return Converted::Children(Shape::Set, children);
    }
    let mut children = Vec::new();
    let mut j = 1;
    loop {
        let item = t.raw_get::<Value>(j).unwrap_or(Value::Nil);
        if matches!(item, Value::Nil) {
            break;
        }
        children.push(item);
        j += 1;
    }
    Converted::Children(Shape::Array, children)
}
