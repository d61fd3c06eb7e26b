//! A local AWS server for the AWS tests (`s3`, `sqs`, `dynamodb`): moto's server mode
//! on a free port of 127.0.0.1 (`scripts/setup/moto.sh` installs it), one
//! per test, killed when dropped.

use std::process::Stdio;
use std::time::Duration;

use shared::plugins::aws::{AwsProps, S3Client};

/// A moto server, killed when dropped.
pub(crate) struct Moto {
    pub(crate) url: String,
    _child: tokio::process::Child,
}

pub(crate) async fn moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let child = tokio::process::Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 (scripts/setup/moto.sh installs moto[server])");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(format!("{url}/moto-api/")).send().await.is_ok() {
            return Moto { url, _child: child };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto did not start on {url} (is moto[server] installed? scripts/setup/moto.sh)");
}

impl Moto {
    /// The connection properties, as `pluginDefaults` give them.
    pub(crate) fn defaults(&self) -> String {
        format!(
            "pluginDefaults:\n  - type: io.kestra.plugin.aws\n    values:\n      endpointOverride: {}\n      \
             region: us-east-1\n      accessKeyId: testing\n      secretKeyId: testing\n      forcePathStyle: true\n",
            self.url
        )
    }

    /// The connection as the tasks' properties hold it.
    pub(crate) fn props(&self) -> AwsProps {
        AwsProps {
            endpoint_override: Some(self.url.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some("testing".into()),
            secret_key_id: Some("testing".into()),
            force_path_style: Some(true),
            ..AwsProps::default()
        }
    }

    pub(crate) async fn client(&self) -> S3Client {
        self.props().s3().await.expect("client")
    }
}
