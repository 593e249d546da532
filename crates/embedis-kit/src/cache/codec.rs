//! How the cache turns values into bytes and back: [`Codec`], with [`Json`] (serde JSON,
//! feature `json`, the default), [`Cbor`] (compact binary serde, feature `cbor`) and [`Raw`]
//! (bytes and strings stored as they are).

use bytes::Bytes;

/// Encodes and decodes values of type `T`. A decode error is never fatal: the cache counts
/// it ([`CacheStats::decode_errors`](super::CacheStats::decode_errors)) and treats the
/// entry as a miss.
pub trait Codec<T>: Send + Sync + 'static {
    /// Appends the encoding of `value` to `out`.
    fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), String>;
    /// Decodes a value written by [`encode`](Codec::encode).
    fn decode(&self, bytes: &[u8]) -> Result<T, String>;
}

/// serde JSON: readable in `redis-cli`, works for any `Serialize + DeserializeOwned` type.
#[cfg(feature = "json")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

#[cfg(feature = "json")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> Codec<T> for Json {
    fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), String> {
        serde_json::to_writer(out, value).map_err(|e| e.to_string())
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// CBOR (RFC 8949) through ciborium: a compact binary encoding of serde types.
#[cfg(feature = "cbor")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Cbor;

#[cfg(feature = "cbor")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> Codec<T> for Cbor {
    fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), String> {
        ciborium::into_writer(value, out).map_err(|e| e.to_string())
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, String> {
        ciborium::from_reader(bytes).map_err(|e| e.to_string())
    }
}

/// The bytes as they are: for values already serialized (`Bytes`, `Vec<u8>`) or text
/// (`String`, checked to be UTF-8 on decode).
#[derive(Debug, Clone, Copy, Default)]
pub struct Raw;

impl Codec<Bytes> for Raw {
    fn encode(&self, value: &Bytes, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Bytes, String> {
        Ok(Bytes::copy_from_slice(bytes))
    }
}

impl Codec<Vec<u8>> for Raw {
    fn encode(&self, value: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        Ok(bytes.to_vec())
    }
}

impl Codec<String> for Raw {
    fn encode(&self, value: &String, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<String, String> {
        String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())
    }
}

/// The codec a [`Cache`](super::Cache) uses unless told otherwise: [`Json`] with feature
/// `json` (the default), else [`Raw`].
#[cfg(feature = "json")]
pub type DefaultCodec = Json;
/// The codec a [`Cache`](super::Cache) uses unless told otherwise: [`Json`] with feature
/// `json` (the default), else [`Raw`].
#[cfg(not(feature = "json"))]
pub type DefaultCodec = Raw;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trips_and_checks_utf8() {
        let mut out = Vec::new();
        Raw.encode(&"héllo".to_string(), &mut out).unwrap();
        let back: String = Raw.decode(&out).unwrap();
        assert_eq!(back, "héllo");
        assert!(<Raw as Codec<String>>::decode(&Raw, &[0xff, 0xfe]).is_err());
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_rejects_garbage() {
        assert!(<Json as Codec<Vec<u32>>>::decode(&Json, b"{not json").is_err());
        let mut out = Vec::new();
        Json.encode(&vec![1u32, 2], &mut out).unwrap();
        assert_eq!(out, b"[1,2]");
    }

    #[cfg(feature = "cbor")]
    #[test]
    fn cbor_round_trips_and_rejects_garbage() {
        let mut out = Vec::new();
        Cbor.encode(&vec![1u32, 2], &mut out).unwrap();
        assert_eq!(out, [0x82, 0x01, 0x02]);
        let back: Vec<u32> = Cbor.decode(&out).unwrap();
        assert_eq!(back, [1, 2]);
        assert!(<Cbor as Codec<Vec<u32>>>::decode(&Cbor, &[0xff, 0x00]).is_err());
    }
}
