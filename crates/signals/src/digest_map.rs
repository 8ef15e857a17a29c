//! A hash map keyed by 64-bit digests, kept in [`SHARDS`] shards by the digest's low bits.
//!
//! Feature state and payee history are taken into snapshots one shard at a time while the
//! affiliate's decisions wait. With one map, taking a part walked every key to pick its share;
//! with the keys already split, a part is one shard serialised in place. A growing shard also
//! rehashes a sixteenth of the keys at a time, not all of them at once.
//!
//! The serialised form is that of one map (length, then the pairs), so state saved before the
//! map was split reads back unchanged.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Shards of a [`DigestMap`]; a snapshot is taken in as many parts.
pub const SHARDS: usize = 16;

/// The shard a digest falls in.
pub fn shard_of(key: u64) -> usize {
    (key % SHARDS as u64) as usize
}

/// Hasher for keys that are already uniform digests. Within a shard every key has the same
/// low bits, which the table's bucket index would use, so they are shifted out and the rest
/// spread over all 64 bits by one multiply (the table's control byte reads the top bits).
#[derive(Default, Clone, Copy)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n >> SHARDS.trailing_zeros()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Shard<V> = HashMap<u64, V, BuildHasherDefault<DigestHasher>>;

/// A map from digests to `V` in [`SHARDS`] shards (see the module's documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct DigestMap<V> {
    shards: Box<[Shard<V>; SHARDS]>,
}

impl<V> Default for DigestMap<V> {
    fn default() -> Self {
        DigestMap { shards: Box::new(std::array::from_fn(|_| Shard::default())) }
    }
}

impl<V> DigestMap<V> {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(HashMap::is_empty)
    }

    /// Entries the shards have room for without growing.
    pub fn capacity(&self) -> usize {
        self.shards.iter().map(HashMap::capacity).sum()
    }

    /// The value of `key`.
    pub fn get(&self, key: &u64) -> Option<&V> {
        self.shards[shard_of(*key)].get(key)
    }

    /// Whether `key` is held.
    pub fn contains_key(&self, key: &u64) -> bool {
        self.shards[shard_of(*key)].contains_key(key)
    }

    /// The entry of `key`, to read or insert in place.
    pub fn entry(&mut self, key: u64) -> Entry<'_, u64, V> {
        self.shards[shard_of(key)].entry(key)
    }

    /// Sets `key`'s value, returning the old one.
    pub fn insert(&mut self, key: u64, value: V) -> Option<V> {
        self.shards[shard_of(key)].insert(key, value)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &u64) -> Option<V> {
        self.shards[shard_of(*key)].remove(key)
    }

    /// Every entry, shard by shard.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &V)> {
        self.shards.iter().flat_map(HashMap::iter)
    }

    /// Every value, shard by shard.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.shards.iter().flat_map(HashMap::values)
    }

    /// Keeps the entries `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&u64, &mut V) -> bool) {
        for s in self.shards.iter_mut() {
            s.retain(&mut keep);
        }
    }

    /// Gives back each shard's spare room where it holds more than twice its entries (a table
    /// that once held many keys must not keep their memory forever).
    pub fn shrink_spare(&mut self) {
        for s in self.shards.iter_mut() {
            if s.capacity() > 2 * s.len() + 8 {
                s.shrink_to(s.len() + s.len() / 4);
            }
        }
    }

    /// Moves every entry of `other` in (an entry of both takes `other`'s value).
    pub fn extend(&mut self, other: DigestMap<V>) {
        for (a, b) in self.shards.iter_mut().zip(*other.shards) {
            if a.is_empty() {
                *a = b;
            } else {
                a.extend(b);
            }
        }
    }

    /// A map of the entries `keep` accepts (every entry is visited).
    pub fn filter(&self, keep: impl Fn(u64) -> bool) -> DigestMap<V>
    where
        V: Clone,
    {
        self.iter().filter(|(k, _)| keep(**k)).map(|(k, v)| (*k, v.clone())).collect()
    }

    /// A map holding a copy of shard `i` alone (only that shard is visited).
    pub fn shard(&self, i: usize) -> DigestMap<V>
    where
        V: Clone,
    {
        let mut out = DigestMap::default();
        out.shards[i] = self.shards[i].clone();
        out
    }
}

