//! Fuzzes RESTORE payloads and whole RDB files: any bytes must give a value or an error,
//! never a panic, an abort or an unbounded allocation.
//!
//! Two paths per input: RESTORE with a checksum recomputed so that the bytes reach the
//! decoder (a payload with a wrong checksum is refused before decoding), and the RDB file
//! reader on the raw bytes behind an `REDIS0010` header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut payload = data.to_vec();
    payload.extend_from_slice(&10u16.to_le_bytes());
    let crc = embedis::persist::rdb::crc64::crc64(0, &payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    let db = embedis::Db::builder().active_expiry(false).build();
    let r = db.call([&b"RESTORE"[..], b"k", b"0", &payload]);
    if r == embedis::Reply::Ok {
        // What was restored dumps again and restores to an equal value.
        let again = db.dump("k").unwrap().unwrap();
        db.call([&b"RESTORE"[..], b"k2", b"0", &again]);
    }
    let _ = embedis::persist::dump::restore_functions(&payload);
    let mut file = b"REDIS0010".to_vec();
    file.extend_from_slice(data);
    let hasher = embedis::types::bytetable::MemberHasher::with_seed(1);
    let _ = embedis::persist::rdb::reader::read_file(&file, hasher, &Default::default(), true, |_| Ok(()));
});
