//! `authz-simple` and `authz-list` decisions, and the JSON shape of lists.

use authz::{Authorize, List, ListSpec, MatchFormat, Policy, Rule, Simple};

fn rule(m: &str, policy: Policy, format: MatchFormat) -> Rule {
    Rule {
        r#match: m.to_string(),
        policy,
        format,
    }
}

#[test]
fn simple_allows_exactly_one_identity() {
    let mut a = Simple {
        identity: "CN=laptop.example.com,O=Example,C=GB".into(),
    };
    assert!(a.is_allowed("CN=laptop.example.com,O=Example,C=GB"));
    assert!(!a.is_allowed("CN=laptop.example.com,O=Example,C=G"));
    assert!(!a.is_allowed("cn=laptop.example.com,O=Example,C=GB"));
    assert!(!a.is_allowed(""));
}

#[test]
fn list_default_policy_is_deny() {
    let mut l = List::default();
    assert_eq!(l.spec.policy, Policy::Deny);
    assert!(!l.is_allowed("anyone"));
    l.spec.policy = Policy::Allow;
    assert!(l.is_allowed("anyone"));
}

#[test]
fn list_exact_rules_compare_whole_strings() {
    let mut l = List {
        spec: ListSpec {
            policy: Policy::Deny,
            rules: vec![rule("fred", Policy::Allow, MatchFormat::Exact)],
        },
    };
    assert!(l.is_allowed("fred"));
    assert!(!l.is_allowed("fredx"));
    assert!(!l.is_allowed("Fred"));
    // An exact rule never treats wildcards specially.
    l.spec.rules = vec![rule("*", Policy::Allow, MatchFormat::Exact)];
    assert!(!l.is_allowed("fred"));
    assert!(l.is_allowed("*"));
}

#[test]
fn list_glob_rules() {
    let mut l = List {
        spec: ListSpec {
            policy: Policy::Deny,
            rules: vec![rule("*,O=Example,C=GB", Policy::Allow, MatchFormat::Glob)],
        },
    };
    assert!(l.is_allowed("CN=a,O=Example,C=GB"));
    assert!(!l.is_allowed("CN=a,O=Example,C=GBX"));
    assert!(!l.is_allowed("CN=a,O=Other,C=GB"));
}

#[test]
fn list_first_matching_rule_wins() {
    let mut l = List {
        spec: ListSpec {
            policy: Policy::Allow,
            rules: vec![
                rule("bob", Policy::Deny, MatchFormat::Exact),
                rule("b*", Policy::Allow, MatchFormat::Glob),
                rule("*", Policy::Deny, MatchFormat::Glob),
            ],
        },
    };
    assert!(!l.is_allowed("bob"), "the exact deny comes first");
    assert!(
        l.is_allowed("bill"),
        "the glob allow comes before the catch-all"
    );
    assert!(
        !l.is_allowed("alice"),
        "the catch-all deny beats the default"
    );
    l.spec.rules.pop();
    assert!(l.is_allowed("alice"), "no rule applies: default policy");
}

#[test]
fn json_full_shape() {
    let spec: ListSpec = serde_json::from_str(
        r#"{"rules":[{"match":"O=Example,CN=x","policy":"allow","format":"exact"},
                     {"match":"*","policy":"deny","format":"glob"}],
            "policy":"allow"}"#,
    )
    .unwrap();
    assert_eq!(
        spec,
        ListSpec {
            policy: Policy::Allow,
            rules: vec![
                rule("O=Example,CN=x", Policy::Allow, MatchFormat::Exact),
                rule("*", Policy::Deny, MatchFormat::Glob),
            ],
        }
    );
}

#[test]
fn json_optional_members_default() {
    let spec: ListSpec = serde_json::from_str("{}").unwrap();
    assert_eq!(spec, ListSpec::default());
    let spec: ListSpec =
        serde_json::from_str(r#"{"rules":[{"match":"x","policy":"allow"}]}"#).unwrap();
    assert_eq!(spec.policy, Policy::Deny);
    assert_eq!(spec.rules[0].format, MatchFormat::Exact);
}

#[test]
fn json_shape_is_strict() {
    for bad in [
        r#"{"rules":[],"policy":"deny","extra":1}"#,
        r#"{"rules":[{"match":"x","policy":"allow","extra":1}]}"#,
        r#"{"rules":[{"policy":"allow"}]}"#,
        r#"{"rules":[{"match":"x"}]}"#,
        r#"{"rules":[{"match":"x","policy":"maybe"}]}"#,
        r#"{"rules":[{"match":"x","policy":"allow","format":"regex"}]}"#,
        r#"{"rules":[{"match":"x","policy":"Allow"}]}"#,
        r#"{"rules":[{"match":1,"policy":"allow"}]}"#,
        r#"{"rules":[{"match":"x","policy":null}]}"#,
        r#"{"rules":[["x","allow","exact"]]}"#,
        r#"{"rules":{"match":"x","policy":"allow"}}"#,
        r#"["deny",[]]"#,
        r#""deny""#,
        r#"{"parameters":{"rules":[],"policy":"deny"}}"#,
    ] {
        assert!(serde_json::from_str::<ListSpec>(bad).is_err(), "{bad}");
    }
}

#[test]
fn json_round_trip() {
    let spec = ListSpec {
        policy: Policy::Allow,
        rules: vec![rule("a?c", Policy::Deny, MatchFormat::Glob)],
    };
    let text = serde_json::to_string(&spec).unwrap();
    assert_eq!(
        text,
        r#"{"policy":"allow","rules":[{"match":"a?c","policy":"deny","format":"glob"}]}"#
    );
    assert_eq!(serde_json::from_str::<ListSpec>(&text).unwrap(), spec);
}

#[test]
fn from_json_value_for_object_add() {
    let v = serde_json::json!({"policy": "allow", "rules": [{"match": "u", "policy": "deny"}]});
    let mut l = List {
        spec: serde_json::from_value(v).unwrap(),
    };
    assert!(!l.is_allowed("u"));
    assert!(l.is_allowed("v"));
    assert!(serde_json::from_value::<ListSpec>(serde_json::json!(["deny"])).is_err());
}
