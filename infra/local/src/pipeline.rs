//! The pipeline on an emulator: mappings running, ledgers uploaded, waiting until settled,
//! and the orders read back as users see them.

use crate::function::LambdaFunction;
use crate::mapping::{Mapping, MappingConfig, MappingError, Stats};
use crate::stack::Stack;
use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use convoy_core::{BoxError, OrderId, OrderView};
use convoy_store::{DynamoOrderStore, OrderReader};
use ledger::{LedgerStatus, State};
use ledger_format::{kind_of_key, Decoder, Parsed};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("uploading {key}")]
    Upload {
        key: String,
        #[source]
        source: BoxError,
    },
    #[error("reading the ledger file {path}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("the emulator: {what}")]
    Emulator {
        what: String,
        #[source]
        source: BoxError,
    },
    #[error("not settled after {waited:?}: {state}")]
    Timeout { waited: Duration, state: String },
}

fn emulator(what: impl Into<String>) -> impl FnOnce(BoxError) -> PipelineError {
    let what = what.into();
    move |source| PipelineError::Emulator { what, source }
}

/// Clients for one stack.
#[derive(Clone)]
pub struct Pipeline {
    pub stack: Stack,
    pub sdk: SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub orders: DynamoOrderStore,
}

/// The two event source mappings, running until stopped.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    pub ledger_stats: Arc<Stats>,
    pub consumer_stats: Arc<Stats>,
}

impl Running {
    /// Stops polling and waits for the batches in flight to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    fn idle(&self) -> bool {
        self.ledger_stats.in_flight.load(Ordering::SeqCst) == 0
            && self.consumer_stats.in_flight.load(Ordering::SeqCst) == 0
    }
}

/// One uploaded object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub key: String,
    pub version_id: Option<String>,
    /// Without quotes, as S3 events carry it.
    pub etag: Option<String>,
}

impl Upload {
    /// Whether a status record is about this very upload (not an earlier one of the key).
    pub fn is(&self, status: &LedgerStatus) -> bool {
        match (&self.version_id, &status.version_id) {
            (Some(a), Some(b)) => a == b,
            _ => {
                self.etag.is_some()
                    && self.etag.as_deref() == status.etag.as_deref().map(|e| e.trim_matches('"'))
            }
        }
    }
}

/// Counts of one queue: visible, in flight, delayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

impl QueueDepth {
    pub fn is_empty(&self) -> bool {
        self.visible + self.in_flight + self.delayed == 0
    }
}

impl Pipeline {
    pub async fn connect(stack: Stack) -> Pipeline {
        let sdk = stack.emulator().sdk_config().await;
        Pipeline {
            s3: ledger::aws::s3_client(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            orders: DynamoOrderStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                stack.table_name.clone(),
            ),
            stack,
            sdk,
        }
    }

    /// Starts Lambda's part: the ledger queue → `ledger` (batch 1) and the FIFO
    /// transactions queue → `consumer` (batches of up to 10, several pollers).
    pub async fn start<L, C>(
        &self,
        ledger: L,
        consumer: C,
        consumer_pollers: usize,
    ) -> Result<Running, PipelineError>
    where
        L: LambdaFunction + 'static,
        C: LambdaFunction + 'static,
    {
        let ledger_mapping = Arc::new(
            Mapping::new(
                self.sqs.clone(),
                &self.stack.ledger_queue_url,
                MappingConfig {
                    batch_size: 1,
                    pollers: 2,
                    wait_seconds: 1,
                },
                ledger,
            )
            .await?,
        );
        let consumer_mapping = Arc::new(
            Mapping::new(
                self.sqs.clone(),
                &self.stack.transactions_queue_url,
                MappingConfig {
                    batch_size: 10,
                    pollers: consumer_pollers,
                    wait_seconds: 1,
                },
                consumer,
            )
            .await?,
        );
        let (stop, rx) = watch::channel(false);
        let ledger_stats = ledger_mapping.stats.clone();
        let consumer_stats = consumer_mapping.stats.clone();
        let rx2 = rx.clone();
        let tasks = vec![
            tokio::spawn(async move { ledger_mapping.run(rx).await }),
            tokio::spawn(async move { consumer_mapping.run(rx2).await }),
        ];
        Ok(Running {
            stop,
            tasks,
            ledger_stats,
            consumer_stats,
        })
    }

