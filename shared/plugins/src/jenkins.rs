//! Jenkins (`io.kestra.plugin.jenkins.*`, plugin-jenkins): `JobBuild`
//! enqueues a build (`POST {serverUrl}/job/{a}/job/{b}/buildWithParameters`,
//! the `parameters` form-encoded; output `status`, Jenkins' HTTP status)
//! and `JobInfo` reads one build (`GET …/{buildNumber}/api/json`; output
//! `info`). As Kestra: a folder path `a/b` names `job/a/job/b`, each
//! segment percent-encoded; Basic auth with `username` and `apiToken` when
//! set; a non-2xx answer fails the task with its status and body.
//! `options` is carried out as core `http.Request`'s (timeouts;
//! `allowFailed` refused). Answers are read up to [`MAX_ANSWER`].

use std::sync::LazyLock;

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::core::http::{self, HttpOptions};
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes of one answer read.
pub const MAX_ANSWER: u64 = 16 * 1024 * 1024;

/// How to reach Jenkins and the job: what both tasks take.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ServerProps {
    /// Jenkins' base URL (http://jenkins.example.com:8080).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    server_url: String,
    /// The job's name, or its folder path with '/' (team/project/job).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    job_name: String,
    /// The user for Basic auth (use a secret).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    username: Option<String>,
    /// The user's API token or password (use a secret).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    api_token: Option<String>,
    /// The HTTP client's options (connectTimeout, readTimeout…), as core http.Request's.
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
}

/// A checked server and job.
#[derive(Debug)]
struct Job {
    /// `{serverUrl}/job/{a}/job/{b}/`.
    url: Url,
    name: String,
    auth: Option<(String, Option<String>)>,
    options: HttpOptions,
}

impl ServerProps {
    fn check(self) -> Result<Job, TaskError> {
        let mut url = http::parse_uri("serverUrl", &self.server_url)?;
        let name = self.job_name.trim().to_string();
        let parts: Vec<&str> = name.split('/').filter(|s| !s.is_empty()).collect();
        if parts.is_empty() {
            return Err(TaskError::property("jobName", "is required"));
        }
        {
            let mut path =
                url.path_segments_mut().map_err(|_| TaskError::property("serverUrl", "is not a base URL"))?;
            path.pop_if_empty();
            for part in parts {
                path.push("job").push(part);
            }
            path.push("");
        }
        let user = self.username.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
        let options = self.options.unwrap_or_default();
        if options.allow_failed == Some(true) {
            return Err(TaskError::property("options", "allowFailed: a failed Jenkins call always fails the task"));
        }
        Ok(Job { url, name, auth: user.map(|u| (u, self.api_token)), options })
    }
}

impl Job {
    /// One call to `path` under the job; the status and the body.
    async fn call(
        &self,
        cx: &RunContext,
        method: Method,
        path: &str,
        form: Option<&[(String, String)]>,
    ) -> Result<(u16, Vec<u8>), TaskError> {
        let url = self.url.join(path).map_err(|e| TaskError::failed(format!("bad Jenkins path '{path}': {e}")))?;
        let mut rb = cx.services.http.request(method.clone(), url.clone());
        if let Some(f) = form {
            rb = rb.form(f);
        }
        if let Some((u, p)) = &self.auth {
            rb = rb.basic_auth(u, p.as_deref());
        }
        let rb = http::with_timeout(http::with_auth(rb, &self.options)?, None, &self.options)?;
        let (status, bytes) = http::call(rb, &method, "Jenkins", &url, MAX_ANSWER).await?;
        if !status.is_success() {
            return Err(http::status_error(status, &bytes, &method, &url));
        }
        Ok((status.as_u16(), bytes))
    }
}

/// `JobBuild`'s own property.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct BuildProps {
    /// The build's parameters, sent form-encoded.
    #[serde(default)]
    #[prop(dynamic, kind = "Map")]
    parameters: Option<Map<String, Value>>,
}

/// `JobInfo`'s own property.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct InfoProps {
    /// The build's number.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(required)]
    build_number: Option<u64>,
}

/// The properties of `JobBuild`.
pub struct BuildDecl;
/// The properties of `JobInfo`.
pub struct InfoDecl;

