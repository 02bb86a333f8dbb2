//! `imps-tests`: tests that span crates. Helpers shared by the test files live here.

use std::cell::RefCell;
use std::rc::Rc;

use imps_engine::store::{MemoryStore, Record, StorageBatch, Store};

/// A handle on a [`MemoryStore`] shared between "restarts", so the storage conformance suite
/// (which reopens its backend) sees the same data after a reopen, as it would on disk.
#[derive(Debug, Clone, Default)]
pub struct SharedMemoryStore(Rc<RefCell<MemoryStore>>);

impl SharedMemoryStore {
    /// Empties the shared store (the suite's "fresh" open).
    pub fn wipe(&self) {
        *self.0.borrow_mut() = MemoryStore::default();
    }
}

impl Store for SharedMemoryStore {
    type Error = std::convert::Infallible;

    fn apply(&mut self, batch: &StorageBatch) -> Result<(), Self::Error> {
        self.0.borrow_mut().apply(batch)
    }

    fn apply_all(&mut self, batches: &[StorageBatch]) -> Result<(), Self::Error> {
        self.0.borrow_mut().apply_all(batches)
    }

    fn load(&self) -> Result<Vec<Record>, Self::Error> {
        self.0.borrow().load()
    }
}
