//! Redis 7 functions: libraries loaded with FUNCTION LOAD, their functions called with FCALL.
//!
//! A library is the code after a `#!lua name=<lib>` line; running it registers functions with
//! `redis.register_function`. Libraries live in the engine's functions Lua state (separate from
//! EVAL's, as in Redis), run under the load API (only `redis.register_function`, `redis.log`
//! and the version are visible) with a 500 ms limit. Library names are case-sensitive, function
//! names are looked up ignoring case, as in Redis.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Value};

use super::shebang::{self, ScriptFlags};
use super::vm::{Vm, raise_table};
use crate::error::{self, Error, Result};

/// One registered function.
#[derive(Debug, Clone)]
pub struct FunctionEntry {
    /// Its name, as registered.
    pub name: String,
    /// `description`, if given.
    pub description: Option<Bytes>,
    /// Its flags.
    pub flags: ScriptFlags,
    /// The Lua function to call.
    pub(crate) callback: Function,
}

/// A loaded library.
#[derive(Debug, Clone)]
pub struct Library {
    /// Its name.
    pub name: String,
    /// The whole payload given to FUNCTION LOAD (FUNCTION LIST WITHCODE).
    pub code: Bytes,
    /// Its functions, in registration order.
    pub functions: Vec<FunctionEntry>,
}

/// Every library, and an index of functions by lower-cased name.
#[derive(Debug, Default, Clone)]
pub struct Libraries {
    libs: BTreeMap<String, Library>,
    by_function: HashMap<String, String>,
}

impl Libraries {
    /// Libraries in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Library> {
        self.libs.values()
    }

    /// Number of libraries.
    pub fn len(&self) -> usize {
        self.libs.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.libs.is_empty()
    }

    /// Number of functions.
    pub fn function_count(&self) -> usize {
        self.by_function.len()
    }

    /// The function called `name` (any case).
    pub fn function(&self, name: &[u8]) -> Option<&FunctionEntry> {
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        let lib = self.libs.get(self.by_function.get(&key)?)?;
        lib.functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&key))
    }

    /// Removes library `name`; false if there is none.
    pub fn delete(&mut self, name: &[u8]) -> bool {
        let Ok(name) = std::str::from_utf8(name) else {
            return false;
        };
        match self.libs.remove(name) {
            Some(lib) => {
                for f in &lib.functions {
                    self.by_function.remove(&f.name.to_ascii_lowercase());
                }
                true
            }
            None => false,
        }
    }

    /// Adds every library of `src` (FUNCTION RESTORE APPEND/REPLACE, Redis's `libraryJoin`):
    /// a library name already here fails unless `replace`, then a function name owned by a
    /// library that stays fails. Nothing changes on failure.
    pub(crate) fn join(&mut self, src: Libraries, replace: bool) -> Result<()> {
        let mut merged = self.clone();
        for lib in src.libs.values() {
            if merged.libs.contains_key(&lib.name) {
                if !replace {
                    return Err(Error::err_msg(format_args!(
                        "Library {} already exists",
                        lib.name
                    )));
                }
                merged.delete(lib.name.as_bytes());
            }
        }
        for lib in src.libs.values() {
            for f in &lib.functions {
                if merged
                    .by_function
                    .contains_key(&f.name.to_ascii_lowercase())
                {
                    return Err(Error::err_msg(format_args!(
                        "Function {} already exists",
                        f.name
                    )));
                }
            }
        }
        for lib in src.libs.into_values() {
            merged.insert(lib);
        }
        *self = merged;
        Ok(())
    }

    fn insert(&mut self, lib: Library) {
        for f in &lib.functions {
            self.by_function
                .insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }
}

/// What one `redis.register_function` call gave.
struct Registered {
    name: Vec<u8>,
    description: Option<Bytes>,
    flags: ScriptFlags,
    callback: Function,
}

/// A string-or-number argument as bytes (`luaGetStringSds`).
fn string_like(lua: &Lua, v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) => lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.as_bytes().to_vec()),
        _ => None,
    }
}

fn fail<T>(text: &str) -> mlua::Result<T> {
    Err(raise_table(format!("ERR {text}")))
}