impl DeclaredProps for BuildDecl {
    fn props() -> Vec<PropDecl> {
        [ServerProps::props(), BuildProps::props()].concat()
    }
}

impl DeclaredProps for InfoDecl {
    fn props() -> Vec<PropDecl> {
        [ServerProps::props(), InfoProps::props()].concat()
    }
}

/// Trigger a Jenkins job build.
///
/// Enqueues a build of jobName (a folder path with '/') through buildWithParameters, its parameters form-encoded; outputs Jenkins' HTTP status.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.jenkins.JobBuild",
    group = "core",
    props = BuildDecl,
    example = "id: build\ntype: io.kestra.plugin.jenkins.JobBuild\nserverUrl: http://jenkins.example.com:8080\njobName: team/deploy\nusername: \"{{ secret('JENKINS_USERNAME') }}\"\napiToken: \"{{ secret('JENKINS_API_TOKEN') }}\"\nparameters:\n  branch: main\n",
    outputs(status(Integer, "The HTTP status Jenkins answered (201 when queued)."))
)]
struct JobBuild {
    job: Job,
    parameters: Vec<(String, String)>,
}

/// Fetch a Jenkins build's details.
///
/// Reads build buildNumber of jobName from Jenkins' JSON API; outputs it as info.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.jenkins.JobInfo",
    group = "core",
    props = InfoDecl,
    example = "id: info\ntype: io.kestra.plugin.jenkins.JobInfo\nserverUrl: http://jenkins.example.com:8080\njobName: team/deploy\nbuildNumber: 42\n",
    outputs(info(Map, "The build as Jenkins' JSON API gives it (result, building, duration, url…)."))
)]
struct JobInfo {
    job: Job,
    build_number: u64,
}

fn build_build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: BuildProps = parse_props(props)?;
    let parameters = p
        .parameters
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    Ok(Box::new(JobBuild { job: parse_props::<ServerProps>(props)?.check()?, parameters }))
}

fn build_info(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: InfoProps = parse_props(props)?;
    Ok(Box::new(JobInfo {
        job: parse_props::<ServerProps>(props)?.check()?,
        build_number: p.build_number.ok_or_else(|| TaskError::property("buildNumber", "is required"))?,
    }))
}

#[async_trait]
impl RunnableTask for JobBuild {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (status, _) = self.job.call(cx, Method::POST, "buildWithParameters", Some(&self.parameters)).await?;
        cx.info(&format!("Triggered job '{}' with status code: {status}", self.job.name));
        Ok(TaskOutput::with(Map::from_iter([("status".to_string(), Value::from(status))])))
    }
}

#[async_trait]
impl RunnableTask for JobInfo {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let path = format!("{}/api/json", self.build_number);
        let (_, bytes) = self.job.call(cx, Method::GET, &path, None).await?;
        let info: Value = serde_json::from_slice(&bytes).map_err(|e| {
            TaskError::failed(format!("Jenkins' answer for build {} is not JSON: {e}", self.build_number))
        })?;
        Ok(TaskOutput::with(Map::from_iter([("info".to_string(), info)])))
    }
}

pub static JOB_BUILD: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<JobBuild>(build_build));
pub static JOB_INFO: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<JobInfo>(build_info));

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    r.register(*JOB_BUILD);
    r.register(*JOB_INFO);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job(server: &str, name: &str) -> Result<Job, TaskError> {
        let p = json!({"serverUrl": server, "jobName": name});
        parse_props::<ServerProps>(p.as_object().unwrap())?.check()
    }

    #[test]
    fn folder_paths_become_job_segments_each_encoded() {
        assert_eq!(job("http://j:8080", "deploy").unwrap().url.as_str(), "http://j:8080/job/deploy/");
        assert_eq!(
            job("http://j:8080/ci/", "team/my job").unwrap().url.as_str(),
            "http://j:8080/ci/job/team/job/my%20job/"
        );
        assert!(job("ftp://j", "x").unwrap_err().to_string().contains("serverUrl"));
        assert!(job("http://j", " / ").unwrap_err().to_string().contains("jobName"));
    }
}
