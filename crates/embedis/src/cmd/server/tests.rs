//! Server commands through `Db::call`, checked against replies recorded from Redis 7.0.

use super::*;
