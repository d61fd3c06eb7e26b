//! Kestra 2.0's `subflow(namespace, id, inputs, revision, labels, timeout)`
//! function: runs a flow to its end and gives `{id, state, outputs,
//! labels}` — its use is an input's `expression` drawn from another flow's
//! outputs. The arguments are checked here (Kestra's messages); the run is
//! the host's ([`super::TemplateHost::subflow`]), which only the launcher's
//! host implements, so a task or trigger property calling it fails naming
//! the function, as in Kestra.

use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{Environment, Error, State};

use super::bridge::{Bridge, Request, SubflowCall};
use super::filters::{Args, err};

/// Kestra's default wait (`kestra.pebble.subflow-function.default-timeout`).
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;
/// The longest `timeout` accepted (Kestra's `max-timeout`).
pub const MAX_TIMEOUT_MS: u64 = 5 * 60_000;

fn attr(v: &Value, key: &str) -> Option<String> {
    v.get_attr(key).ok().filter(|x| !x.is_undefined() && !x.is_none()).and_then(|x| x.as_str().map(str::to_string))
}

fn subflow(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let bridge = Bridge::of(state)?;
    let present = |k: &str| bridge.ctx.get_attr(k).is_ok_and(|v| !v.is_undefined() && !v.is_none());
    if present("taskrun") || present("trigger") {
        return Err(err(
            "The 'subflow' function can only be used at flow-input render time (e.g. an input's 'expression'); \
             it is not supported inside task or trigger properties.",
        ));
    }
    let a = Args::new(&args);
    let (Some(namespace), Some(id)) = (a.str(0, "namespace")?, a.str(1, "id")?) else {
        return Err(err("The 'subflow' function expects the arguments 'namespace' and 'id'."));
    };
    let flow = bridge.ctx.get_attr("flow").ok().filter(|f| !f.is_undefined() && !f.is_none());
    let (Some(caller_namespace), Some(caller_id)) =
        (flow.as_ref().and_then(|f| attr(f, "namespace")), flow.as_ref().and_then(|f| attr(f, "id")))
    else {
        return Err(err(
            "The 'subflow' function can only be used in a flow context (e.g. an input's 'expression'); the caller \
             flow could not be resolved.",
        ));
    };
    let inputs = match a.get(2, "inputs") {
        None => serde_json::Value::Object(Default::default()),
        Some(v) if v.kind() == ValueKind::Map => super::json::to_serde(&v),
        Some(_) => return Err(err("The 'subflow' function 'inputs' must be a map of input ids to values.")),
    };
    let revision = match a.int(3, "revision")? {
        None => None,
        Some(r) => Some(
            u32::try_from(r)
                .ok()
                .filter(|r| *r >= 1)
                .ok_or_else(|| err(format!("subflow(): revision {r} is not a revision number (1, 2, …)")))?,
        ),
    };
    let mut labels = Vec::new();
    match a.get(4, "labels") {
        None => {}
        Some(v) if v.kind() == ValueKind::Map => {
            for key in v.try_iter()? {
                let Some(k) = key.as_str().map(str::to_string) else { continue };
                let value = v.get_item(&key)?;
                if value.is_none() || value.is_undefined() {
                    continue;
                }
                if k.starts_with("system.") && k != "system.correlationId" {
                    return Err(err(format!(
                        "The 'subflow' function cannot set the system label '{k}'; system labels are reserved \
                         (except 'system.correlationId')."
                    )));
                }
                labels.push((k, value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())));
            }
        }
        Some(_) => return Err(err("The 'subflow' function 'labels' must be a map of string keys to values.")),
    }
    let timeout_ms = match a.str(5, "timeout")? {
        None => DEFAULT_TIMEOUT_MS,
        Some(t) => {
            let d = baton_model::duration::parse_iso(&t).map_err(|_| {
                err(format!("The 'subflow' function 'timeout' must be an ISO-8601 duration (e.g. 'PT30S'), got '{t}'."))
            })?;
            let ms = u64::try_from(d.num_milliseconds()).unwrap_or(u64::MAX);
            if ms > MAX_TIMEOUT_MS {
                return Err(err(format!("The 'subflow' function 'timeout' ({t}) exceeds the maximum allowed (PT5M).")));
            }
            ms
        }
    };
    let call = SubflowCall {
        caller_namespace,
        caller_id,
        namespace,
        id,
        inputs: inputs.to_string(),
        revision,
        labels,
        timeout_ms,
    };
    match bridge.ask(Request::Subflow(call)) {
        None => Ok(Value::from(())),
        Some(Ok(v)) => Ok(v.map(Value::from_serialize).unwrap_or_default()),
        Some(Err(e)) => Err(err(e)),
    }
}

