//! Result cache: class probabilities keyed by the SHA-256 of the uploaded image bytes, evicted
//! least-recently-used first. Identical uploads skip decoding and inference entirely.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;
use sha2::{Digest, Sha256};

pub type ImageKey = [u8; 32];

pub fn image_key(bytes: &[u8]) -> ImageKey {
    Sha256::digest(bytes).into()
}

/// An LRU map from image hash to probabilities; capacity 0 disables it.
pub struct ResultCache {
    entries: Option<Mutex<LruCache<ImageKey, Arc<[f32]>>>>,
}

impl ResultCache {
    pub fn new(capacity: usize) -> Self {
        ResultCache { entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))) }
    }

    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    pub fn get(&self, key: &ImageKey) -> Option<Arc<[f32]>> {
        let entries = self.entries.as_ref()?;
        entries.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }

    pub fn insert(&self, key: ImageKey, probs: Arc<[f32]>) {
        if let Some(entries) = &self.entries {
            entries.lock().unwrap_or_else(PoisonError::into_inner).put(key, probs);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.lock().unwrap_or_else(PoisonError::into_inner).len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probs(v: f32) -> Arc<[f32]> {
        Arc::from(vec![v, 1.0 - v])
    }

    #[test]
    fn evicts_least_recently_used() {
        let cache = ResultCache::new(2);
        let (a, b, c) = (image_key(b"a"), image_key(b"b"), image_key(b"c"));
        cache.insert(a, probs(0.1));
        cache.insert(b, probs(0.2));
        assert!(cache.get(&a).is_some()); // a is now the most recent
        cache.insert(c, probs(0.3));
        assert!(cache.get(&b).is_none(), "b was least recently used");
        assert_eq!(cache.get(&a).as_deref(), Some(&[0.1, 0.9][..]));
        assert_eq!(cache.get(&c).as_deref(), Some(&[0.3, 0.7][..]));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn capacity_zero_disables() {
        let cache = ResultCache::new(0);
        cache.insert(image_key(b"a"), probs(0.5));
        assert!(!cache.enabled());
        assert!(cache.get(&image_key(b"a")).is_none());
    }

    #[test]
    fn key_is_sha256_of_bytes() {
        assert_eq!(
            hex::encode(image_key(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
