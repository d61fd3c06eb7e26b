//! A function's configuration, read once from its environment by the
//! binary (no global config): port, push verification, backends, flows,
//! worker group, lease.
//!
//! `PORT` (set by Cloud Run; `8080`), `GOOGLE_CLOUD_PROJECT` and the
//! `BATON_*` variables, each declared with its default and meaning in
//! `baton_model::settings` (the configuration reference is generated from
//! it).
//!
//! The GCP backends read their own variables (`BATON_INTERNAL_BUCKET`, the
//! emulator hosts…): see `backend::gcp`.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::Duration;

use super::Handler;
use super::flows::FlowSource;
use super::oidc::OidcConfig;

/// A configuration problem, named for the person deploying.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
    #[error(
        "{0} is not set: push verification needs BATON_PUSH_AUDIENCE and BATON_PUSH_SERVICE_ACCOUNT \
         (the push subscription's oidc_token), or BATON_PUSH_AUTH=off to switch it off explicitly"
    )]
    MissingAuth(&'static str),
}

/// How push requests are verified.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    Off,
    Oidc(OidcConfig),
}

/// Which backends the engine runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// Firestore, GCS and Pub/Sub (configured by `backend::gcp`).
    Gcp,
    /// SQLite and a folder under `home`; messages relayed by HTTP push to `relay`.
    Local { home: PathBuf, relay: HashMap<String, String> },
}

/// Everything a function binary reads from its environment.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub port: u16,
    pub auth: AuthConfig,
    pub backend: BackendConfig,
    pub flows: FlowSource,
    pub worker_group: String,
    pub lease: Duration,
    pub work_root: PathBuf,
    pub project: Option<String>,
    /// Names this instance in worker claims and logs.
    pub instance: String,
    /// The sweep's Cloud Scheduler job, paused while nothing is in flight
    /// (`BATON_SWEEP_JOB`, full name); unset: left alone.
    pub sweep_job: Option<String>,
    /// Where the Cloud Scheduler API is (a local stand-in), unset: Google's.
    pub scheduler_endpoint: Option<String>,
    /// The api function serves only the webhook routes (`BATON_API_ROUTES=webhooks`).
    pub webhooks_only: bool,
    /// The HTTP listener's bounds (`server::function_limits`, with the
    /// `BATON_HTTP_*` settings applied).
    pub http: crate::serve::ServeLimits,
}

