//! Generates the QMP types, the `Commands` trait, the dispatcher, the events and the
//! introspection data from the schema in `qapi/` at the workspace root. A schema error
//! fails the build with the file and line.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let root = manifest.join("../..");
    // Relative paths from the workspace root make errors read `qapi/ui.json:12: ...`.
    if let Err(e) = std::env::set_current_dir(&root) {
        eprintln!(
            "error: cannot enter the workspace root {}: {e}",
            root.display()
        );
        std::process::exit(1);
    }
    let root = std::env::current_dir().unwrap_or(root);
    let schema = Path::new("qapi/qapi-schema.json");
    println!("cargo:rerun-if-changed=build.rs");
    // The directory too, so that a fixed or new file reruns us even after an error.
    println!("cargo:rerun-if-changed={}", root.join("qapi").display());
    let loaded = qapi_gen::load(schema, &qapi_gen::Config::porthole());
    let s = match loaded {
        Ok(s) => s,
        Err(e) => {
            println!("cargo:rerun-if-changed={}", root.join(schema).display());
            eprintln!("error: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(cause) = src {
                eprintln!("  caused by: {cause}");
                src = cause.source();
            }
            std::process::exit(1);
        }
    };
    for f in &s.files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let code = qapi_gen::rust_code(&s);
    if let Err(e) = qapi_gen::write_if_changed(&out_dir.join("qapi.rs"), &code) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    test_schema(&root, &out_dir);
}

/// The generator's test schema, compiled into this crate's unit tests so that the code
/// for every construct (alternates, unions of both shapes, every built-in type) builds
/// and is exercised.
fn test_schema(root: &Path, out_dir: &Path) {
    let schema = Path::new("crates/qapi-gen/tests/golden/schema/main.json");
    println!(
        "cargo:rerun-if-changed={}",
        root.join("crates/qapi-gen/tests/golden/schema").display()
    );
    let config = qapi_gen::Config::new(["CONFIG_BLUE"]);
    let code = match qapi_gen::load(schema, &config) {
        Ok(s) => {
            for f in &s.files {
                println!("cargo:rerun-if-changed={}", root.join(f).display());
            }
            qapi_gen::rust_code(&s)
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = qapi_gen::write_if_changed(&out_dir.join("qapi_test.rs"), &code) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
