//! `io.kestra.plugin.gcp.dataproc.clusters.Create` and `Delete`
//! (plugin-gcp `dataproc/clusters/`): one Dataproc cluster created
//! (`POST v1/projects/{project}/regions/{region}/clusters`) or deleted
//! (`DELETE …/clusters/{clusterName}`) at the region's endpoint, the
//! operation waited for ([`super::wait_operation`], at most 15 minutes as
//! Kestra's client).
//!
//! Create maps its properties as Kestra does: `masterConfig` when
//! `masterMachineType` is given (`machineTypeUri`, `diskConfig.bootDiskSizeGb`
//! from `masterDiskSizeGB`, `imageUri` from `imageVersion`), `workerConfig`
//! when `workerMachineType` is given (the same, and `numInstances` from
//! `workers`), `gceClusterConfig.zoneUri` from `zone`, `configBucket` from
//! `bucket`. A disk size, `workers` or `imageVersion` without the machine
//! type they belong to is sent nowhere by Kestra: Baton refuses it.
//!
//! Outputs, as Kestra's: `clusterName` (the operation metadata's) and
//! `created` / `deleted`, true when the finished operation's
//! `metadata.status.innerState` is `DONE` (true without metadata). A
//! cluster that already exists (create) or does not exist (delete) fails
//! the task with Dataproc's error, as in Kestra.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{CLUSTER_OPERATION_MAX, check_region, host, region_ok, seg, wait_operation};
use crate::gcp::common::GcpProps;
use crate::gcp::rest::Api;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Create a Dataproc cluster.
///
/// Creates a cluster in a region with the given machine types, disk sizes, workers, zone and staging bucket; waits until it is created.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataproc.clusters.Create",
    group = "gcp",
    example = "id: cluster_create\ntype: io.kestra.plugin.gcp.dataproc.clusters.Create\nclusterName: my-cluster\nregion: europe-west3\nzone: europe-west3-a\nmasterMachineType: n1-standard-2\nworkerMachineType: n1-standard-2\nworkers: 2\nbucket: my-bucket\n",
    outputs(clusterName(String, "The cluster's name."), created(Boolean, "Whether the operation ended DONE."))
)]
struct CreateProps {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The cluster's name.
    #[serde(deserialize_with = "de::string_lenient")]
    cluster_name: String,
    /// The Dataproc region (e.g. europe-west3).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = region_ok)]
    region: String,
    /// The Compute Engine zone (a zone name or URI).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    zone: Option<String>,
    /// The master's machine type (e.g. n1-standard-2).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    master_machine_type: Option<String>,
    /// The master's boot disk size in GB (with masterMachineType).
    #[serde(rename = "masterDiskSizeGB", default, deserialize_with = "de::opt_u64_lenient")]
    master_disk_size_gb: Option<u64>,
    /// The workers' machine type (e.g. n1-standard-2).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    worker_machine_type: Option<String>,
    /// The workers' boot disk size in GB (with workerMachineType).
    #[serde(rename = "workerDiskSizeGB", default, deserialize_with = "de::opt_u64_lenient")]
    worker_disk_size_gb: Option<u64>,
    /// The number of workers (with workerMachineType).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    workers: Option<u64>,
    /// The Cloud Storage bucket for the cluster's staging files.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    bucket: Option<String>,
    /// The instances' image, sent as the master's and workers' imageUri (with a machine type).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    image_version: Option<String>,
}

/// Delete a Dataproc cluster.
///
/// Deletes a cluster of a region and waits until it is deleted.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataproc.clusters.Delete",
    group = "gcp",
    example = "id: cluster_delete\ntype: io.kestra.plugin.gcp.dataproc.clusters.Delete\nclusterName: my-cluster\nregion: europe-west3\n",
    outputs(clusterName(String, "The cluster's name."), deleted(Boolean, "Whether the operation ended DONE."))
)]
struct DeleteProps {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The cluster's name.
    #[serde(deserialize_with = "de::string_lenient")]
    cluster_name: String,
    /// The Dataproc region (e.g. europe-west3).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = region_ok)]
    region: String,
}

