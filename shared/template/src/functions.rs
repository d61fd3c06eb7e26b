//! Kestra's functions (`now`, `fromJson`, `yaml`, `render`, `renderOnce`,
//! `kv`, `secret`, `read`, `uuid`, `id`, `randomInt`, `randomPort`, `range`, `max`, `min`,
//! `fetchContext`) and the hidden `__b_*` helpers the Pebble rewrite emits
//! (`??`, `~`, `..`, `/`, `contains`, map iteration, typed capture).

use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use super::bridge::{Bridge, Request};
use super::date::{self, Dt, Zone};
use super::filters::{Args, err, from_json, to_i64};
use super::{json, pebble};

/// How deep `render()` may nest before giving up.
const MAX_RENDER_DEPTH: usize = 16;

fn undefined_err() -> Error {
    Error::from(ErrorKind::UndefinedError)
}

fn host_value(a: Option<super::bridge::Answer>) -> Result<Option<Value>, Error> {
    match a {
        None => Ok(None),
        Some(Ok(v)) => Ok(Some(v.map(Value::from_serialize).unwrap_or_default())),
        Some(Err(e)) => Err(err(e)),
    }
}

fn kv(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let a = Args::new(&args);
    let key = a.str(0, "key")?.ok_or_else(|| err("kv: missing key"))?;
    let bridge = Bridge::of(state)?;
    let explicit = a.str(1, "namespace")?;
    let error_on_missing = a.bool(2, "errorOnMissing").unwrap_or(true);
    let namespace = explicit.clone().unwrap_or_else(|| bridge.namespace());
    let req = Request::Kv { namespace: namespace.clone(), key: key.clone(), walk: explicit.is_none() };
    match bridge.ask(req) {
        None => Ok(Value::from(())),
        Some(Ok(Some(v))) => Ok(Value::from_serialize(v)),
        Some(Ok(None)) if error_on_missing => {
            Err(err(format!("Cannot find the KV '{key}' in namespace '{namespace}' (nor in its parent namespaces)")))
        }
        Some(Ok(None)) => Ok(Value::from(())),
        Some(Err(e)) => Err(err(e)),
    }
}

fn secret(state: &State, key: Value) -> Result<Value, Error> {
    let key = key.as_str().ok_or_else(|| err("secret: the key must be a string"))?.to_string();
    let bridge = Bridge::of(state)?;
    Ok(host_value(bridge.ask(Request::Secret(key)))?.unwrap_or_default())
}

fn read(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let a = Args::new(&args);
    let path = a.str(0, "path")?.ok_or_else(|| err("read: missing path"))?;
    let bridge = Bridge::of(state)?;
    if path.starts_with("kestra://") {
        // an execution reads its own namespace's files and its starter's, as in Kestra
        let p = baton_model::storage::storage_path(&path).map_err(|e| err(e.to_string()))?;
        baton_model::storage::scope::check(&p, &bridge.namespace(), bridge.starter().as_ref())
            .map_err(|e| err(e.to_string()))?;
    }
    let namespace = a.str(1, "namespace")?.unwrap_or_else(|| bridge.namespace());
    // `revision=` in Kestra 2.0, `version=` in 1.x (the dialect check keeps each to its own)
    let revision = match a.int(2, "revision")? {
        Some(r) => Some(r),
        None => a.int(3, "version")?,
    };
    let revision = match revision {
        None => None,
        Some(r) if path.starts_with("kestra://") => {
            return Err(err(format!("read('{path}', revision={r}): only namespace files have revisions")));
        }
        Some(r) => Some(
            u32::try_from(r)
                .ok()
                .filter(|r| *r >= 1)
                .ok_or_else(|| err(format!("read('{path}'): revision {r} is not a revision number (1, 2, …)")))?,
        ),
    };
    Ok(host_value(bridge.ask(Request::Read { namespace, path, revision }))?.unwrap_or_default())
}

