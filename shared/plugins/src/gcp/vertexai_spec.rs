//! The `spec` of `io.kestra.plugin.gcp.vertexai.CustomJob` (plugin-gcp
//! `vertexai/models/*.java`) as the Vertex AI REST `CustomJobSpec`
//! (aiplatform v1): each of Kestra's fields mapped as Kestra's `to()`
//! methods map them, an unknown field refused by its path
//! (`spec.workerPoolSpecs[0].machineSpec.gpus`).
//!
//! The mapping, Kestra → Vertex AI:
//! - `workerPoolSpecs` (at least one): `containerSpec` (required: `imageUri`,
//!   `commands` → `command`, `args`, `env` map → `[{name, value}]`),
//!   `machineSpec` (required: `machineType`, `acceleratorCount`,
//!   `acceleratorType`), `discSpec` → `diskSpec` (`bootDiskType` `PD_SSD`
//!   (default) | `PD_STANDARD` → `pd-ssd` | `pd-standard`, `bootDiskSizeGb`
//!   100 by default), `replicaCount`, `pythonPackageSpec` (`packageUris`,
//!   `args`, `envs` → `env`);
//! - `serviceAccount`, `network`, `tensorboard`, `enableWebAccess`;
//! - `scheduling` (`timeOut` → `timeout` as `"{seconds}s"`,
//!   `restartJobOnWorkerRestart`); `baseOutputDirectory`
//!   (`outputUriPrefix`).
//!
//! At validation ([`spec_ok`]) a value still holding an expression is not
//! judged; the rendered one is, when the task is built ([`job_spec`]).

use serde_json::{Map, Value, json};

/// Kestra's `AcceleratorType` (the aiplatform v1 enum).
const ACCELERATORS: &[&str] = &[
    "ACCELERATOR_TYPE_UNSPECIFIED",
    "NVIDIA_TESLA_K80",
    "NVIDIA_TESLA_P100",
    "NVIDIA_TESLA_V100",
    "NVIDIA_TESLA_P4",
    "NVIDIA_TESLA_T4",
    "NVIDIA_TESLA_A100",
    "NVIDIA_A100_80GB",
    "NVIDIA_L4",
    "NVIDIA_H100_80GB",
    "NVIDIA_H100_MEGA_80GB",
    "NVIDIA_H200_141GB",
    "NVIDIA_B200",
    "NVIDIA_GB200",
    "NVIDIA_RTX_PRO_6000",
    "TPU_V2",
    "TPU_V3",
    "TPU_V4_POD",
    "TPU_V5_LITEPOD",
];

/// One object of the spec being read: its path for errors, and whether
/// expressions may still be in it (validation).
struct Obj<'a> {
    path: String,
    m: &'a Map<String, Value>,
    lenient: bool,
}

fn is_template(v: &Value) -> bool {
    v.as_str().is_some_and(baton_model::expr::is_template)
}