pub static CREATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CreateProps>(build_create));
pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteProps>(build_delete));

/// What both do: one call, one operation waited for.
struct ClusterCall {
    gcp: GcpProps,
    region: String,
    cluster_name: String,
    /// The cluster to create, or `None` to delete.
    create: Option<Value>,
}

fn names(cluster_name: &str, region: &str) -> Result<(String, String), TaskError> {
    check_region(region).map_err(|e| TaskError::property("region", e))?;
    let name = cluster_name.trim();
    if name.is_empty() {
        return Err(TaskError::property("clusterName", "is required"));
    }
    Ok((name.to_string(), region.trim().to_string()))
}

/// An instance group: its machine type, boot disk size, image and count.
fn group(machine: &str, disk: Option<u64>, image: &Option<String>, count: Option<u64>) -> Value {
    let mut g = Map::new();
    g.insert("machineTypeUri".into(), json!(machine.trim()));
    if let Some(d) = disk {
        g.insert("diskConfig".into(), json!({"bootDiskSizeGb": d}));
    }
    if let Some(i) = image {
        g.insert("imageUri".into(), json!(i));
    }
    if let Some(n) = count {
        g.insert("numInstances".into(), json!(n));
    }
    Value::Object(g)
}

/// The `Cluster` Kestra sends for these properties.
fn cluster(p: &CreateProps, name: &str) -> Result<Value, TaskError> {
    let without = |prop: &str, value: bool, needs: &str, set: bool| {
        if value && !set {
            Err(TaskError::property(prop, format!("is only sent with {needs} (Kestra sends it nowhere without it)")))
        } else {
            Ok(())
        }
    };
    without("masterDiskSizeGB", p.master_disk_size_gb.is_some(), "masterMachineType", p.master_machine_type.is_some())?;
    without("workerDiskSizeGB", p.worker_disk_size_gb.is_some(), "workerMachineType", p.worker_machine_type.is_some())?;
    without("workers", p.workers.is_some(), "workerMachineType", p.worker_machine_type.is_some())?;
    let any_machine = p.master_machine_type.is_some() || p.worker_machine_type.is_some();
    without("imageVersion", p.image_version.is_some(), "masterMachineType or workerMachineType", any_machine)?;
    let mut config = Map::new();
    if let Some(m) = &p.master_machine_type {
        config.insert("masterConfig".into(), group(m, p.master_disk_size_gb, &p.image_version, None));
    }
    if let Some(w) = &p.worker_machine_type {
        config.insert("workerConfig".into(), group(w, p.worker_disk_size_gb, &p.image_version, p.workers));
    }
    if let Some(z) = &p.zone {
        config.insert("gceClusterConfig".into(), json!({"zoneUri": z}));
    }
    if let Some(b) = &p.bucket {
        config.insert("configBucket".into(), json!(b));
    }
    Ok(json!({"clusterName": name, "config": config}))
}

fn build_create(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CreateProps = parse_props(props)?;
    let (cluster_name, region) = names(&p.cluster_name, &p.region)?;
    let body = cluster(&p, &cluster_name)?;
    Ok(Box::new(ClusterCall { gcp: p.gcp, region, cluster_name, create: Some(body) }))
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DeleteProps = parse_props(props)?;
    let (cluster_name, region) = names(&p.cluster_name, &p.region)?;
    Ok(Box::new(ClusterCall { gcp: p.gcp, region, cluster_name, create: None }))
}

/// Kestra's outputs of a finished operation: the metadata's cluster name
/// and whether its inner state is `DONE` (this name and true without
/// metadata).
fn outputs(op: &Value, cluster_name: &str, flag: &str) -> Map<String, Value> {
    let meta = op.get("metadata").filter(|m| m.is_object());
    let (name, done) = match meta {
        None => (cluster_name.to_string(), true),
        Some(m) => (
            m["clusterName"].as_str().unwrap_or_default().to_string(),
            m["status"]["innerState"].as_str().is_some_and(|s| s.eq_ignore_ascii_case("DONE")),
        ),
    };
    let mut out = Map::new();
    out.insert("clusterName".into(), Value::String(name));
    out.insert(flag.into(), Value::Bool(done));
    out
}