/// Renders `src` with the current render's context (for `render()`).
fn render_nested(state: &State, src: &str) -> Result<String, Error> {
    let bridge_val = state.lookup(super::bridge::HIDDEN).ok_or_else(|| err("render() is not available here"))?;
    let bridge = Bridge::of(state)?;
    let ctx = Bridge::context(&bridge_val, &bridge.ctx);
    let _nest = bridge.enter_render().map_err(|m| Error::new(ErrorKind::InvalidOperation, m))?;
    let rw = pebble::rewrite(src).map_err(|e| Error::new(ErrorKind::SyntaxError, e.message))?;
    let env: &Environment<'_> = state.env();
    let mut out = super::size::BoundedOut::default();
    let rendered = env.template_from_named_str("render()", &rw.source)?.render_captured_to(ctx, &mut out);
    if out.overflowed {
        return Err(Error::new(ErrorKind::InvalidOperation, super::size::too_large("render()")));
    }
    if let Some((used, _)) = rendered?.state().fuel_levels() {
        bridge.spend_fuel(used);
    }
    String::from_utf8(out.buf).map_err(|_| err("render(): output is not UTF-8"))
}

fn render(state: &State, v: Value, args: Rest<Value>) -> Result<Value, Error> {
    render_impl(state, v, Args::new(&args).bool(0, "recursive").unwrap_or(true))
}

fn render_impl(state: &State, v: Value, recursive: bool) -> Result<Value, Error> {
    if v.is_undefined() {
        return Err(undefined_err());
    }
    let Some(s) = v.as_str() else { return Ok(v) };
    let mut cur = s.to_string();
    for _ in 0..MAX_RENDER_DEPTH {
        if !super::is_template(&cur) {
            break;
        }
        let out = render_nested(state, &cur)?;
        if !recursive || out == cur {
            return Ok(Value::from(out));
        }
        cur = out;
    }
    Ok(Value::from(cur))
}

fn now(args: Rest<Value>) -> Result<Value, Error> {
    let a = Args::new(&args);
    let zone = Zone::parse(a.str(1, "timeZone")?.as_deref()).map_err(err)?;
    date::format(&Dt::now(zone), a.str(0, "format")?.as_deref()).map(Value::from).map_err(err)
}

fn random_u64() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// A 22-character base62 id, like Kestra's `IdUtils.create()`.
fn short_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = uuid::Uuid::new_v4().as_u128();
    let mut out = Vec::with_capacity(22);
    for _ in 0..22 {
        out.push(ALPHABET[(n % 62) as usize]);
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn range(start: Value, end: Value, step: Option<i64>) -> Result<Value, Error> {
    let (a, b) = (to_i64(&start)?, to_i64(&end)?);
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(err("range: the step must not be zero"));
    }
    // i128: `b - a` and `i + step` cannot overflow for any two i64 bounds
    let (a, b, step) = (i128::from(a), i128::from(b), i128::from(step));
    let n = ((b - a) / step).max(-1) + 1;
    if n > 100_000 {
        return Err(err("range: too many elements (max 100000)"));
    }
    let mut out = Vec::new();
    let mut i = a;
    while (step > 0 && i <= b) || (step < 0 && i >= b) {
        out.push(Value::from(i as i64));
        i += step;
    }
    Ok(Value::from(out))
}

fn extremum(args: Rest<Value>, max: bool) -> Result<Value, Error> {
    let vals: Vec<Value> = if args.len() == 1 && matches!(args[0].kind(), ValueKind::Seq | ValueKind::Iterable) {
        args[0].try_iter()?.collect()
    } else {
        args.0
    };
    let best = vals.into_iter().filter(|v| !v.is_none()).reduce(|a, b| {
        let pick_b = if max { b > a } else { b < a };
        if pick_b { b } else { a }
    });
    Ok(best.unwrap_or_default())
}

fn present(v: &Value) -> bool {
    !v.is_undefined() && !v.is_none()
}

/// Safe navigation: undefined instead of an error on missing parents.
fn safe_get(v: Value, k: Value) -> Value {
    if !present(&v) {
        return Value::UNDEFINED;
    }
    if v.kind() == ValueKind::Seq
        && let Some(i) = k.as_str().and_then(|s| s.parse::<i64>().ok())
    {
        return v.get_item(&Value::from(i)).unwrap_or(Value::UNDEFINED);
    }
    v.get_item(&k).unwrap_or(Value::UNDEFINED)
}