impl<'a> Obj<'a> {
    fn new(path: String, v: &'a Value, lenient: bool, known: &[&str]) -> Result<Obj<'a>, String> {
        let Value::Object(m) = v else { return Err(format!("{path}: expected an object, found {v}")) };
        if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("{path}.{k}: unknown property (known: {})", known.join(", ")));
        }
        Ok(Obj { path, m, lenient })
    }

    fn at(&self, k: &str) -> String {
        format!("{}.{k}", self.path)
    }

    fn get(&self, k: &str) -> Option<&'a Value> {
        self.m.get(k).filter(|v| !v.is_null())
    }

    fn string(&self, k: &str, required: bool) -> Result<Option<Value>, String> {
        match self.get(k) {
            None if required => Err(format!("{}: is required", self.at(k))),
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(json!(s))),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(json!(v.to_string()))),
            Some(v) => Err(format!("{}: expected a string, found {v}", self.at(k))),
        }
    }

    fn int(&self, k: &str) -> Result<Option<i64>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(v) if self.lenient && is_template(v) => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse().ok()),
            Some(v) => Err(format!("{}: expected a whole number, found {v}", self.at(k))),
        }
    }

    fn boolean(&self, k: &str) -> Result<Option<Value>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(v) if self.lenient && is_template(v) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(json!(b))),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(json!(true))),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(json!(false))),
            Some(v) => Err(format!("{}: expected true or false, found {v}", self.at(k))),
        }
    }

    /// A list of strings (a single string is a list of one).
    fn strings(&self, k: &str, required: bool) -> Result<Option<Value>, String> {
        match self.get(k) {
            None if required => Err(format!("{}: is required", self.at(k))),
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(json!([s]))),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(json!(s)),
                    Value::Number(_) | Value::Bool(_) => Ok(json!(i.to_string())),
                    other => Err(format!("{}: expected strings, found {other}", self.at(k))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|v| Some(Value::Array(v))),
            Some(v) => Err(format!("{}: expected a list of strings, found {v}", self.at(k))),
        }
    }

    /// A map of strings as Vertex AI's `[{name, value}]`.
    fn env(&self, k: &str, required: bool) -> Result<Option<Value>, String> {
        match self.get(k) {
            None if required => Err(format!("{}: is required", self.at(k))),
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Value::Array(
                m.iter()
                    .map(|(name, v)| json!({"name": name, "value": v.as_str().map_or_else(|| v.to_string(), str::to_string)}))
                    .collect(),
            ))),
            Some(v) => Err(format!("{}: expected a map of names to values, found {v}", self.at(k))),
        }
    }

    fn object(&self, k: &str, known: &[&str]) -> Result<Option<Obj<'a>>, String> {
        self.get(k).map(|v| Obj::new(self.at(k), v, self.lenient, known)).transpose()
    }
}

fn put(out: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        out.insert(k.to_string(), v);
    }
}

/// `spec` as Vertex AI's `CustomJobSpec`.
pub fn job_spec(v: &Value) -> Result<Value, String> {
    read(v, false)
}

/// Checks `spec` at validation (expressions left unjudged).
pub fn spec_ok(v: &Value) -> Result<(), String> {
    read(v, true).map(|_| ())
}

fn read(v: &Value, lenient: bool) -> Result<Value, String> {
    let known = [
        "workerPoolSpecs",
        "serviceAccount",
        "network",
        "tensorboard",
        "enableWebAccess",
        "scheduling",
        "baseOutputDirectory",
    ];
    let spec = Obj::new("spec".into(), v, lenient, &known)?;
    let mut out = Map::new();
    let pools = match spec.get("workerPoolSpecs") {
        Some(Value::Array(p)) if !p.is_empty() => p,
        Some(Value::Array(_)) | None => return Err("spec.workerPoolSpecs: at least one worker pool is required".into()),
        Some(other) => return Err(format!("spec.workerPoolSpecs: expected a list, found {other}")),
    };
    let pools = pools
        .iter()
        .enumerate()
        .map(|(i, p)| worker_pool(Obj::new(format!("spec.workerPoolSpecs[{i}]"), p, lenient, &POOL)?))
        .collect::<Result<Vec<_>, String>>()?;
    out.insert("workerPoolSpecs".into(), Value::Array(pools));
    put(&mut out, "serviceAccount", spec.string("serviceAccount", false)?);
    put(&mut out, "network", spec.string("network", false)?);
    put(&mut out, "tensorboard", spec.string("tensorboard", false)?);
    put(&mut out, "enableWebAccess", spec.boolean("enableWebAccess")?);
    if let Some(s) = spec.object("scheduling", &["timeOut", "restartJobOnWorkerRestart"])? {
        let mut m = Map::new();
        match s.get("timeOut") {
            None => return Err(format!("{}: is required", s.at("timeOut"))),
            Some(t) if lenient && is_template(t) => {}
            Some(t) => {
                let d = crate::de::duration(t.clone()).map_err(|e| format!("{}: {e}", s.at("timeOut")))?;
                m.insert("timeout".into(), json!(proto_duration(d)));
            }
        }
        if s.get("restartJobOnWorkerRestart").is_none() {
            return Err(format!("{}: is required", s.at("restartJobOnWorkerRestart")));
        }
        put(&mut m, "restartJobOnWorkerRestart", s.boolean("restartJobOnWorkerRestart")?);
        out.insert("scheduling".into(), Value::Object(m));
    }
    if let Some(d) = spec.object("baseOutputDirectory", &["outputUriPrefix"])? {
        let mut m = Map::new();
        put(&mut m, "outputUriPrefix", d.string("outputUriPrefix", true)?);
        out.insert("baseOutputDirectory".into(), Value::Object(m));
    }
    Ok(Value::Object(out))
}