#[async_trait]
impl RunnableTask for ClusterCall {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let project = r.project()?.to_string();
        let api = Api::connect(cx, &r, "Dataproc", &host(&self.region)).await?;
        let clusters = format!("/v1/projects/{}/regions/{}/clusters", seg(&project), seg(&self.region));
        let name = &self.cluster_name;
        let (op, what, flag) = match &self.create {
            Some(body) => {
                cx.info(&format!("Creating the Dataproc cluster '{name}' in {}", self.region));
                (api.post(cx, &clusters, body).await?, format!("creating the cluster '{name}'"), "created")
            }
            None => {
                cx.info(&format!("Deleting the Dataproc cluster '{name}' in {}", self.region));
                let path = format!("{clusters}/{}", seg(name));
                (api.delete(cx, &path).await?, format!("deleting the cluster '{name}'"), "deleted")
            }
        };
        let done = wait_operation(cx, &api, op, &what, CLUSTER_OPERATION_MAX).await?;
        Ok(TaskOutput::with(outputs(&done, name, flag)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(v: Value) -> Result<Value, TaskError> {
        let p: CreateProps = parse_props(&v.as_object().cloned().unwrap_or_default())?;
        let (name, _) = names(&p.cluster_name, &p.region)?;
        cluster(&p, &name)
    }

    #[test]
    fn the_cluster_is_kestra_s_mapping_of_the_properties() {
        let c = create(json!({
            "clusterName": "c1", "region": "europe-west3", "zone": "europe-west3-a",
            "masterMachineType": "n1-standard-2", "masterDiskSizeGB": 500,
            "workerMachineType": "n1-standard-4", "workerDiskSizeGB": "200", "workers": 2,
            "bucket": "staging", "imageVersion": "2.1-debian12"
        }))
        .unwrap();
        assert_eq!(
            c,
            json!({"clusterName": "c1", "config": {
                "masterConfig": {"machineTypeUri": "n1-standard-2", "diskConfig": {"bootDiskSizeGb": 500}, "imageUri": "2.1-debian12"},
                "workerConfig": {"machineTypeUri": "n1-standard-4", "diskConfig": {"bootDiskSizeGb": 200}, "imageUri": "2.1-debian12", "numInstances": 2},
                "gceClusterConfig": {"zoneUri": "europe-west3-a"},
                "configBucket": "staging"
            }})
        );
        assert_eq!(
            create(json!({"clusterName": "c", "region": "r1"})).unwrap(),
            json!({"clusterName": "c", "config": {}})
        );
    }

    #[test]
    fn what_kestra_sends_nowhere_is_refused() {
        for (extra, prop) in [
            (json!({"workers": 2}), "'workers'"),
            (json!({"masterDiskSizeGB": 10}), "'masterDiskSizeGB'"),
            (json!({"workerDiskSizeGB": 10, "masterMachineType": "m"}), "'workerDiskSizeGB'"),
            (json!({"imageVersion": "2.1"}), "'imageVersion'"),
            (json!({"clusterName": " "}), "'clusterName'"),
        ] {
            let mut v = json!({"clusterName": "c", "region": "r1"});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            let e = create(v).unwrap_err().to_string();
            assert!(e.contains(prop), "{e}");
        }
    }

    #[test]
    fn outputs_read_the_operation_metadata() {
        let op =
            json!({"done": true, "metadata": {"clusterName": "c1", "status": {"state": "DONE", "innerState": "DONE"}}});
        assert_eq!(Value::Object(outputs(&op, "x", "created")), json!({"clusterName": "c1", "created": true}));
        let op = json!({"done": true, "metadata": {"clusterName": "c1", "status": {"innerState": "FAILED"}}});
        assert_eq!(Value::Object(outputs(&op, "x", "deleted")), json!({"clusterName": "c1", "deleted": false}));
        assert_eq!(
            Value::Object(outputs(&json!({"done": true}), "x", "deleted")),
            json!({"clusterName": "x", "deleted": true})
        );
    }
}