/// `a ~ b ~ c`: the rewrite flattens a chain into one call.
fn cat(parts: Rest<Value>) -> Result<Value, Error> {
    let mut s = String::new();
    for p in parts.iter() {
        if p.is_undefined() {
            return Err(undefined_err());
        }
        super::size::check(s.len().saturating_add(p.as_str().map_or(0, str::len)), "'~'")?;
        json::print(p, &mut s);
        super::size::check(s.len(), "'~'")?;
    }
    Ok(Value::from(s))
}

fn div(a: Value, b: Value) -> Result<Value, Error> {
    if a.is_undefined() || b.is_undefined() {
        return Err(undefined_err());
    }
    if let (Some(x), Some(y)) = (a.as_i64().filter(|_| a.is_integer()), b.as_i64().filter(|_| b.is_integer())) {
        if y == 0 {
            return Err(err("/ by zero"));
        }
        return Ok(Value::from(x.wrapping_div(y)));
    }
    let x = f64::try_from(a.clone()).map_err(|_| err(format!("cannot divide '{}'", json::to_text(&a))))?;
    let y = f64::try_from(b.clone()).map_err(|_| err(format!("cannot divide by '{}'", json::to_text(&b))))?;
    Ok(Value::from(x / y))
}

/// Pebble's operand kinds, for its messages.
fn kind_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::String => "String",
        ValueKind::Number if v.is_integer() => "Long",
        ValueKind::Number => "Double",
        ValueKind::Bool => "Boolean",
        ValueKind::Seq => "List",
        ValueKind::Map => "Map",
        _ => "null",
    }
}

/// Pebble's `*` (`OperatorUtils.multiply`): numbers only — a string is not
/// repeated, as minijinja's `*` would, but refused.
fn mul(a: Value, b: Value) -> Result<Value, Error> {
    if a.is_undefined() || b.is_undefined() {
        return Err(undefined_err());
    }
    if let (Some(x), Some(y)) = (a.as_i64().filter(|_| a.is_integer()), b.as_i64().filter(|_| b.is_integer())) {
        return Ok(Value::from(x.wrapping_mul(y)));
    }
    match (a.kind(), b.kind()) {
        (ValueKind::Number, ValueKind::Number) => {
            let x = f64::try_from(a).map_err(|_| err("cannot multiply"))?;
            let y = f64::try_from(b).map_err(|_| err("cannot multiply"))?;
            Ok(Value::from(x * y))
        }
        _ => Err(err(format!(
            "Unsupported operand type(s) for MULTIPLY: '{}' ({}) and '{}' ({})",
            json::to_text(&a),
            kind_name(&a),
            json::to_text(&b),
            kind_name(&b)
        ))),
    }
}

/// Pebble's `+` (`OperatorUtils.add`): a string on either side concatenates
/// (the other side as text); a list gets the other list's items, or the
/// other value, appended; numbers add.
fn add(a: Value, b: Value) -> Result<Value, Error> {
    if a.is_undefined() || b.is_undefined() {
        return Err(undefined_err());
    }
    if a.kind() == ValueKind::String || b.kind() == ValueKind::String {
        let text = |v: &Value| if v.is_none() { "null".to_string() } else { json::to_text(v) };
        return Ok(Value::from(format!("{}{}", text(&a), text(&b))));
    }
    if a.kind() == ValueKind::Seq {
        let mut items: Vec<Value> = a.try_iter()?.collect();
        if b.kind() == ValueKind::Seq {
            items.extend(b.try_iter()?);
        } else {
            items.push(b);
        }
        return Ok(Value::from(items));
    }
    if let (Some(x), Some(y)) = (a.as_i64().filter(|_| a.is_integer()), b.as_i64().filter(|_| b.is_integer())) {
        return Ok(Value::from(x.wrapping_add(y)));
    }
    match (a.kind(), b.kind()) {
        (ValueKind::Number, ValueKind::Number) => {
            let x = f64::try_from(a).map_err(|_| err("cannot add"))?;
            let y = f64::try_from(b).map_err(|_| err("cannot add"))?;
            Ok(Value::from(x + y))
        }
        _ => Err(err(format!(
            "Unsupported operand type(s) for ADD: '{}' ({}) and '{}' ({})",
            json::to_text(&a),
            kind_name(&a),
            json::to_text(&b),
            kind_name(&b)
        ))),
    }
}