const POOL: [&str; 5] = ["containerSpec", "machineSpec", "discSpec", "replicaCount", "pythonPackageSpec"];

fn worker_pool(p: Obj<'_>) -> Result<Value, String> {
    let mut out = Map::new();
    let Some(c) = p.object("containerSpec", &["imageUri", "commands", "args", "env"])? else {
        return Err(format!("{}: is required", p.at("containerSpec")));
    };
    let mut cm = Map::new();
    put(&mut cm, "imageUri", c.string("imageUri", true)?);
    put(&mut cm, "command", c.strings("commands", false)?);
    put(&mut cm, "args", c.strings("args", false)?);
    put(&mut cm, "env", c.env("env", false)?);
    out.insert("containerSpec".into(), Value::Object(cm));

    let Some(m) = p.object("machineSpec", &["machineType", "acceleratorCount", "acceleratorType"])? else {
        return Err(format!("{}: is required", p.at("machineSpec")));
    };
    let mut mm = Map::new();
    put(&mut mm, "machineType", m.string("machineType", true)?);
    put(&mut mm, "acceleratorCount", m.int("acceleratorCount")?.map(Value::from));
    if let Some(t) = m.get("acceleratorType").filter(|t| !(p.lenient && is_template(t))) {
        let s = t.as_str().map(str::trim).unwrap_or_default();
        if !ACCELERATORS.contains(&s) {
            return Err(format!("{}: {t} is not one of {}", m.at("acceleratorType"), ACCELERATORS.join(", ")));
        }
        mm.insert("acceleratorType".into(), json!(s));
    }
    out.insert("machineSpec".into(), Value::Object(mm));

    if let Some(d) = p.object("discSpec", &["bootDiskType", "bootDiskSizeGb"])? {
        let kind = match d.get("bootDiskType") {
            None => "pd-ssd",
            Some(t) if p.lenient && is_template(t) => "pd-ssd",
            Some(t) => match t.as_str().map(str::trim) {
                Some("PD_SSD") => "pd-ssd",
                Some("PD_STANDARD") => "pd-standard",
                _ => return Err(format!("{}: {t} is not one of PD_SSD, PD_STANDARD", d.at("bootDiskType"))),
            },
        };
        let size = d.int("bootDiskSizeGb")?.unwrap_or(100);
        out.insert("diskSpec".into(), json!({"bootDiskType": kind, "bootDiskSizeGb": size}));
    }
    // An int64: a string in Google's JSON.
    put(&mut out, "replicaCount", p.int("replicaCount")?.map(|n| json!(n.to_string())));
    if let Some(py) = p.object("pythonPackageSpec", &["packageUris", "args", "envs"])? {
        let mut pm = Map::new();
        let non_empty = |v: Option<Value>| v.filter(|v| v.as_array().is_some_and(|a| !a.is_empty()));
        put(&mut pm, "packageUris", non_empty(py.strings("packageUris", true)?));
        put(&mut pm, "args", non_empty(py.strings("args", true)?));
        put(&mut pm, "env", non_empty(py.env("envs", true)?));
        out.insert("pythonPackageSpec".into(), Value::Object(pm));
    }
    Ok(Value::Object(out))
}

