//! The `-object` argument syntax, shared by the command line and HMP's `object_add`
//! (QEMU parses both with the same `user_creatable_parse_str`).

use serde_json::{Map, Value};

/// Members whose keyval string values are booleans (QEMU's keyval visitor converts them):
/// the `bool` members of the `ObjectOptions` variants in `qapi/`.
pub const BOOL_PROPERTIES: &[&str] = &["verify-peer", "sanity-check", "refresh"];

/// `TYPE,id=ID,key=value,...` (keyval; `,,` for a literal comma) or the JSON form
/// (`{"qom-type": ...}`) as `object-add` arguments. Errors never echo values (they may be
/// secrets).
///
/// # Errors
/// A malformed keyval string or JSON text, a dotted key (lists need the JSON form), or a
/// boolean member with another value.
pub fn object_args(arg: &str) -> Result<Map<String, Value>, String> {
    if arg.trim_start().starts_with('{') {
        return match serde_json::from_str::<Value>(arg) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("JSON form must be an object".into()),
            Err(e) => Err(format!(
                "invalid JSON at line {} column {}",
                e.line(),
                e.column()
            )),
        };
    }
    let o = qemuopts::parse_any(arg, Some("qom-type")).map_err(|e| e.to_string())?;
    let mut m = Map::new();
    for (k, v) in o.iter() {
        if k.contains('.') {
            return Err(format!(
                "Invalid parameter '{k}' (use the JSON form of -object for lists)"
            ));
        }
        let value = if BOOL_PROPERTIES.contains(&k) {
            match v {
                "on" | "yes" | "true" | "y" => Value::Bool(true),
                "off" | "no" | "false" | "n" => Value::Bool(false),
                _ => return Err(format!("Parameter '{k}' expects 'on' or 'off'")),
            }
        } else {
            Value::String(v.to_owned())
        };
        m.insert(k.to_owned(), value);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keyval_and_json_forms() {
        let m = object_args("userstore,id=u0,filename=/a,,b,refresh=off").unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"qom-type": "userstore", "id": "u0", "filename": "/a,b", "refresh": false})
        );
        let m = object_args(r#" {"qom-type": "authz-list", "id": "a0", "rules": []}"#).unwrap();
        assert_eq!(m["rules"], json!([]));
        assert!(object_args("[1]").is_err() || object_args("{1}").is_err());
    }

    #[test]
    fn errors_do_not_echo_values() {
        let e = object_args(r#"{"qom-type": "secret", "data": "hunter2"#).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = object_args("tls-creds-x509,id=t,verify-peer=hunter2").unwrap_err();
        assert_eq!(e, "Parameter 'verify-peer' expects 'on' or 'off'");
        let e = object_args("authz-list,id=a,rules.0.match=x").unwrap_err();
        assert!(e.contains("rules.0.match"), "{e}");
    }
}