pub fn register(env: &mut Environment<'static>) {
    env.add_function("subflow", subflow);
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::{Renderer, SubflowCall, TemplateHost};

    /// Answers `subflow()` with its call, so tests see what the host got.
    struct Echo;

    impl TemplateHost for Echo {
        fn kv(&self, _: &str, _: &str) -> Result<Option<Value>, String> {
            Ok(None)
        }
        fn secret(&self, key: &str) -> Result<String, String> {
            Err(key.to_string())
        }
        fn read(&self, _: &str, path: &str) -> Result<String, String> {
            Err(path.to_string())
        }
        fn secret_values(&self) -> Vec<String> {
            Vec::new()
        }
        fn subflow(&self, call: &SubflowCall) -> Result<Value, String> {
            if call.id == "failing" {
                return Err("Subflow 'company'.'failing' ended in state FAILED (execution x).".into());
            }
            Ok(
                json!({"id": "e1", "state": "SUCCESS", "labels": call.labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                      "outputs": {"inputs": serde_json::from_str::<Value>(&call.inputs).unwrap_or_default(), "timeout": call.timeout_ms, "caller": call.caller_id}}),
            )
        }
    }

    fn render(t: &str, ctx: Value) -> Result<Value, String> {
        Renderer::new().render_typed(&Value::String(t.into()), &ctx, &Echo).map_err(|e| e.message)
    }

    fn flow() -> Value {
        json!({"flow": {"id": "caller", "namespace": "company"}, "inputs": {"cloud": "gcp"}})
    }

    #[test]
    fn arguments_reach_the_host_and_the_result_is_navigable() {
        let v = render(
            "{{ subflow(namespace='company', id='regions', inputs={'cloud': inputs.cloud}, labels={'team': 'data'}, timeout='PT30S').outputs }}",
            flow(),
        )
        .expect("rendered");
        assert_eq!(v, json!({"inputs": {"cloud": "gcp"}, "timeout": 30_000, "caller": "caller"}));
        let v = render("{{ subflow(namespace='company', id='regions').labels.team ?? 'none' }}", flow()).expect("r");
        assert_eq!(v, json!("none"));
    }

    #[test]
    fn kestras_refusals_name_what_is_wrong() {
        let cases = [
            ("{{ subflow(id='x') }}", flow(), "'namespace' and 'id'"),
            ("{{ subflow(namespace='a', id='x') }}", json!({}), "flow context"),
            ("{{ subflow(namespace='a', id='x', timeout='PT10M') }}", flow(), "exceeds the maximum allowed (PT5M)"),
            ("{{ subflow(namespace='a', id='x', timeout='soon') }}", flow(), "ISO-8601"),
            (
                "{{ subflow(namespace='a', id='x', labels={'system.from': 'me'}) }}",
                flow(),
                "system label 'system.from'",
            ),
            ("{{ subflow(namespace='a', id='failing') }}", flow(), "ended in state FAILED"),
        ];
        for (t, ctx, want) in cases {
            let e = render(t, ctx).expect_err(t);
            assert!(e.contains(want), "{t}: {e}");
        }
        let mut in_task = flow();
        in_task["taskrun"] = json!({"id": "tr"});
        let e = render("{{ subflow(namespace='a', id='x') }}", in_task).expect_err("in a task");
        assert!(e.contains("flow-input render time"), "{e}");
        // the default host (a task's) refuses it too
        let e = Renderer::new()
            .render_typed(&json!("{{ subflow(namespace='a', id='x') }}"), &flow(), &crate::NoHost)
            .expect_err("no host");
        assert!(e.message.contains("can only be used where a flow's inputs are rendered"), "{}", e.message);
    }

    #[test]
    fn pebble_arithmetic_does_not_repeat_strings() {
        let e = render("{{ '3' * 2 }}", json!({})).expect_err("a string times a number");
        assert!(e.contains("Unsupported operand type(s) for MULTIPLY"), "{e}");
        assert_eq!(render("{{ 3 * 2 }}", json!({})).expect("n"), json!(6));
        assert_eq!(render("{{ 1.5 * 3 }}", json!({})).expect("n"), json!(4.5));
        assert_eq!(render("{{ 'a' + 1 }}", json!({})).expect("s"), json!("a1"));
        assert_eq!(render("{{ 1 + 2 + 3 }}", json!({})).expect("n"), json!(6));
        assert_eq!(render("{{ [1, 2] + 3 }}", json!({})).expect("l"), json!([1, 2, 3]));
        assert_eq!(render("{{ [1] + [2] }}", json!({})).expect("l"), json!([1, 2]));
    }
}