/// Shard `i` of a [`DigestMap`], serialised as the map [`DigestMap::shard`] copies would be,
/// without copying it.
pub struct ShardRef<'a, V>(&'a Shard<V>);

impl<V> DigestMap<V> {
    /// Shard `i`, to serialise as [`DigestMap::shard`]`(i)` without copying it.
    pub fn shard_ref(&self, i: usize) -> ShardRef<'_, V> {
        ShardRef(&self.shards[i])
    }
}

impl<V: Serialize> Serialize for ShardRef<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<V> FromIterator<(u64, V)> for DigestMap<V> {
    fn from_iter<I: IntoIterator<Item = (u64, V)>>(iter: I) -> Self {
        let mut m = DigestMap::default();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl<V: Serialize> Serialize for DigestMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for DigestMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Read<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Read<V> {
            type Value = DigestMap<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map from digests")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut m = DigestMap::default();
                while let Some((k, v)) = a.next_entry::<u64, V>()? {
                    m.insert(k, v);
                }
                Ok(m)
            }
        }
        d.deserialize_map(Read(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// State saved as one map reads back into shards, and writes out as the same bytes.
    #[test]
    fn reads_and_writes_the_form_of_one_map() {
        let one: HashMap<u64, u32> = (0..100u64).map(|k| (k.wrapping_mul(0x2545_F491_4F6C_DD1D), k as u32)).collect();
        let bytes = postcard::to_allocvec(&one).unwrap();
        let split: DigestMap<u32> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(split.len(), 100);
        for (k, v) in &one {
            assert_eq!(split.get(k), Some(v));
        }
        let again: HashMap<u64, u32> = postcard::from_bytes(&postcard::to_allocvec(&split).unwrap()).unwrap();
        assert_eq!(again, one);
    }

    /// A shard's copy holds exactly the keys that fall in it, and the shards' copies put
    /// together are the whole map.
    #[test]
    fn a_shard_holds_the_keys_that_fall_in_it() {
        let m: DigestMap<u64> = (0..1000u64).map(|k| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k, k)).collect();
        let mut whole = DigestMap::default();
        for i in 0..SHARDS {
            let s = m.shard(i);
            assert!(s.iter().all(|(k, _)| shard_of(*k) == i));
            assert_eq!(s, m.filter(|k| shard_of(k) == i), "shard {i}");
            whole.extend(s);
        }
        assert_eq!(whole, m);
        assert!(m.shard(3).len() < m.len(), "a shard is not the whole map");
    }

    /// A shard serialised in place is the bytes of its copy.
    #[test]
    fn a_shard_serialised_in_place_is_its_copy() {
        let m: DigestMap<Vec<u32>> =
            (0..500u64).map(|k| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15), vec![k as u32; 3])).collect();
        for i in 0..SHARDS {
            assert_eq!(postcard::to_allocvec(&m.shard_ref(i)).unwrap(), postcard::to_allocvec(&m.shard(i)).unwrap());
        }
    }

    /// Keys that share a shard still spread over the shard's buckets: the hash is not their
    /// (constant) low bits.
    #[test]
    fn keys_of_one_shard_hash_apart() {
        let hash = |k: u64| {
            let mut h = DigestHasher::default();
            h.write_u64(k);
            h.finish()
        };
        let keys: Vec<u64> = (0..4096u64).map(|i| i * SHARDS as u64 + 5).collect();
        let low: std::collections::HashSet<u64> = keys.iter().map(|&k| hash(k) & 0xFF).collect();
        let top: std::collections::HashSet<u64> = keys.iter().map(|&k| hash(k) >> 57).collect();
        assert!(low.len() > 200, "low byte takes {} values", low.len());
        assert_eq!(top.len(), 128, "the top seven bits take every value");
    }
}