fn contains(hay: Value, needle: Value) -> Result<bool, Error> {
    if hay.is_undefined() || needle.is_undefined() {
        return Err(undefined_err());
    }
    match hay.kind() {
        ValueKind::None => Ok(false),
        ValueKind::String => Ok(hay.as_str().unwrap_or_default().contains(&json::to_text(&needle))),
        ValueKind::Map => Ok(hay.get_item(&needle).is_ok_and(|v| !v.is_undefined())),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = hay.try_iter()?.collect();
            if needle.kind() == ValueKind::Seq {
                Ok(needle.try_iter()?.all(|n| items.contains(&n)))
            } else {
                Ok(items.contains(&needle))
            }
        }
        _ => Err(err(format!("'contains' is not supported on '{}'", json::to_text(&hay)))),
    }
}

/// Pebble iterates maps as entries with `key` and `value`.
fn iter(v: Value) -> Result<Value, Error> {
    if v.kind() != ValueKind::Map {
        return Ok(v);
    }
    let keys: Vec<Value> = v.try_iter()?.collect();
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let val = v.get_item(&k)?;
        out.push(Value::from_iter([("key", k), ("value", val)]));
    }
    Ok(Value::from(out))
}

/// Registers the functions and the `__b_*` helpers.
pub fn register(env: &mut Environment<'static>) {
    env.add_function("now", now);
    for name in ["fromJson", "json"] {
        env.add_function(name, |v: Value| from_json(&v));
    }
    env.add_function("yaml", |v: String| -> Result<Value, Error> {
        baton_model::yaml::parse(&v)
            .map(|(j, _)| Value::from_serialize(j))
            .map_err(|e| err(format!("Invalid YAML: {e}")))
    });
    env.add_function("render", render);
    env.add_function("renderOnce", |state: &State, v: Value| render_impl(state, v, false));
    env.add_function("kv", kv);
    env.add_function("secret", secret);
    env.add_function("read", read);
    env.add_function("uuid", || uuid::Uuid::new_v4().to_string());
    env.add_function("id", short_id);
    env.add_function("randomInt", |lower: i64, upper: i64| -> Result<i64, Error> {
        if upper <= lower {
            return Err(err("randomInt: 'upper' must be greater than 'lower'"));
        }
        let span = (upper - lower) as u64;
        Ok(lower + (random_u64() % span) as i64)
    });
    // Kestra's randomPort(): a TCP port free on this machine at the time
    // of rendering (the system picks it: bind to port 0, then release)
    env.add_function("randomPort", || -> Result<i64, Error> {
        std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| i64::from(a.port()))
            .map_err(|e| err(format!("randomPort: no free port: {e}")))
    });
    env.add_function("fileURI", |path: String| -> Result<Value, Error> {
        if path.starts_with("kestra://") {
            Ok(Value::from(path))
        } else {
            Err(err(format!("fileURI('{path}') is not supported: namespace files have no kestra:// URI here")))
        }
    });
    env.add_function("range", range);
    env.add_function("max", |a: Rest<Value>| extremum(a, true));
    env.add_function("min", |a: Rest<Value>| extremum(a, false));
    for name in ["fetchContext", "printContext"] {
        env.add_function(name, |state: &State| Bridge::of(state).map(|b| b.ctx.clone()));
    }

    env.add_function("__b_get", safe_get);
    env.add_function("__b_present", |v: Value| present(&v));
    env.add_function("__b_defined", |v: Value| !v.is_undefined());
    env.add_function("__b_box", |v: Value| if present(&v) { Value::from(vec![v]) } else { Value::from(()) });
    env.add_function(
        "__b_box_defined",
        |v: Value| if v.is_undefined() { Value::from(()) } else { Value::from(vec![v]) },
    );
    env.add_function("__b_cat", cat);
    env.add_function("__b_div", div);
    env.add_function("__b_mul", mul);
    env.add_function("__b_add", add);
    env.add_function("__b_contains", contains);
    env.add_function("__b_range", |a: Value, b: Value| range(a, b, None));
    env.add_function("__b_iter", iter);
    env.add_function("__b_typed", |state: &State, v: Value| -> Result<Value, Error> {
        if v.is_undefined() {
            return Err(undefined_err());
        }
        Bridge::of(state)?.set_typed(v);
        Ok(Value::from(""))
    });
}
