//! Golden tests: the outputs for the test schema in tests/golden/schema (which exercises
//! every construct), pinned in tests/golden. Regenerate with `UPDATE_SNAPSHOTS=1` and
//! review the diff. The qapi crate compiles the Rust output in its unit tests.

mod common;

use std::path::Path;

use common::golden;
use qapi_gen::{Config, Schema, introspect};

fn schema() -> Schema {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/schema/main.json");
    qapi_gen::load(&root, &Config::new(["CONFIG_BLUE"])).expect("test schema loads")
}

#[test]
fn introspection_masked() {
    let s = schema();
    golden(
        "introspect.json",
        &(introspect::schema_info(&s, false).pretty() + "\n"),
    );
    // The compact form is what the Rust code carries.
    assert_eq!(
        qapi_gen::schema_json(&s),
        introspect::schema_info(&s, false).compact()
    );
}

#[test]
fn introspection_unmasked() {
    golden(
        "introspect-unmasked.json",
        &(introspect::schema_info(&schema(), true).pretty() + "\n"),
    );
}

#[test]
fn rust_output() {
    golden("generated.rs.txt", &qapi_gen::rust_code(&schema()));
}

#[test]
fn markdown_output() {
    golden("reference.md", &qapi_gen::docs(&schema()));
}

#[test]
fn introspection_follows_qemus_order() {
    let v = introspect::schema_info(&schema(), true).compact();
    // Commands and events of the root module first, in definition order...
    let pos = |needle: &str| v.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
    assert!(pos("\"name\":\"make-thing\"") < pos("\"name\":\"draw\""));
    assert!(pos("\"name\":\"MOVED\"") < pos("\"name\":\"q_empty\""));
    // ...then the types, in the order first used: make-thing's argument type first.
    assert!(pos("\"name\":\"Thing\"") < pos("\"name\":\"Shape\""));
    // Disabled parts are gone; integer types are shown as int.
    assert!(!v.contains("spice-only") && !v.contains("hexagon") && !v.contains("linux-only"));
    assert!(!v.contains("uint8") && !v.contains("int16"));
    assert!(v.contains("\"name\":\"blue\""));
    // Pragmas leave no trace: the secret member is a plain str.
    assert!(
        v.contains("{\"name\":\"secret-key\",\"type\":\"str\",\"default\":null}")
            || v.contains("\"default\":null,\"name\":\"secret-key\",\"type\":\"str\"")
    );
}
