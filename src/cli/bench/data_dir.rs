//! A data directory of the bench's own under the system's temporary
//! directory, removed (with the dev witness directory beside it) when its
//! handle goes.

use std::path::{Path, PathBuf};

use crate::config::dev_witness_file;

#[derive(Debug)]
pub struct DataDir(PathBuf);

impl DataDir {
    pub fn create() -> std::io::Result<Self> {
        let dir = Self(std::env::temp_dir().join(format!("rootvault-bench-{}", uuid::Uuid::new_v4().simple())));
        std::fs::create_dir_all(&dir.0)?;
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        if let Some(witness) = dev_witness_file(&self.0).parent() {
            let _ = std::fs::remove_dir_all(witness);
        }
    }
}
