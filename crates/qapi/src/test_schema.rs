//! The generator's test schema (`crates/qapi-gen/tests/golden/schema`, with `CONFIG_BLUE`
//! defined) compiled here: the generated code for every construct builds, passes clippy
//! and behaves as QEMU's visitors do.

// The tests use most of the schema, not all of it.
#![allow(dead_code)]

include!(concat!(env!("OUT_DIR"), "/qapi_test.rs"));

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::{ErrorClass, Password, QmpError};

    #[derive(Default)]
    struct Impl {
        calls: Vec<String>,
    }

    impl Commands for Impl {
        fn make_thing(&mut self, args: Thing) -> Result<Thing, QmpError> {
            self.calls.push(format!("make-thing {args:?}"));
            Ok(args)
        }
        fn draw(&mut self, args: Shape) -> Result<(), QmpError> {
            self.calls.push(format!("draw {args:?}"));
            Ok(())
        }
        fn wrap(&mut self, args: Wrapped) -> Result<(), QmpError> {
            self.calls.push(format!("wrap {args:?}"));
            Ok(())
        }
        fn echo_alt(&mut self, args: EchoAltArgs) -> Result<Alt, QmpError> {
            self.calls.push(format!("echo-alt {args:?}"));
            Ok(args.value)
        }
        fn ping(&mut self) -> Result<(), QmpError> {
            self.calls.push("ping".into());
            Ok(())
        }
        fn old_style(&mut self) -> Result<(), QmpError> {
            self.calls.push("old_style".into());
            Ok(())
        }
        fn secret_cmd(&mut self, args: SecretCmdArgs) -> Result<(), QmpError> {
            self.calls.push(format!("secret-cmd {args:?}"));
            Ok(())
        }
        fn porthole_only(&mut self) -> Result<(), QmpError> {
            self.calls.push("porthole-only".into());
            Ok(())
        }
    }

    fn call(name: &str, args: Value) -> (Result<Value, QmpError>, Vec<String>) {
        let mut i = Impl::default();
        let Value::Object(m) = args else {
            panic!("object expected")
        };
        let r = dispatch(&mut i, name, Some(m));
        (r, i.calls)
    }

    fn err(name: &str, args: Value) -> String {
        let (r, calls) = call(name, args);
        assert!(calls.is_empty(), "{calls:?}");
        r.unwrap_err().desc
    }

    #[test]
    fn alternate_branch_follows_the_json_type() {
        let cases = [
            (json!("red"), Alt::Colour(Colour::Red)),
            (json!(1.5), Alt::Num(1.5)),
            (json!(2), Alt::Num(2.0)),
            (json!(true), Alt::Flag(true)),
            (
                json!({"name": "n"}),
                Alt::Obj(Base {
                    name: "n".into(),
                    count: None,
                }),
            ),
            (json!([1, 2]), Alt::List(vec![1, 2])),
        ];
        for (v, want) in cases {
            let (r, calls) = call("echo-alt", json!({ "value": v.clone() }));
            // Numbers come back as f64: 2 becomes 2.0.
            let back = if v == json!(2) { json!(2.0) } else { v };
            assert_eq!(r.unwrap(), back);
            assert_eq!(
                calls,
                [format!(
                    "echo-alt EchoAltArgs {{ value: {want:?}, levels: None }}"
                )]
            );
        }
        assert_eq!(
            err("echo-alt", json!({"value": null})),
            "Invalid parameter type for 'value', expected: Alt"
        );
        assert_eq!(
            err("echo-alt", json!({"value": [[1]]})),
            "Invalid parameter type for 'value[0]', expected: integer"
        );
        let every: Vec<Everything> =
            serde_json::from_value(json!(["red", 1, false, {"radius": 1}, ["s"], null])).unwrap();
        assert_eq!(every[5], Everything::None(()));
        assert_eq!(
            serde_json::to_value(&every).unwrap(),
            json!(["red", 1, false, {"radius": 1}, ["s"], null])
        );
        assert_eq!(
            err("echo-alt", json!({"value": "purple"})),
            "Parameter 'value' does not accept value 'purple'"
        );
        assert_eq!(
            err("echo-alt", json!({"value": {"nom": 1}})),
            "Parameter 'value.name' is missing"
        );
        assert_eq!(
            err("echo-alt", json!({"value": [1, "x"]})),
            "Invalid parameter type for 'value[1]', expected: integer"
        );
        assert_eq!(
            err("echo-alt", json!({"value": "red", "levels": ["0", "9"]})),
            "Parameter 'null' does not accept value '9'"
        );
        let (r, _) = call(
            "echo-alt",
            json!({"value": "grey", "levels": ["0", "x-two"]}),
        );
        assert_eq!(r.unwrap(), json!("grey"));
    }

    #[test]
    fn struct_with_base_and_every_builtin() {
        let thing = json!({
            "name": "t", "count": 255, "colour": "blue", "ratio": 0.5, "tags": ["a"],
            "extra": {"any": [1]}, "nothing": null, "secret-key": "k", "big": -1,
            "small": -300, "fancy": true, "type": "kw", "note": "ext"
        });
        let (r, calls) = call("make-thing", thing.clone());
        let mut back = thing.clone();
        back["big"] = json!(u64::MAX);
        assert_eq!(
            r.unwrap(),
            back,
            "size wraps negative values, as QEMU's uint64 does"
        );
        assert!(
            calls[0].contains("secret_key: Some(<redacted>)"),
            "{calls:?}"
        );
        assert!(calls[0].contains("type_: Some(\"kw\")"), "{calls:?}");
        let with = |k: &str, v: Value| {
            let mut t = thing.clone();
            t[k] = v;
            t
        };
        assert_eq!(
            err("make-thing", with("count", json!(256))),
            "Parameter 'count' expects uint8_t"
        );
        assert_eq!(
            err("make-thing", with("small", json!(40000))),
            "Parameter 'small' expects int16_t"
        );
        assert_eq!(
            err("make-thing", with("nothing", json!(0))),
            "Invalid parameter type for 'nothing', expected: null"
        );
        assert_eq!(
            err("make-thing", with("ratio", json!("1"))),
            "Invalid parameter type for 'ratio', expected: number"
        );
        // A member whose condition does not hold does not exist.
        assert_eq!(
            err("make-thing", with("linux-only", json!(true))),
            "Parameter 'linux-only' is unexpected"
        );
        let t: Thing = serde_json::from_value(thing).unwrap();
        assert_eq!(t.secret_key.as_ref().map(Password::as_str), Some("k"));
        assert_eq!(
            Base::from(&t),
            Base {
                name: "t".into(),
                count: Some(255)
            }
        );
    }

    #[test]
    fn unions_of_both_shapes() {
        let (r, calls) = call("draw", json!({"kind": "circle", "id": "c", "radius": 3}));
        r.unwrap();
        assert_eq!(
            calls,
            ["draw Circle { id: \"c\", label: None, branch: Circle { radius: 3 } }"]
        );
        let (r, calls) = call("draw", json!({"kind": "point", "id": "p", "label": "l"}));
        r.unwrap();
        assert_eq!(calls, ["draw Point { id: \"p\", label: Some(\"l\") }"]);
        assert_eq!(
            err("draw", json!({"kind": "point", "id": "p", "radius": 1})),
            "Parameter 'radius' is unexpected"
        );
        assert_eq!(
            err("draw", json!({"kind": "hexagon", "id": "h"})),
            "Parameter 'kind' does not accept value 'hexagon'"
        );
        let s = Shape::Square {
            id: "s".into(),
            label: None,
            branch: Square { side: 2 },
        };
        assert_eq!(s.kind(), ShapeKind::Square);
        assert_eq!(s.id(), "s");
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"kind": "square", "id": "s", "side": 2})
        );
        let (r, calls) = call("wrap", json!({"kind": "one", "name": "b"}));
        r.unwrap();
        assert_eq!(calls, ["wrap One(Base { name: \"b\", count: None })"]);
        let (r, calls) = call("wrap", json!({"kind": "two"}));
        r.unwrap();
        assert_eq!(calls, ["wrap Two"]);
        assert_eq!(
            serde_json::to_value(Wrapped::Two).unwrap(),
            json!({"kind": "two"})
        );
        assert_eq!(Wrapped::Two.kind(), WrapKind::Two);
    }

    #[test]
    fn registry_events_and_filtered_parts() {
        let draw = COMMANDS.iter().find(|c| c.name == "draw").unwrap();
        assert!(draw.allow_oob);
        let ping = COMMANDS.iter().find(|c| c.name == "ping").unwrap();
        assert!(!ping.success_response);
        assert!(COMMANDS.iter().any(|c| c.name == "hidden"));
        assert!(!COMMANDS.iter().any(|c| c.name == "spice-only"));
        let (r, _) = call("hidden", json!({}));
        assert_eq!(r.unwrap_err().class, ErrorClass::CommandNotFound);
        let (r, calls) = call("old_style", json!({}));
        assert_eq!(r.unwrap(), json!({}));
        assert_eq!(calls, ["old_style"]);
        assert_eq!(EVENTS, ["THING_MADE", "TICK", "MOVED"]);
        assert_eq!(Event::Tick.data(), None);
        let ev = Event::Moved(MovedData { x: 1, y: -2 });
        assert_eq!(
            (ev.name(), ev.data()),
            ("MOVED", Some(json!({"x": 1, "y": -2})))
        );
        assert_eq!(Level::_0.as_str(), "0");
        assert_eq!(Level::from_name("x-two"), Some(Level::XTwo));
        assert_eq!(Colour::ALL.len(), 5);
        let (r, calls) = call("secret-cmd", json!({"password": "hunter2", "hint": "h"}));
        r.unwrap();
        assert!(
            !calls[0].contains("hunter2") && calls[0].contains("Some(\"h\")"),
            "{calls:?}"
        );
        assert!(SCHEMA_JSON.contains("\"name\":\"secret-cmd\""));
        assert!(!SCHEMA_JSON.contains("spice-only"));
    }
}
