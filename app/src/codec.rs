//! One JSON reader for everything the browser decodes.
//!
//! `serde_json` compiles a separate parser for every type *and every input kind*: a type read
//! both from a `&str` and from a `&[u8]` carries two copies of its decoder in the wasm.
//! Leptos's server functions read their answers from bytes, and its resources (the values the
//! server hands to hydration) and our live streams would read theirs from strings. So every
//! decode in the browser goes through bytes: [`decode`] for our own reads, [`JsonBytes`] for
//! resources. It took 78 KB of code out of the wasm before optimisation (2,600,583 to 2,522,668
//! bytes); README's "Bytes to first paint" has the figures.

use codee::{Decoder, Encoder};
use leptos::prelude::Resource;
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// Decodes JSON text by its bytes, sharing the decoders the server functions' answers use.
pub fn decode<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_slice(text.as_bytes())
}

/// Leptos's resource codec: `serde_json` out on the server, [`decode`] in the browser.
pub struct JsonBytes;

impl<T: Serialize> Encoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, Self::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, Self::Error> {
        decode(text)
    }
}

/// A resource (`Resource::new`) whose value reaches hydration through [`JsonBytes`].
#[track_caller]
pub fn resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, JsonBytes>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync + Clone + PartialEq + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Period;

    #[test]
    fn the_codec_round_trips_what_resources_carry() {
        let value: Result<Vec<Period>, String> = Ok(vec![Period::Week, Period::Day]);
        let text = <JsonBytes as Encoder<_>>::encode(&value).expect("encodes");
        let back: Result<Vec<Period>, String> =
            <JsonBytes as Decoder<_>>::decode(&text).expect("decodes");
        assert_eq!(back, value);
        let error: Result<Result<u8, String>, _> =
            <JsonBytes as Decoder<_>>::decode("{\"Ok\": 300}");
        assert!(error.is_err(), "300 is no u8");
    }
}
