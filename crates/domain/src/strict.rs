//! Strict JSON decoding: a struct with named fields is read from a JSON object only.
//!
//! serde's derived `Deserialize` also accepts a struct as a positional array (`[null, null]`
//! for `{"a": null, "b": null}`), and serde_json offers it one whenever the input is an array.
//! An API that means objects must not accept that: a client bug becomes a silent, all-default
//! value (self-protection turned off by `[null,null]`). [`Strict`] wraps any deserializer and,
//! at every depth, hands a struct's visitor only maps; an array where a struct belongs is the
//! error "invalid type: sequence, expected a JSON object". A number with no fraction (`5.0`,
//! `1e3`) is an integer, as JSON Schema and the published contract say. Everything else passes
//! through unchanged, so the wrapper composes with `serde_path_to_error`.

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use std::fmt;

/// A deserializer that reads structs from maps only, at every depth.
pub struct Strict<D>(pub D);

/// Passes a visitor through, wrapping every nested deserializer and access in [`Strict`].
struct Wrap<V>(V);

/// A struct's visitor: maps only.
struct StructOnly<V>(V);

struct Seed<S>(S);
struct Seq<A>(A);
struct Map<A>(A);
struct Enum<A>(A);
struct Variant<A>(A);

macro_rules! forward_deserialize {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.$method(Wrap(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Wrap(v))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Wrap(v))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Wrap(v))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap(v))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, StructOnly(v))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Wrap(v))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.0.$method(v)
        }
    )*};
}

macro_rules! visitor {
    ($name:ident, $expecting:expr, $seq:expr) => {
        impl<'de, V: Visitor<'de>> Visitor<'de> for $name<V> {
            type Value = V::Value;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                #[allow(clippy::redundant_closure_call)]
                ($expecting)(&self.0, f)
            }

            forward_visit!(
                visit_bool: bool, visit_i8: i8, visit_i16: i16, visit_i32: i32, visit_i64: i64, visit_i128: i128,
                visit_u8: u8, visit_u16: u16, visit_u32: u32, visit_u64: u64, visit_u128: u128,
                visit_f32: f32, visit_char: char, visit_str: &str, visit_borrowed_str: &'de str,
                visit_string: String, visit_bytes: &[u8], visit_borrowed_bytes: &'de [u8], visit_byte_buf: Vec<u8>
            );

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // JSON Schema counts `5.0` as the integer 5; so does this API.
                if v.fract() == 0.0 && (-9.0e18..=9.0e18).contains(&v) {
                    #[allow(clippy::cast_possible_truncation)]
                    return self.0.visit_i64(v as i64);
                }
                self.0.visit_f64(v)
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                self.0.visit_none()
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                self.0.visit_unit()
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                self.0.visit_some(Strict(d))
            }

            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                self.0.visit_newtype_struct(Strict(d))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                #[allow(clippy::redundant_closure_call)]
                ($seq)(self, seq)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                self.0.visit_map(Map(map))
            }

            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
                self.0.visit_enum(Enum(data))
            }
        }
    };
}

visitor!(Wrap, |v: &V, f: &mut fmt::Formatter<'_>| v.expecting(f), |w: Wrap<V>, seq: A| w.0.visit_seq(Seq(seq)));
visitor!(
    StructOnly,
    |_: &V, f: &mut fmt::Formatter<'_>| f.write_str("a JSON object"),
    |w: StructOnly<V>, _seq: A| Err(de::Error::invalid_type(de::Unexpected::Seq, &w))
);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(Seed(seed))?;
        Ok((value, Variant(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap(v))
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], v: V) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, StructOnly(v))
    }
}

/// Parses `json` into `T`, reading structs from objects only. On an error, the JSON path of
/// the bad member (`.` for the whole document) and serde's message.
pub fn from_json<'de, T: serde::Deserialize<'de>>(json: &'de [u8]) -> Result<T, (String, String)> {
    let de = &mut serde_json::Deserializer::from_slice(json);
    let value = serde_path_to_error::deserialize(Strict(&mut *de)).map_err(|e| {
        let path = match e.path().to_string() {
            p if p == "?" || p.is_empty() => ".".to_string(),
            p => p,
        };
        (path, e.into_inner().to_string())
    })?;
    de.end().map_err(|e| (".".to_string(), e.to_string()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::from_json;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        a: Option<i64>,
        b: Option<i64>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        inner: Option<Inner>,
        list: Vec<i64>,
        pair: Option<(i64, i64)>,
        #[serde(default)]
        nested: Vec<Inner>,
    }

    #[test]
    fn structs_come_from_objects_only_at_every_depth() {
        // What plain serde_json accepts and this refuses.
        assert!(serde_json::from_str::<Inner>("[null, null]").is_ok());
        let (field, message) = from_json::<Inner>(b"[null, null]").unwrap_err();
        assert_eq!(field, ".");
        assert!(message.starts_with("invalid type: sequence, expected a JSON object"), "{message}");
        let (field, _) = from_json::<Outer>(br#"{"inner": [1, 2], "list": []}"#).unwrap_err();
        assert_eq!(field, "inner");
        let (field, _) = from_json::<Outer>(br#"{"list": [], "nested": [{"a": 1}, [2, 3]]}"#).unwrap_err();
        assert_eq!(field, "nested[1]");
        let (_, message) = from_json::<Outer>(br#"{"list": [], "inner": 0}"#).unwrap_err();
        assert!(message.contains("expected a JSON object") && !message.contains("struct"), "{message}");
        // Arrays where arrays belong still work.
        let ok: Outer =
            from_json(br#"{"inner": {"a": 1}, "list": [1, 2], "pair": [3, 4], "nested": [{"b": 2}]}"#).unwrap();
        assert_eq!(ok.list, vec![1, 2]);
        assert_eq!(ok.pair, Some((3, 4)));
        assert_eq!(ok.nested, vec![Inner { a: None, b: Some(2) }]);
        assert_eq!(from_json::<Outer>(br#"{"list": []} x"#).unwrap_err().0, ".");
        // Integers as JSON Schema counts them; a fraction is still refused.
        let ok: Outer = from_json(br#"{"list": [5.0, 1e3], "pair": [-2.0, 0]}"#).unwrap();
        assert_eq!((ok.list, ok.pair), (vec![5, 1_000], Some((-2, 0))));
        assert_eq!(from_json::<Outer>(br#"{"list": [5.5]}"#).unwrap_err().0, "list[0]");
    }
}