/// A duration as a protobuf JSON `Duration` (`"3600s"`, `"1.5s"`).
fn proto_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    let nanos = d.subsec_nanos();
    if nanos == 0 {
        format!("{secs}s")
    } else {
        let frac = format!("{nanos:09}");
        format!("{secs}.{}s", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_s_spec_becomes_vertex_ai_s() {
        let spec = json!({
            "workerPoolSpecs": [{
                "containerSpec": {"imageUri": "gcr.io/p/i:1", "commands": ["python"], "args": "train.py", "env": {"A": "1"}},
                "machineSpec": {"machineType": "n1-standard-4", "acceleratorCount": "2", "acceleratorType": "NVIDIA_TESLA_T4"},
                "discSpec": {"bootDiskType": "PD_STANDARD"},
                "replicaCount": 1
            }],
            "serviceAccount": "sa@p.iam.gserviceaccount.com",
            "scheduling": {"timeOut": "PT1H30M", "restartJobOnWorkerRestart": false},
            "baseOutputDirectory": {"outputUriPrefix": "gs://b/out"}
        });
        assert_eq!(
            job_spec(&spec).expect("spec"),
            json!({
                "workerPoolSpecs": [{
                    "containerSpec": {"imageUri": "gcr.io/p/i:1", "command": ["python"], "args": ["train.py"], "env": [{"name": "A", "value": "1"}]},
                    "machineSpec": {"machineType": "n1-standard-4", "acceleratorCount": 2, "acceleratorType": "NVIDIA_TESLA_T4"},
                    "diskSpec": {"bootDiskType": "pd-standard", "bootDiskSizeGb": 100},
                    "replicaCount": "1"
                }],
                "serviceAccount": "sa@p.iam.gserviceaccount.com",
                "scheduling": {"timeout": "5400s", "restartJobOnWorkerRestart": false},
                "baseOutputDirectory": {"outputUriPrefix": "gs://b/out"}
            })
        );
    }

    #[test]
    fn what_kestra_does_not_have_is_refused_by_path() {
        let pool = |extra: Value| {
            let mut p = json!({"containerSpec": {"imageUri": "i"}, "machineSpec": {"machineType": "m"}});
            if let (Some(m), Value::Object(e)) = (p.as_object_mut(), extra) {
                m.extend(e);
            }
            json!({"workerPoolSpecs": [p]})
        };
        for (spec, want) in [
            (json!({"workerPoolSpecs": []}), "spec.workerPoolSpecs"),
            (
                json!({"workerPoolSpecs": [{"machineSpec": {"machineType": "m"}}]}),
                "spec.workerPoolSpecs[0].containerSpec",
            ),
            (pool(json!({"diskSpec": {}})), "spec.workerPoolSpecs[0].diskSpec"),
            (pool(json!({"discSpec": {"bootDiskType": "SSD"}})), "spec.workerPoolSpecs[0].discSpec.bootDiskType"),
            (pool(json!({"machineSpec": {"machineType": "m", "acceleratorType": "GPU"}})), "acceleratorType"),
            (json!({"workerPoolSpecs": [], "timeout": "PT1H"}), "spec.timeout"),
        ] {
            let e = job_spec(&spec).expect_err("refused");
            assert!(e.contains(want), "{spec}: {e}");
        }
        let templated = pool(json!({"replicaCount": "{{ inputs.n }}"}));
        assert!(spec_ok(&templated).is_ok());
        assert!(job_spec(&templated).is_err());
    }

    #[test]
    fn durations_are_protobuf_s() {
        assert_eq!(proto_duration(chrono::Duration::seconds(60)), "60s");
        assert_eq!(proto_duration(chrono::Duration::milliseconds(1500)), "1.5s");
    }
}