    /// Uploads `body` as `key` (which should start with `ledgers/`).
    pub async fn upload(&self, key: &str, body: Vec<u8>) -> Result<Upload, PipelineError> {
        let out = self
            .s3
            .put_object()
            .bucket(&self.stack.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .map_err(|e| PipelineError::Upload {
                key: key.to_owned(),
                source: Box::new(e),
            })?;
        Ok(Upload {
            key: key.to_owned(),
            version_id: out.version_id().map(str::to_owned),
            etag: out.e_tag().map(|e| e.trim_matches('"').to_owned()),
        })
    }

    /// The ledger's status record, if any.
    pub async fn status(&self, key: &str) -> Result<Option<LedgerStatus>, PipelineError> {
        ledger::get_status(&self.sdk, &self.stack.table_name, &self.stack.bucket, key)
            .await
            .map_err(|e| emulator(format!("reading the status of {key}"))(Box::new(e)))
    }

    pub async fn depth(&self, queue_url: &str) -> Result<QueueDepth, PipelineError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| emulator(format!("GetQueueAttributes {queue_url}"))(Box::new(e)))?;
        let get = |n: QueueAttributeName| {
            out.attributes()
                .and_then(|a| a.get(&n))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(QueueDepth {
            visible: get(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }

    /// Waits until every ledger in `keys` has a final status and both queues are drained
    /// with nothing in flight (checked twice in a row). Parked orders count as settled.
    /// `progress` is told what is still going on, about once a second.
    pub async fn wait_settled(
        &self,
        running: &Running,
        uploads: &[Upload],
        timeout: Duration,
        mut progress: impl FnMut(&str),
    ) -> Result<Vec<LedgerStatus>, PipelineError> {
        let started = Instant::now();
        let mut quiet_rounds = 0;
        let mut last_report = Instant::now();
        loop {
            let mut statuses = Vec::new();
            let mut waiting = Vec::new();
            for upload in uploads {
                let key = &upload.key;
                match self.status(key).await? {
                    Some(s) if !upload.is(&s) => waiting.push(format!("{key}: not picked up yet")),
                    Some(s) if s.state != State::Processing => statuses.push(s),
                    Some(s) => waiting.push(format!(
                        "{key}: processing, {} lines read, {} sent",
                        s.lines_read, s.sent
                    )),
                    None => waiting.push(format!("{key}: not picked up yet")),
                }
            }
            let ledger_q = self.depth(&self.stack.ledger_queue_url).await?;
            let txn_q = self.depth(&self.stack.transactions_queue_url).await?;
            let settled = waiting.is_empty()
                && txn_q.is_empty()
                && running.idle()
                && (ledger_q.is_empty() || statuses.iter().any(|s| s.state == State::Failed));
            let state = format!(
                "{}; transactions queue {} visible, {} in flight; ledger queue {} visible, {} in flight; {} consumer batches so far",
                if waiting.is_empty() { "all ledgers final".to_owned() } else { waiting.join("; ") },
                txn_q.visible, txn_q.in_flight, ledger_q.visible, ledger_q.in_flight,
                running.consumer_stats.invocations.load(Ordering::SeqCst),
            );
            if settled {
                quiet_rounds += 1;
                if quiet_rounds >= 2 {
                    return Ok(statuses);
                }
            } else {
                quiet_rounds = 0;
            }
            if started.elapsed() > timeout {
                return Err(PipelineError::Timeout {
                    waited: started.elapsed(),
                    state,
                });
            }
            if last_report.elapsed() >= Duration::from_secs(1) {
                progress(&state);
                last_report = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The views of the given orders (those never reached are left out), by `order_id`.
    pub async fn views(&self, ids: &BTreeSet<OrderId>) -> Result<Vec<OrderView>, PipelineError> {
        // One query per order (its items and parked transactions are items of their own).
        let mut views = Vec::new();
        for id in ids {
            let stored = self
                .orders
                .load_stored_order(id)
                .await
                .map_err(|e| emulator("reading an order")(Box::new(e)))?;
            views.extend(stored.as_ref().map(OrderView::from));
        }
        Ok(views)
    }

    /// The text of an object, if it exists (e.g. a rejects report).
    pub async fn read_object(&self, key: &str) -> Result<Option<String>, PipelineError> {
        match self
            .s3
            .get_object()
            .bucket(&self.stack.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| emulator(format!("reading {key}"))(Box::new(e)))?;
                Ok(Some(
                    String::from_utf8_lossy(&bytes.into_bytes()).into_owned(),
                ))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(emulator(format!("GetObject {key}"))(Box::new(e))),
        }
    }
}

/// The orders that a ledger's valid lines reach, found by decoding it as the function does.
pub fn orders_in_ledger(key: &str, bytes: &[u8]) -> BTreeSet<OrderId> {
    let Ok(kind) = kind_of_key(key) else {
        return BTreeSet::new();
    };
    let mut decoder = Decoder::new(kind);
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    let mut collect = |out: &mut Vec<Parsed>| {
        for p in out.drain(..) {
            if let Parsed::Txn { txn, .. } = p {
                ids.insert(txn.order_id);
            }
        }
    };
    let mut rest = bytes;
    while !rest.is_empty() {
        let Ok(taken) = decoder.feed(rest, &mut out) else {
            break;
        };
        rest = &rest[taken..];
        collect(&mut out);
    }
    let _ = decoder.finish(&mut out);
    collect(&mut out);
    ids
}
