//! Log delivery for the embedded runtime: task log lines go through a
//! channel to a writer that appends them to the store in batches, and are
//! echoed to the terminal when asked. `flush` waits until all are written.

use std::io::Write;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::backend::{LogEntry, StateStore};
use crate::plugins::context::LogSink;

enum Msg {
    Line(LogEntry),
    Flush(oneshot::Sender<()>),
}

/// A `LogSink` writing to the state store in the background.
#[derive(Clone)]
pub struct StoreLogSink {
    tx: mpsc::UnboundedSender<Msg>,
}

impl StoreLogSink {
    /// Starts the writer. With `echo`, lines are also printed on stderr.
    pub fn start(store: Arc<dyn StateStore>, echo: bool) -> StoreLogSink {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while let Some(first) = rx.recv().await {
                let mut flushes = Vec::new();
                let mut push = |m: Msg, batch: &mut Vec<LogEntry>| match m {
                    Msg::Line(l) => batch.push(l),
                    Msg::Flush(done) => flushes.push(done),
                };
                push(first, &mut batch);
                while let Ok(m) = rx.try_recv() {
                    push(m, &mut batch);
                    if batch.len() >= 500 {
                        break;
                    }
                }
                if echo {
                    let mut err = std::io::stderr().lock();
                    for l in &batch {
                        let _ = writeln!(
                            err,
                            "{} {:<5} [{}] {}",
                            l.timestamp.format("%H:%M:%S%.3f"),
                            l.level,
                            l.task_id.as_deref().unwrap_or("-"),
                            l.message
                        );
                    }
                }
                if !batch.is_empty() {
                    if let Err(e) = store.append_logs(&batch).await {
                        tracing::error!(error = %e, lines = batch.len(), "cannot store log lines");
                    }
                    batch.clear();
                }
                for f in flushes {
                    let _ = f.send(());
                }
            }
        });
        StoreLogSink { tx }
    }

    /// Waits until every line emitted so far is stored.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

impl LogSink for StoreLogSink {
    fn emit(&self, entry: LogEntry) {
        let _ = self.tx.send(Msg::Line(entry));
    }
}
