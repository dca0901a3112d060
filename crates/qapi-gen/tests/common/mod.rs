//! Helpers: schemas written to a temporary directory and loaded from there.

#![allow(dead_code)] // Each test file uses a part.

use std::path::Path;

use qapi_gen::{Config, Schema};

/// The files of a schema in a temporary directory; the root is `main.json`.
pub struct Files {
    pub dir: tempfile::TempDir,
}

impl Files {
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (name, text) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("schema directory");
            }
            std::fs::write(&path, text).expect("schema file");
        }
        Self { dir }
    }

    pub fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("main.json")
    }

    pub fn load(&self, config: &Config) -> Result<Schema, String> {
        qapi_gen::load(&self.root(), config).map_err(|e| self.relative(&e.to_string()))
    }

    /// `text` with the directory prefix removed from paths.
    pub fn relative(&self, text: &str) -> String {
        let prefix = format!("{}/", self.dir.path().display());
        text.replace(&prefix, "")
    }
}

/// Loads a one-file schema with every condition false.
pub fn load(text: &str) -> Result<Schema, String> {
    Files::new(&[("main.json", text)]).load(&Config::default())
}

/// The error a one-file schema gives.
pub fn error(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("schema loaded, but an error was expected:\n{text}"),
        Err(e) => e,
    }
}

/// Compares `actual` with the checked-in file `name` under tests/golden; rewrites it when
/// `UPDATE_SNAPSHOTS` is set.
pub fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).expect("golden dir");
        std::fs::write(&path, actual).expect("golden file");
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing; run with UPDATE_SNAPSHOTS=1", path.display()));
    if expected != actual {
        panic!(
            "{} differs; rerun with UPDATE_SNAPSHOTS=1 and review the diff.\n--- actual ---\n{actual}",
            path.display()
        );
    }
}
