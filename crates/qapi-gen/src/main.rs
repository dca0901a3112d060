//! `qapi-gen`: runs the generator by hand.
//!
//! ```text
//! qapi-gen docs SCHEMA OUT.md        the reference documentation
//! qapi-gen rust SCHEMA OUT.rs        the Rust code the qapi crate includes
//! qapi-gen introspect SCHEMA [-u]    the query-qmp-schema answer, indented (-u: unmasked)
//! qapi-gen check SCHEMA              only check the schema
//! ```
//!
//! Porthole's `if` conditions apply ([`qapi_gen::PORTHOLE_CONDITIONS`]).
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: qapi-gen docs SCHEMA OUT.md | rust SCHEMA OUT.rs | \
                     introspect SCHEMA [-u] | check SCHEMA";

fn run(args: &[String]) -> Result<(), String> {
    let err = |e: qapi_gen::Error| {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(cause) = src {
            s.push_str(&format!(": {cause}"));
            src = cause.source();
        }
        s
    };
    let config = qapi_gen::Config::porthole();
    match args {
        [cmd, schema, out] if cmd == "docs" || cmd == "rust" => {
            let s = qapi_gen::load(Path::new(schema), &config).map_err(err)?;
            let text = if cmd == "docs" {
                qapi_gen::docs(&s)
            } else {
                qapi_gen::rust_code(&s)
            };
            qapi_gen::write_if_changed(Path::new(out), &text).map_err(err)
        }
        [cmd, schema, rest @ ..] if cmd == "introspect" && rest.len() <= 1 => {
            let unmask = match rest {
                [] => false,
                [u] if u == "-u" => true,
                _ => return Err(USAGE.to_owned()),
            };
            let s = qapi_gen::load(Path::new(schema), &config).map_err(err)?;
            println!("{}", qapi_gen::introspect::schema_info(&s, unmask).pretty());
            Ok(())
        }
        [cmd, schema] if cmd == "check" => qapi_gen::load(Path::new(schema), &config)
            .map(|_| ())
            .map_err(err),
        _ => Err(USAGE.to_owned()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qapi-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
