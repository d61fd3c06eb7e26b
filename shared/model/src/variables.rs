//! An execution's own variables, as Kestra ≥ 0.24 keeps them: an execution
//! starts with its flow's `variables` and `{{ vars.* }}` reads the
//! execution's; `core.execution.SetVariables` deep-merges into them (maps
//! merged key by key, any other value replaced, as Kestra's
//! `MapUtils.deepMerge`) and `core.execution.UnsetVariables` removes names
//! (a dotted name reaches into maps). Pure: the worker computes a
//! [`VariablesChange`], the executor applies it to the stored execution.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A change a task makes to the execution's variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum VariablesChange {
    /// Deep-merged into the variables.
    Set { variables: Map<String, Value> },
    /// Removed; `a.b` removes `b` from map `a`. A name that is not there changes nothing.
    Unset { names: Vec<String> },
}

/// Why an unset name cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable '{name}': '{parent}' is not a map of variables")]
pub struct UnreachableVariable {
    pub name: String,
    pub parent: String,
}

/// Kestra's deep merge: `b` over `a`, maps merged key by key, other values replaced.
pub fn deep_merge(a: &mut Map<String, Value>, b: &Map<String, Value>) {
    for (k, bv) in b {
        match (a.get_mut(k), bv) {
            (Some(Value::Object(am)), Value::Object(bm)) => deep_merge(am, bm),
            _ => {
                a.insert(k.clone(), bv.clone());
            }
        }
    }
}

/// The names in `names` that `vars` does not hold (a dotted name looked up through maps).
pub fn missing<'n>(vars: &Map<String, Value>, names: &'n [String]) -> Vec<&'n str> {
    names.iter().filter(|n| lookup(vars, n).is_none()).map(String::as_str).collect()
}

fn lookup<'v>(vars: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    match name.split_once('.') {
        None => vars.get(name),
        Some((head, rest)) => lookup(vars.get(head)?.as_object()?, rest),
    }
}

/// Checks that every name of an unset can be reached: its parents, when
/// present, are maps (Kestra fails the task otherwise). With
/// `ignore_missing`, a missing parent is not an error either.
pub fn check_unset(
    vars: &Map<String, Value>,
    names: &[String],
    ignore_missing: bool,
) -> Result<(), UnreachableVariable> {
    for name in names {
        let mut current = vars;
        let parts: Vec<&str> = name.split('.').collect();
        for (i, part) in parts[..parts.len() - 1].iter().enumerate() {
            let parent = parts[..=i].join(".");
            match current.get(*part) {
                Some(Value::Object(m)) => current = m,
                None if ignore_missing => break,
                _ => return Err(UnreachableVariable { name: name.clone(), parent }),
            }
        }
    }
    Ok(())
}

/// Applies `change` to `vars`.
pub fn apply(vars: &mut Map<String, Value>, change: &VariablesChange) {
    match change {
        VariablesChange::Set { variables } => deep_merge(vars, variables),
        VariablesChange::Unset { names } => {
            for n in names {
                remove(vars, n);
            }
        }
    }
}

fn remove(vars: &mut Map<String, Value>, name: &str) {
    match name.split_once('.') {
        None => {
            vars.shift_remove(name);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(m)) = vars.get_mut(head) {
                remove(m, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("a map")
    }

    #[test]
    fn merge_is_kestras_deep_merge() {
        let mut a = map(json!({"name": "World", "db": {"host": "h", "port": 1}, "list": [1, 2]}));
        deep_merge(&mut a, &map(json!({"name": "Loïc", "db": {"port": 2}, "list": [3], "new": true})));
        assert_eq!(
            Value::Object(a.clone()),
            json!({"name": "Loïc", "db": {"host": "h", "port": 2}, "list": [3], "new": true})
        );
        // key order kept, new keys last
        assert_eq!(a.keys().collect::<Vec<_>>(), ["name", "db", "list", "new"]);
    }

    #[test]
    fn unset_removes_names_and_dotted_paths() {
        let mut v = map(json!({"a": 1, "b": {"c": 2, "d": 3}, "e": "x"}));
        apply(&mut v, &VariablesChange::Unset { names: vec!["a".into(), "b.c".into(), "zz".into(), "q.r".into()] });
        assert_eq!(Value::Object(v.clone()), json!({"b": {"d": 3}, "e": "x"}));
        assert_eq!(missing(&v, &["b.d".into(), "b.c".into(), "e".into(), "nope".into()]), ["b.c", "nope"]);
        assert!(check_unset(&v, &["b.d".into()], false).is_ok());
        let err = check_unset(&v, &["e.f".into()], false).expect_err("e is a string");
        assert_eq!(err.to_string(), "variable 'e.f': 'e' is not a map of variables");
        assert!(check_unset(&v, &["q.r".into()], false).is_err());
        assert!(check_unset(&v, &["q.r".into()], true).is_ok());
        assert!(check_unset(&v, &["e.f".into()], true).is_err(), "a non-map parent is wrong either way");
    }

    #[test]
    fn changes_travel_as_json() {
        let c = VariablesChange::Set { variables: map(json!({"k": 1})) };
        let text = serde_json::to_string(&c).expect("json");
        assert_eq!(text, r#"{"kind":"set","variables":{"k":1}}"#);
        assert_eq!(serde_json::from_str::<VariablesChange>(&text).expect("back"), c);
    }
}