impl FunctionConfig {
    /// Reads the configuration of `handler` from `vars`.
    pub fn from_vars(handler: Handler, vars: &HashMap<String, String>) -> Result<FunctionConfig, ConfigError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let invalid = |name: &'static str, value: &str, reason: &str| ConfigError::Invalid {
            name,
            value: value.to_string(),
            reason: reason.to_string(),
        };

        let port = match get("PORT") {
            None => 8080,
            Some(p) => p.parse().map_err(|_| invalid("PORT", &p, "not a port number"))?,
        };

        let auth = match get("BATON_PUSH_AUTH").as_deref().map(str::to_ascii_lowercase).as_deref() {
            // the API is plain HTTP, guarded by Cloud Run IAM: no push tokens
            _ if handler == Handler::Api => AuthConfig::Off,
            Some("off") => AuthConfig::Off,
            None | Some("oidc") => {
                let audience = get("BATON_PUSH_AUDIENCE").ok_or(ConfigError::MissingAuth("BATON_PUSH_AUDIENCE"))?;
                let account =
                    get("BATON_PUSH_SERVICE_ACCOUNT").ok_or(ConfigError::MissingAuth("BATON_PUSH_SERVICE_ACCOUNT"))?;
                let mut oidc = OidcConfig::google(&audience, &account);
                if let Some(url) = get("BATON_JWKS_URL") {
                    oidc.jwks_url = url;
                }
                AuthConfig::Oidc(oidc)
            }
            Some(other) => return Err(invalid("BATON_PUSH_AUTH", other, "expected `oidc` or `off`")),
        };

        let project = get("GOOGLE_CLOUD_PROJECT");
        let backend = match get("BATON_BACKEND").as_deref() {
            Some("gcp") => BackendConfig::Gcp,
            None if project.is_some() => BackendConfig::Gcp,
            Some("local") | None => {
                let home = get("BATON_HOME").map(PathBuf::from).unwrap_or_else(|| match get("HOME") {
                    Some(h) => PathBuf::from(h).join(".baton"),
                    None => PathBuf::from(".baton"),
                });
                let relay = match get("BATON_RELAY") {
                    Some(spec) => super::relay::parse_routes(&spec).map_err(|r| invalid("BATON_RELAY", &spec, &r))?,
                    None => HashMap::new(),
                };
                BackendConfig::Local { home, relay }
            }
            Some(other) => return Err(invalid("BATON_BACKEND", other, "expected `gcp` or `local`")),
        };

        // a malformed seal key is a bad setting like the others (exit 2 at
        // start-up), not a failure of the backends opening later
        if backend == BackendConfig::Gcp {
            crate::backend::seal::keys_from_settings(get).map_err(|e| ConfigError::Invalid {
                name: e.setting(),
                value: "(hidden)".to_string(),
                reason: e.to_string(),
            })?;
        }

        let flows = match get("BATON_FLOWS") {
            Some(f) if f.starts_with("kestra://") => FlowSource::Storage(
                crate::backend::storage_path(&f).map_err(|e| invalid("BATON_FLOWS", &f, &e.to_string()))?,
            ),
            Some(dir) => FlowSource::Dir(PathBuf::from(dir)),
            None => FlowSource::Storage("/flows".into()),
        };

        let lease = match get("BATON_LEASE_SECONDS") {
            None => Duration::seconds(crate::runtime::worker::LEASE_SECONDS),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= 1 => Duration::seconds(n),
                _ => return Err(invalid("BATON_LEASE_SECONDS", &s, "expected a whole number of seconds ≥ 1")),
            },
        };

        let worker_group = get("BATON_WORKER_GROUP").unwrap_or_else(|| "core".into());
        if !worker_group.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(invalid("BATON_WORKER_GROUP", &worker_group, "expected a group name like `core`"));
        }

        let webhooks_only = match get("BATON_API_ROUTES").as_deref() {
            None | Some("all") => false,
            Some("webhooks") => true,
            Some(other) => return Err(invalid("BATON_API_ROUTES", other, "expected `all` or `webhooks`")),
        };

        let http = super::server::function_limits().with_settings(get).map_err(|e| ConfigError::Invalid {
            name: e.name,
            value: e.value,
            reason: e.reason,
        })?;

        let short = uuid::Uuid::new_v4().simple().to_string();
        let instance = format!(
            "{}-{}",
            get("K_REVISION").unwrap_or_else(|| handler.name().to_string()),
            short.get(..8).unwrap_or(&short)
        );
        Ok(FunctionConfig {
            port,
            auth,
            backend,
            flows,
            worker_group,
            lease,
            work_root: get("BATON_WORK_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("baton-work")),
            project,
            instance,
            sweep_job: get("BATON_SWEEP_JOB"),
            scheduler_endpoint: get("BATON_CLOUD_SCHEDULER_ENDPOINT"),
            webhooks_only,
            http,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_api_serves_everything_or_only_webhooks() {
        assert!(!FunctionConfig::from_vars(Handler::Api, &vars(&[])).expect("api").webhooks_only);
        let only = FunctionConfig::from_vars(Handler::Api, &vars(&[("BATON_API_ROUTES", "webhooks")])).expect("api");
        assert!(only.webhooks_only);
        let err = FunctionConfig::from_vars(Handler::Api, &vars(&[("BATON_API_ROUTES", "some")])).expect_err("bad");
        assert!(err.to_string().contains("BATON_API_ROUTES"), "{err}");
    }

    #[test]
    fn a_malformed_seal_key_is_a_bad_setting_and_its_value_is_not_echoed() {
        let gcp = |key: &str| vars(&[("BATON_API_ROUTES", "all"), ("BATON_BACKEND", "gcp"), ("BATON_SEAL_KEY", key)]);
        let err = FunctionConfig::from_vars(Handler::Api, &gcp("hunter2")).expect_err("not a key");
        let text = err.to_string();
        assert!(text.contains("BATON_SEAL_KEY") && text.contains("not a usable key"), "{text}");
        assert!(!text.contains("hunter2"), "the value is never printed: {text}");
        let good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        FunctionConfig::from_vars(Handler::Api, &gcp(good)).expect("a 32-byte base64 key");
        // the keys of before a rotation are checked as well, and need a current one
        let rotated = |previous: &str| {
            let mut v = gcp(good);
            v.insert("BATON_SEAL_KEY_PREVIOUS".into(), previous.into());
            v
        };
        FunctionConfig::from_vars(Handler::Api, &rotated(&format!("{good}, {good}"))).expect("two previous keys");
        let text = FunctionConfig::from_vars(Handler::Api, &rotated("hunter2")).expect_err("bad").to_string();
        assert!(
            text.contains("BATON_SEAL_KEY_PREVIOUS is not a usable key: key 1 of 1") && !text.contains("hunter2"),
            "{text}"
        );
        let mut alone = rotated(good);
        alone.remove("BATON_SEAL_KEY");
        let text = FunctionConfig::from_vars(Handler::Api, &alone).expect_err("previous alone").to_string();
        assert!(
            text.contains("BATON_SEAL_KEY_PREVIOUS is set but BATON_SEAL_KEY is not") && !text.contains(good),
            "{text}"
        );
        // the local backends do not read it
        let local = vars(&[("BATON_BACKEND", "local"), ("BATON_SEAL_KEY", "hunter2")]);
        FunctionConfig::from_vars(Handler::Api, &local).expect("local ignores the GCP seal key");
    }

    #[test]
    fn push_verification_is_on_unless_switched_off() {
        let err = FunctionConfig::from_vars(Handler::Executor, &vars(&[])).expect_err("no audience");
        assert!(err.to_string().contains("BATON_PUSH_AUTH=off"), "{err}");
        let cfg = FunctionConfig::from_vars(
            Handler::Worker,
            &vars(&[
                ("BATON_PUSH_AUDIENCE", "https://worker-core.run.app"),
                ("BATON_PUSH_SERVICE_ACCOUNT", "push@p.iam.gserviceaccount.com"),
            ]),
        )
        .expect("config");
        match cfg.auth {
            AuthConfig::Oidc(o) => {
                assert_eq!(o.audience, "https://worker-core.run.app");
                assert_eq!(o.jwks_url, super::super::oidc::GOOGLE_JWKS_URL);
            }
            AuthConfig::Off => panic!("verification must be on"),
        }
        let off = FunctionConfig::from_vars(Handler::Executor, &vars(&[("BATON_PUSH_AUTH", "off")])).expect("off");
        assert!(matches!(off.auth, AuthConfig::Off));
        assert!(FunctionConfig::from_vars(Handler::Executor, &vars(&[("BATON_PUSH_AUTH", "no")])).is_err());
        assert!(matches!(FunctionConfig::from_vars(Handler::Api, &vars(&[])).expect("api").auth, AuthConfig::Off));
    }

    #[test]
    fn backends_flows_and_worker_settings() {
        let base = [("BATON_PUSH_AUTH", "off")];
        let cfg = FunctionConfig::from_vars(Handler::Worker, &vars(&base)).expect("defaults");
        assert_eq!(cfg.port, 8080);
        assert_eq!(cfg.worker_group, "core");
        assert_eq!(cfg.lease, Duration::seconds(30));
        assert_eq!(cfg.flows, FlowSource::Storage("/flows".into()));
        assert!(matches!(cfg.backend, BackendConfig::Local { .. }));

        let gcp =
            FunctionConfig::from_vars(Handler::Worker, &vars(&[base[0], ("GOOGLE_CLOUD_PROJECT", "p")])).expect("gcp");
        assert_eq!(gcp.backend, BackendConfig::Gcp);

        let local = FunctionConfig::from_vars(
            Handler::Worker,
            &vars(&[
                base[0],
                ("GOOGLE_CLOUD_PROJECT", "p"),
                ("BATON_BACKEND", "local"),
                ("BATON_HOME", "/tmp/h"),
                ("BATON_RELAY", "baton-executions=http://127.0.0.1:1/"),
                ("BATON_FLOWS", "/srv/flows"),
                ("BATON_WORKER_GROUP", "scripts"),
                ("BATON_LEASE_SECONDS", "5"),
                ("PORT", "9000"),
            ]),
        )
        .expect("local");
        match &local.backend {
            BackendConfig::Local { home, relay } => {
                assert_eq!(home, &PathBuf::from("/tmp/h"));
                assert_eq!(relay["baton-executions"], "http://127.0.0.1:1/");
            }
            BackendConfig::Gcp => panic!("BATON_BACKEND=local wins"),
        }
        assert_eq!(local.flows, FlowSource::Dir("/srv/flows".into()));
        assert_eq!((local.worker_group.as_str(), local.lease, local.port), ("scripts", Duration::seconds(5), 9000));

        for (k, v) in
            [("PORT", "x"), ("BATON_LEASE_SECONDS", "0"), ("BATON_BACKEND", "aws"), ("BATON_WORKER_GROUP", "a b")]
        {
            let err = FunctionConfig::from_vars(Handler::Worker, &vars(&[base[0], (k, v)])).expect_err(k);
            assert!(err.to_string().contains(k), "{err}");
        }
    }
}
