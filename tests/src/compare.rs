//! Comparing two replies under a case line's directive (exact, unordered, approx, shape).

use crate::cases::Compare;
use crate::frame::Frame;

/// Whether `a` and `b` count as the same reply under `how`.
pub fn same(how: Compare, a: &Frame, b: &Frame) -> bool {
    match how {
        Compare::Exact => a == b,
        Compare::Unordered => sorted(a) == sorted(b),
        Compare::Approx(n) => approx(n, a, b),
        Compare::Shape => {
            a.kind() == b.kind()
                && a.aggregate_len() == b.aggregate_len()
                && nullness(a) == nullness(b)
        }
        Compare::Skip => true,
    }
}

/// `$-1` and `$3` share a type marker but not a shape.
fn nullness(f: &Frame) -> bool {
    matches!(f, Frame::NullBulk | Frame::NullArray | Frame::Null)
}

/// The frame with every aggregate's elements sorted, innermost first (map entries by their
/// encoded key and value). Order between elements is their RESP encoding's byte order:
/// arbitrary but total and stable.
pub fn sorted(f: &Frame) -> Frame {
    fn sort_list(v: &[Frame]) -> Vec<Frame> {
        let mut v: Vec<Frame> = v.iter().map(sorted).collect();
        v.sort_by_cached_key(Frame::to_resp);
        v
    }
    match f {
        Frame::Array(v) => Frame::Array(sort_list(v)),
        Frame::Set(v) => Frame::Set(sort_list(v)),
        Frame::Push(v) => Frame::Push(sort_list(v)),
        Frame::Map(v) => {
            let mut v: Vec<(Frame, Frame)> =
                v.iter().map(|(k, x)| (sorted(k), sorted(x))).collect();
            v.sort_by_cached_key(|(k, x)| (k.to_resp(), x.to_resp()));
            Frame::Map(v)
        }
        Frame::Attribute { attrs, reply } => Frame::Attribute {
            attrs: attrs.clone(),
            reply: Box::new(sorted(reply)),
        },
        other => other.clone(),
    }
}

/// Same structure, integers within `n` of each other, everything else equal.
fn approx(n: i64, a: &Frame, b: &Frame) -> bool {
    let all = |x: &[Frame], y: &[Frame]| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| approx(n, p, q))
    };
    match (a, b) {
        (Frame::Int(x), Frame::Int(y)) => x.abs_diff(*y) <= n.unsigned_abs(),
        (Frame::Array(x), Frame::Array(y))
        | (Frame::Set(x), Frame::Set(y))
        | (Frame::Push(x), Frame::Push(y)) => all(x, y),
        (Frame::Map(x), Frame::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| approx(n, k1, k2) && approx(n, v1, v2))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn exact_distinguishes_nulls_and_types() {
        assert!(same(Compare::Exact, &bulk("1"), &bulk("1")));
        assert!(!same(Compare::Exact, &bulk("1"), &Frame::Int(1)));
        assert!(!same(Compare::Exact, &Frame::NullBulk, &Frame::NullArray));
        assert!(!same(Compare::Exact, &Frame::NullBulk, &Frame::Null));
    }

    #[test]
    fn unordered_sorts_recursively() {
        let a = Frame::Array(vec![Frame::Array(vec![bulk("b"), bulk("a")]), bulk("z")]);
        let b = Frame::Array(vec![bulk("z"), Frame::Array(vec![bulk("a"), bulk("b")])]);
        assert!(same(Compare::Unordered, &a, &b));
        assert!(!same(Compare::Exact, &a, &b));
        let c = Frame::Array(vec![bulk("z"), Frame::Array(vec![bulk("a")])]);
        assert!(!same(Compare::Unordered, &a, &c));
        // Duplicates still count.
        let d1 = Frame::Array(vec![bulk("a"), bulk("a"), bulk("b")]);
        let d2 = Frame::Array(vec![bulk("a"), bulk("b"), bulk("b")]);
        assert!(!same(Compare::Unordered, &d1, &d2));
    }

    #[test]
    fn approx_allows_small_integer_drift_only() {
        assert!(same(Compare::Approx(1), &Frame::Int(100), &Frame::Int(99)));
        assert!(!same(Compare::Approx(1), &Frame::Int(100), &Frame::Int(98)));
        assert!(same(
            Compare::Approx(2),
            &Frame::Array(vec![Frame::Int(5), bulk("x")]),
            &Frame::Array(vec![Frame::Int(7), bulk("x")])
        ));
        assert!(!same(
            Compare::Approx(2),
            &Frame::Array(vec![Frame::Int(5), bulk("x")]),
            &Frame::Array(vec![Frame::Int(5), bulk("y")])
        ));
        assert!(same(
            Compare::Approx(0),
            &Frame::Int(i64::MIN),
            &Frame::Int(i64::MIN)
        ));
        assert!(!same(
            Compare::Approx(5),
            &Frame::Int(i64::MIN),
            &Frame::Int(i64::MAX)
        ));
    }

    #[test]
    fn shape_compares_type_and_length() {
        assert!(same(Compare::Shape, &bulk("abc"), &bulk("xy")));
        assert!(!same(Compare::Shape, &bulk("abc"), &Frame::NullBulk));
        assert!(!same(Compare::Shape, &bulk("1"), &Frame::Int(1)));
        let two = Frame::Array(vec![bulk("1"), bulk("2")]);
        let two_other = Frame::Array(vec![bulk("9"), Frame::Int(3)]);
        let one = Frame::Array(vec![bulk("1")]);
        assert!(same(Compare::Shape, &two, &two_other));
        assert!(!same(Compare::Shape, &two, &one));
    }

    #[test]
    fn skip_accepts_anything() {
        assert!(same(
            Compare::Skip,
            &Frame::Int(1),
            &Frame::Error(b"ERR".to_vec())
        ));
    }
}
