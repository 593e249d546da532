use std::hint::black_box;
use std::time::Instant;
use embedis::types::zset::SkipZSet;
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
fn main() {
    let n = 1_000_000u64;
    let members: Vec<String> = (0..n).map(|i| format!("member:{i}")).collect();
    let mut z = SkipZSet::new();
    let t = Instant::now();
    for (i, m) in members.iter().enumerate() { z.insert_new((mix(i as u64) % 1_000_000) as f64, m.as_bytes()); }
    println!("insert {:.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
    let t = Instant::now();
    for i in 0..100_000u64 { black_box(z.find(members[(mix(i) % n) as usize].as_bytes())); }
    println!("find {:.0} ns", t.elapsed().as_nanos() as f64 / 1e5);
    let ids: Vec<u32> = (0..100_000u64).map(|i| z.find(members[(mix(i) % n) as usize].as_bytes()).unwrap()).collect();
    let t = Instant::now();
    for id in &ids { black_box(z.list().rank(*id)); }
    println!("rank {:.0} ns", t.elapsed().as_nanos() as f64 / 1e5);
    let t = Instant::now();
    for i in 0..100_000u64 { black_box(z.list().by_rank((mix(i) % n) as usize + 1)); }
    println!("by_rank {:.0} ns", t.elapsed().as_nanos() as f64 / 1e5);
    let mut bt = std::collections::BTreeMap::new();
    let t = Instant::now();
    for (i, m) in members.iter().enumerate() { bt.insert(((mix(i as u64) % 1_000_000), m.as_bytes().to_vec()), ()); }
    println!("btreemap insert {:.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
    let t = Instant::now();
    for i in 0..100_000u64 { let j = mix(i) % n; black_box(bt.get(&((mix(j) % 1_000_000), members[j as usize].as_bytes().to_vec()))); }
    println!("btreemap get {:.0} ns", t.elapsed().as_nanos() as f64 / 1e5);
}
