//! Typed generic key methods.

use crate::cmd::keys::{del_exec, exists_exec};
use crate::db::Db;

impl Db {
    /// DEL: removes the keys, returning how many existed.
    pub fn del<K: AsRef<[u8]>>(&self, keys: &[K]) -> i64 {
        match keys {
            [one] => self.with_key(one.as_ref(), |a| del_exec(a, keys)),
            _ => self.with_all(|a| del_exec(a, keys)),
        }
    }

    /// EXISTS: how many of the keys exist.
    pub fn exists<K: AsRef<[u8]>>(&self, keys: &[K]) -> i64 {
        match keys {
            [one] => self.with_key(one.as_ref(), |a| exists_exec(a, keys)),
            _ => self.with_all(|a| exists_exec(a, keys)),
        }
    }
}