/// `redis.register_function(name, callback)` or `redis.register_function{...}`.
fn read_args(lua: &Lua, args: &MultiValue) -> mlua::Result<Registered> {
    if args.is_empty() || args.len() > 2 {
        return fail("wrong number of arguments to redis.register_function");
    }
    if args.len() == 2 {
        let Some(name) = string_like(lua, &args[0]) else {
            return fail("first argument to redis.register_function must be a string");
        };
        let Value::Function(callback) = &args[1] else {
            return fail("second argument to redis.register_function must be a function");
        };
        return Ok(Registered {
            name,
            description: None,
            flags: ScriptFlags::default(),
            callback: callback.clone(),
        });
    }
    let Value::Table(t) = &args[0] else {
        return fail(
            "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
        );
    };
    let (mut name, mut description, mut callback, mut flags) = (None, None, None, 0);
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let Some(key) = string_like(lua, &k) else {
            return fail("named argument key given to redis.register_function is not a string");
        };
        if key.eq_ignore_ascii_case(b"function_name") {
            match string_like(lua, &v) {
                Some(n) => name = Some(n),
                None => {
                    return fail(
                        "function_name argument given to redis.register_function must be a string",
                    );
                }
            }
        } else if key.eq_ignore_ascii_case(b"description") {
            match string_like(lua, &v) {
                Some(d) => description = Some(Bytes::from(d)),
                None => {
                    return fail(
                        "description argument given to redis.register_function must be a string",
                    );
                }
            }
        } else if key.eq_ignore_ascii_case(b"callback") {
            match v {
                Value::Function(f) => callback = Some(f),
                _ => {
                    return fail(
                        "callback argument given to redis.register_function must be a function",
                    );
                }
            }
        } else if key.eq_ignore_ascii_case(b"flags") {
            let Value::Table(list) = v else {
                return fail(
                    "flags argument to redis.register_function must be a table representing function flags",
                );
            };
            let mut j = 1;
            loop {
                let item: Value = list.get(j)?;
                if matches!(item, Value::Nil) {
                    break;
                }
                let bit = string_like(lua, &item).and_then(|s| ScriptFlags::by_name(&s, true));
                match bit {
                    Some(bit) => flags |= bit,
                    None => return fail("unknown flag given"),
                }
                j += 1;
            }
        } else {
            return fail("unknown argument given to redis.register_function");
        }
    }
    let Some(name) = name else {
        return fail("redis.register_function must get a function name argument");
    };
    let Some(callback) = callback else {
        return fail("redis.register_function must get a callback argument");
    };
    Ok(Registered {
        name,
        description,
        flags: ScriptFlags::from_bits(flags),
        callback,
    })
}

/// Compiles and runs a library's code in `vm`, collecting its functions. Errors are FUNCTION
/// LOAD's replies (`Error compiling function: ...`, `Error registering functions: ...`).
pub(crate) fn run_library(vm: &Vm, code: &[u8]) -> Result<Vec<FunctionEntry>> {
    let f = vm
        .compile("@user_function", code)
        .map_err(|m| Error::err_msg(format_args!("Error compiling function: {m}")))?;
    let registered: RefCell<Vec<Registered>> = RefCell::new(Vec::new());
    let outcome = vm.lua.scope(|scope| {
        let register = scope.create_function(|lua, args: MultiValue| {
            let r = read_args(lua, &args)?;
            if !shebang::valid_name(&r.name) {
                return fail(
                    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
                );
            }
            let mut list = registered.borrow_mut();
            if list.iter().any(|x| x.name == r.name) {
                return fail("Function already exists in the library");
            }
            list.push(r);
            Ok(())
        })?;
        vm.set_register(Some(register))?;
        let r = vm.call_for_load(&f);
        vm.set_register(None)?;
        Ok(r)
    });
    let outcome =
        outcome.map_err(|e| Error::err_msg(format_args!("Error registering functions: {e}")))?;
    if let Err(e) = outcome {
        let msg = load_error_text(&vm.lua, &e);
        return Err(Error::script(
            format!("ERR Error registering functions: {msg}").as_bytes(),
        ));
    }
    Ok(registered
        .into_inner()
        .into_iter()
        .map(|r| FunctionEntry {
            name: String::from_utf8_lossy(&r.name).into_owned(),
            description: r.description,
            flags: r.flags,
            callback: r.callback,
        })
        .collect())
}

/// Redis's `luaExtractErrorInformation(...).msg` for an error raised while loading: a string
/// error becomes `ERR <string>`, a table error its `err` field.
fn load_error_text(lua: &Lua, e: &Value) -> String {
    match e {
        Value::Table(t) => match t.get::<Value>("err") {
            Ok(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => lua
                .coerce_string(v)
                .ok()
                .flatten()
                .map(|s| s.to_string_lossy())
                .unwrap_or_default(),
            _ => String::new(),
        },
        other => {
            let s = lua
                .coerce_string(other.clone())
                .ok()
                .flatten()
                .map(|s| s.to_string_lossy())
                .unwrap_or_else(|| super::vm::type_name(other).to_string());
            format!("ERR {s}")
        }
    }
}

/// FUNCTION LOAD: checks the metadata, runs the library, and links it unless a library or
/// function name collides. Returns the library name.
pub(crate) fn load(
    vm: &Vm,
    libs: &mut Libraries,
    payload: &Bytes,
    replace: bool,
) -> Result<String> {
    let meta = shebang::library_meta(payload)?;
    if !shebang::valid_name(&meta.name) {
        return Err(error::LIBRARY_NAME_INVALID);
    }
    if !meta.engine.eq_ignore_ascii_case(b"lua") {
        return Err(Error::err_msg(format_args!(
            "Engine '{}' not found",
            String::from_utf8_lossy(&meta.engine)
        )));
    }
    let name = String::from_utf8_lossy(&meta.name).into_owned();
    if libs.libs.contains_key(&name) && !replace {
        return Err(Error::err_msg(format_args!(
            "Library '{name}' already exists"
        )));
    }
    let functions = run_library(vm, &payload[meta.code_start..])?;
    if functions.is_empty() {
        return Err(error::NO_FUNCTIONS_REGISTERED);
    }
    for f in &functions {
        if let Some(owner) = libs.by_function.get(&f.name.to_ascii_lowercase())
            && *owner != name
        {
            return Err(Error::err_msg(format_args!(
                "Function {} already exists",
                f.name
            )));
        }
    }
    libs.delete(name.as_bytes());
    libs.insert(Library {
        name: name.clone(),
        code: payload.clone(),
        functions,
    });
    Ok(name)
}
