//! The engine's keyed state maps (accounts, sessions, presentities, groups, ...).
//!
//! With the `compact` feature each value is stored boxed: every `BoxMap<K, _>` then has the node
//! layout of `BTreeMap<K, Box<_>>`, so the B-tree code (insert, remove, rebalancing) of all maps
//! with the same key type is byte-identical and `wasm-opt` keeps one copy of it instead of one per
//! value type (about 35 KB of the gzipped WebAssembly module). Without it (the native server)
//! the values are stored inline, as in a plain `BTreeMap<K, V>`: no extra allocation or pointer
//! hop per entry. Either way the map serialises exactly as `BTreeMap<K, V>` does.

use std::borrow::Borrow;
use std::collections::{BTreeMap, btree_map};
use std::fmt;
use std::ops::RangeBounds;

use serde::{Deserialize, Serialize};

#[cfg(feature = "compact")]
mod slot {
    /// A stored value: boxed, so that every value type has the same size.
    pub type Slot<V> = Box<V>;

    pub fn new<V>(value: V) -> Slot<V> {
        Box::new(value)
    }

    #[allow(clippy::boxed_local)] // the map hands its boxes over
    pub fn into_inner<V>(slot: Slot<V>) -> V {
        *slot
    }
}

#[cfg(not(feature = "compact"))]
mod slot {
    /// A stored value: inline.
    pub type Slot<V> = V;

    pub fn new<V>(value: V) -> Slot<V> {
        value
    }

    pub fn into_inner<V>(slot: Slot<V>) -> V {
        slot
    }
}

use slot::Slot;

/// A stored value, to read (through the box's `Deref` under `compact`, as is otherwise).
fn get<V>(slot: &Slot<V>) -> &V {
    slot
}

/// A stored value, to change.
fn get_mut<V>(slot: &mut Slot<V>) -> &mut V {
    slot
}

/// A `BTreeMap<K, V>` whose values are boxed under the `compact` feature (see the module
/// documentation); the API is the subset of `BTreeMap`'s that the engine uses.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    transparent,
    bound(deserialize = "K: Ord + Deserialize<'de>, V: Deserialize<'de>")
)]
pub struct BoxMap<K, V>(BTreeMap<K, Slot<V>>);

impl<K, V> Default for BoxMap<K, V> {
    fn default() -> Self {
        BoxMap(BTreeMap::new())
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for BoxMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn pair<'a, K, V>((k, v): (&'a K, &'a Slot<V>)) -> (&'a K, &'a V) {
    (k, get(v))
}

fn pair_mut<'a, K, V>((k, v): (&'a K, &'a mut Slot<V>)) -> (&'a K, &'a mut V) {
    (k, get_mut(v))
}

impl<K, V> BoxMap<K, V> {
    /// An empty map.
    pub const fn new() -> Self {
        BoxMap(BTreeMap::new())
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator + Clone {
        self.0.iter().map(pair)
    }

    /// The entries in key order, values mutable.
    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&K, &mut V)> + ExactSizeIterator {
        self.0.iter_mut().map(pair_mut)
    }

    /// The keys in order.
    pub fn keys(&self) -> btree_map::Keys<'_, K, Slot<V>> {
        self.0.keys()
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + Clone {
        self.0.values().map(get)
    }

    /// The values in key order, mutable.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.0.values_mut().map(get_mut)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0.clear()
    }
}

impl<K: Ord, V> BoxMap<K, V> {
    /// The value of `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.0.get(key).map(get)
    }

    /// The value of `key`, mutably.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.0.get_mut(key).map(get_mut)
    }

    /// Whether `key` is present.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.0.contains_key(key)
    }

    /// Sets `key` to `value`, giving back the old value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.0.insert(key, slot::new(value)).map(slot::into_inner)
    }

    /// Removes `key`, giving back its value.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.0.remove(key).map(slot::into_inner)
    }

    /// The entry of `key`.
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        Entry(self.0.entry(key))
    }

    /// The entries with keys in `range`.
    pub fn range<Q: Ord + ?Sized, R: RangeBounds<Q>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = (&K, &V)>
    where
        K: Borrow<Q>,
    {
        self.0.range(range).map(pair)
    }

    /// Keeps only the entries for which `f` is true.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        self.0.retain(|k, v| f(k, get_mut(v)))
    }
}

/// An entry of a [`BoxMap`].
pub struct Entry<'a, K, V>(btree_map::Entry<'a, K, Slot<V>>);

impl<'a, K: Ord, V> Entry<'a, K, V> {
    /// The value, inserting `V::default()` first when absent.
    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        get_mut(self.0.or_default())
    }

    /// The value, inserting `f()` first when absent.
    pub fn or_insert_with(self, f: impl FnOnce() -> V) -> &'a mut V {
        get_mut(self.0.or_insert_with(|| slot::new(f())))
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for BoxMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        BoxMap(iter.into_iter().map(|(k, v)| (k, slot::new(v))).collect())
    }
}

impl<K: Ord, V> Extend<(K, V)> for BoxMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.0
            .extend(iter.into_iter().map(|(k, v)| (k, slot::new(v))))
    }
}

impl<K, V> IntoIterator for BoxMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::iter::Map<btree_map::IntoIter<K, Slot<V>>, fn((K, Slot<V>)) -> (K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().map(|(k, v)| (k, slot::into_inner(v)))
    }
}

impl<'a, K, V> IntoIterator for &'a BoxMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter =
        std::iter::Map<btree_map::Iter<'a, K, Slot<V>>, fn((&'a K, &'a Slot<V>)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(pair)
    }
}

impl<'a, K, V> IntoIterator for &'a mut BoxMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = std::iter::Map<
        btree_map::IterMut<'a, K, Slot<V>>,
        fn((&'a K, &'a mut Slot<V>)) -> (&'a K, &'a mut V),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut().map(pair_mut)
    }
}
