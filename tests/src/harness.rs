//! One test's exclusive use of the emulator: the global lock, the run id that namespaces
//! its ledger keys and order ids, and the pipeline driven with in-process functions.

use crate::inprocess::{InProcessConsumer, InProcessLedger};
use crate::BoxError;
use consumer::sqs::SqsDrainQueue;
use convoy_core::OrderId;
use convoy_core::OrderView;
use convoy_local::function::LambdaFunction;
use convoy_local::pipeline::{Pipeline, PipelineError, Running, Upload};
use convoy_local::stack::{Stack, StackError};
use convoy_store::{DynamoOrderStore, OrderReader, StoreError};
use futures::{FutureExt, StreamExt, TryStreamExt};
use ledger::aws::{DynamoStatusStore, S3Rejects, S3Source, SqsContinuations, SqsPublisher};
use ledger::{LedgerStatus, TransactionPublisher};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Mutex, MutexGuard};

/// How long a test waits for the pipeline to settle before it fails (never hangs CI).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

/// The in-process ledger function's time limit per invocation (below the ledger queue's
/// visibility timeout, as Lambda requires of a deployed function).
pub const LEDGER_TIMEOUT: Duration = Duration::from_secs(25);

/// Concurrent pollers of the transactions queue (Lambda scales FIFO by message group).
pub const CONSUMER_POLLERS: usize = 4;

const HOW_TO_START: &str = "run `bash infra/test.sh`, or start the emulator and provision the \
     stack with `bash infra/localstack.sh start && bash infra/provision.sh`";

/// Tests share one emulator and its queues: one test at a time (a tokio mutex does not
/// poison, so a failed test does not fail the next ones).
static EXCLUSIVE: Mutex<()> = Mutex::const_new(());

static RUNS: AtomicU64 = AtomicU64::new(0);
static COPIES: AtomicU64 = AtomicU64::new(0);

/// Why a test could not use the emulator. Its `Debug` (what `unwrap` shows) is the message
/// with its causes.
#[derive(thiserror::Error)]
pub enum HarnessError {
    #[error("the local stack cannot be read: {HOW_TO_START}")]
    NoStack(#[source] StackError),
    #[error("{what} of the stack does not answer at {endpoint}: {HOW_TO_START}")]
    NoEmulator {
        endpoint: String,
        what: &'static str,
        #[source]
        source: BoxError,
    },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("reading the orders")]
    Store(#[source] StoreError),
    #[error("sending a transaction to the transactions queue")]
    Send(#[source] BoxError),
    #[error("reading the settings of queue {0}")]
    Queue(String, #[source] BoxError),
    #[error("order {0} does not serialize as JSON")]
    View(String, #[source] serde_json::Error),
}

impl std::fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::chain(self))
    }
}

/// The ledger function in-process, over the real S3 / SQS / DynamoDB adapters.
pub type AwsLedger =
    InProcessLedger<S3Source, SqsPublisher, S3Rejects, DynamoStatusStore, SqsContinuations>;

/// One test's hold on the emulator; released when dropped.
pub struct Harness {
    /// `r<millis>-<counter>`: unique per test, also across runs on the same emulator.
    pub run: String,
    pub pipeline: Pipeline,
    /// Every order id the test's ledgers and copies mention: what [`Harness::views`] reads.
    mentioned: std::sync::Mutex<BTreeSet<String>>,
    _exclusive: MutexGuard<'static, ()>,
}

impl Harness {
    /// Waits for the emulator to be free, then checks that it is there with the stack.
    pub async fn start() -> Result<Harness, HarnessError> {
        log_to_file();
        let exclusive = EXCLUSIVE.lock().await;
        let stack = Stack::load().await.map_err(HarnessError::NoStack)?;
        let pipeline = Pipeline::connect(stack).await;
        probe(&pipeline).await?;
        Ok(Harness {
            run: new_run_id(),
            pipeline,
            mentioned: Default::default(),
            _exclusive: exclusive,
        })
    }

    /// `ledgers/<run>/<name>`.
    pub fn key(&self, name: &str) -> String {
        format!("ledgers/{}/{name}", self.run)
    }

    /// `<run>-`: what every order id of this test starts with.
    pub fn prefix(&self) -> String {
        format!("{}-", self.run)
    }

    /// `<run>-<id>`.
    pub fn order_id(&self, id: &str) -> String {
        format!("{}{id}", self.prefix())
    }

    /// The ledger function's handler in-process, built as the Lambda builds it.
    pub fn ledger_function(&self) -> AwsLedger {
        self.ledger_function_with(|publisher| publisher)
    }

    /// The ledger function's handler in-process, its publisher wrapped by `wrap` (to inject
    /// faults into what it sends).
    pub fn ledger_function_with<P: TransactionPublisher>(
        &self,
        wrap: impl FnOnce(SqsPublisher) -> P,
    ) -> InProcessLedger<S3Source, P, S3Rejects, DynamoStatusStore, SqsContinuations> {
        let options = ledger::HandlerOptions {
            deadline_margin: Duration::from_secs(5),
            ..ledger::HandlerOptions::default()
        };
        self.ledger_function_tuned(options, LEDGER_TIMEOUT, wrap)
    }

    /// [`Harness::ledger_function_with`] with `options` and invocations of `timeout`.
    pub fn ledger_function_tuned<P: TransactionPublisher>(
        &self,
        options: ledger::HandlerOptions,
        timeout: Duration,
        wrap: impl FnOnce(SqsPublisher) -> P,
    ) -> InProcessLedger<S3Source, P, S3Rejects, DynamoStatusStore, SqsContinuations> {
        let p = &self.pipeline;
        let publisher = SqsPublisher::new(p.sqs.clone(), p.stack.transactions_queue_url.clone());
        let status = DynamoStatusStore::new(
            aws_sdk_dynamodb::Client::new(&p.sdk),
            p.stack.table_name.clone(),
        );
        InProcessLedger {
            handler: ledger::Handler::new(
                S3Source::new(p.s3.clone()),
                wrap(publisher),
                S3Rejects::new(p.s3.clone()),
                status,
                SqsContinuations::new(p.sqs.clone(), p.stack.ledger_queue_url.clone()),
                options,
            ),
            timeout,
        }
    }

    /// The orders table as the consumer uses it.
    pub fn order_store(&self) -> DynamoOrderStore {
        self.pipeline.orders.clone()
    }

    /// The consumer function's handler in-process over `store`, its resume messages sent
    /// to the transactions queue.
    pub fn consumer<S>(&self, store: S) -> InProcessConsumer<S> {
        let p = &self.pipeline;
        let queue = SqsDrainQueue::new(p.sqs.clone(), p.stack.transactions_queue_url.clone());
        InProcessConsumer::new(store, queue)
    }

    /// Both mappings with both functions in-process over the real adapters.
    pub async fn start_in_process(&self) -> Result<Running, HarnessError> {
        let consumer = self.consumer(self.order_store());
        self.start_with(self.ledger_function(), consumer).await
    }

    /// Both mappings with the given functions.
    pub async fn start_with<L, C>(&self, ledger: L, consumer: C) -> Result<Running, HarnessError>
    where
        L: LambdaFunction + 'static,
        C: LambdaFunction + 'static,
    {
        Ok(self
            .pipeline
            .start(ledger, consumer, CONSUMER_POLLERS)
            .await?)
    }

    /// Runs `body` with the mappings running, then stops them — also when `body` panics
    /// (a failed assertion), before the panic goes on.
    pub async fn with_running<T>(
        &self,
        running: Running,
        body: impl AsyncFnOnce(&Running) -> T,
    ) -> T {
        let outcome = AssertUnwindSafe(body(&running)).catch_unwind().await;
        running.stop().await;
        match outcome {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Uploads `body` as `ledgers/<run>/<name>`.
    pub async fn upload(&self, name: &str, body: Vec<u8>) -> Result<Upload, HarnessError> {
        let key = self.key(name);
        self.mention(crate::check::mentioned_ids(&key, &body));
        Ok(self.pipeline.upload(&key, body).await?)
    }

    /// Adds order ids to those [`Harness::views`] reads.
    pub fn mention(&self, ids: impl IntoIterator<Item = String>) {
        self.mentioned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(ids);
    }

    /// Waits (at most [`SETTLE_TIMEOUT`]) until every upload has a final status and the
    /// queues are drained; the statuses in upload order.
    pub async fn settle(
        &self,
        running: &Running,
        uploads: &[Upload],
    ) -> Result<Vec<LedgerStatus>, HarnessError> {
        self.settle_within(running, uploads, SETTLE_TIMEOUT).await
    }

    /// As [`Harness::settle`], waiting at most `timeout`.
    pub async fn settle_within(
        &self,
        running: &Running,
        uploads: &[Upload],
        timeout: Duration,
    ) -> Result<Vec<LedgerStatus>, HarnessError> {
        let run = &self.run;
        Ok(self
            .pipeline
            .wait_settled(running, uploads, timeout, |state| {
                eprintln!("[{run}] waiting: {state}")
            })
            .await?)
    }

    /// Every order of this run that the test's ledgers and copies mention, as users see it
    /// (contract section 4), by `order_id`; orders never reached are absent. Read one by one
    /// (strongly consistent), so the time does not grow with the table.
    pub async fn views(&self) -> Result<BTreeMap<String, Value>, HarnessError> {
        let prefix = self.prefix();
        let ids: Vec<OrderId> = self
            .mentioned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|id| id.starts_with(&prefix))
            .filter_map(|id| OrderId::parse(id).ok())
            .collect();
        let store = &self.pipeline.orders;
        let states: Vec<_> = futures::stream::iter(ids)
            .map(|id| async move { store.load_stored_order(&id).await })
            .buffered(16)
            .try_collect()
            .await
            .map_err(HarnessError::Store)?;
        states
            .into_iter()
            .flatten()
            .map(|stored| {
                let id = stored.state.order_id.to_string();
                serde_json::to_value(OrderView::from(&stored))
                    .map(|v| (id.clone(), v))
                    .map_err(|e| HarnessError::View(id, e))
            })
            .collect()
    }

    /// Every order of this run in the whole table (a scan: slower as the table grows), by
    /// `order_id` — to look for orders a test does not know of.
    pub async fn scan_views(&self) -> Result<BTreeMap<String, Value>, HarnessError> {
        let prefix = self.prefix();
        let orders = self
            .pipeline
            .orders
            .list_orders()
            .await
            .map_err(HarnessError::Store)?;
        let mut views = BTreeMap::new();
        for o in orders
            .iter()
            .filter(|o| o.order_id.as_str().starts_with(&prefix))
        {
            let id = o.order_id.to_string();
            let Some(stored) = self
                .pipeline
                .orders
                .load_stored_order(&o.order_id)
                .await
                .map_err(HarnessError::Store)?
            else {
                continue;
            };
            let v = serde_json::to_value(OrderView::from(&stored))
                .map_err(|e| HarnessError::View(id.clone(), e))?;
            views.insert(id, v);
        }
        Ok(views)
    }

    /// Whether the transactions dead-letter queue holds a message with this body; if so it
    /// is deleted, so later tests (and the demo) start clean. Other tests' dead letters may be
    /// there too: each is received once and visible again shortly.
    pub async fn take_dead_letter(&self, body: &str) -> Result<bool, HarnessError> {
        let sqs = &self.pipeline.sqs;
        let dlq = &self.pipeline.stack.transactions_dlq_url;
        let failed = |e: BoxError| HarnessError::Queue(dlq.clone(), e);
        for _ in 0..50 {
            let out = sqs
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .wait_time_seconds(1)
                .send()
                .await
                .map_err(|e| failed(Box::new(e)))?;
            let messages = out.messages();
            if messages.is_empty() {
                return Ok(false);
            }
            if let Some(m) = messages.iter().find(|m| m.body() == Some(body)) {
                sqs.delete_message()
                    .queue_url(dlq)
                    .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                    .send()
                    .await
                    .map_err(|e| failed(Box::new(e)))?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The transactions queue's visibility timeout and its redrive policy's maxReceiveCount.
    pub async fn transactions_queue_settings(&self) -> Result<(Duration, u64), HarnessError> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let queue = &self.pipeline.stack.transactions_queue_url;
        let out = self
            .pipeline
            .sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(A::VisibilityTimeout)
            .attribute_names(A::RedrivePolicy)
            .send()
            .await
            .map_err(|e| HarnessError::Queue(queue.clone(), Box::new(e)))?;
        let attrs = out.attributes();
        let get = |a: A| attrs.and_then(|m| m.get(&a)).cloned().unwrap_or_default();
        let visibility = get(A::VisibilityTimeout).parse().unwrap_or(0);
        let redrive: Value = serde_json::from_str(&get(A::RedrivePolicy)).unwrap_or_default();
        let max = &redrive["maxReceiveCount"];
        let max = max.as_u64().or_else(|| max.as_str()?.parse().ok());
        match (visibility, max) {
            (v, Some(max)) if v > 0 => Ok((Duration::from_secs(v), max)),
            _ => Err(HarnessError::Queue(
                queue.clone(),
                format!("no VisibilityTimeout or maxReceiveCount in {attrs:?}").into(),
            )),
        }
    }

    /// Sends one transaction (wire JSON) straight to the transactions queue with its own
    /// deduplication id: a copy that SQS deduplication does not absorb, as after the
    /// 5-minute window or a redrive.
    pub async fn send_copy(&self, order_id: &str, body: &str) -> Result<(), HarnessError> {
        self.mention([order_id.to_owned()]);
        let n = COPIES.fetch_add(1, Ordering::SeqCst);
        self.pipeline
            .sqs
            .send_message()
            .queue_url(&self.pipeline.stack.transactions_queue_url)
            .message_group_id(order_id)
            .message_deduplication_id(format!("{}-copy-{n}", self.run))
            .message_body(body)
            .send()
            .await
            .map_err(|e| HarnessError::Send(Box::new(e)))?;
        Ok(())
    }
}

/// Fails with a message naming the way to start the emulator unless the stack's queues and
/// bucket answer.
async fn probe(pipeline: &Pipeline) -> Result<(), HarnessError> {
    let stack = &pipeline.stack;
    let missing = |what: &'static str| {
        let endpoint = stack.emulator().endpoint_url;
        move |source: BoxError| HarnessError::NoEmulator {
            endpoint,
            what,
            source,
        }
    };
    pipeline
        .depth(&stack.ledger_queue_url)
        .await
        .map_err(|e| missing("the ledger queue")(Box::new(e)))?;
    pipeline
        .depth(&stack.transactions_queue_url)
        .await
        .map_err(|e| missing("the transactions queue")(Box::new(e)))?;
    pipeline
        .s3
        .head_bucket()
        .bucket(&stack.bucket)
        .send()
        .await
        .map_err(|e| missing("the bucket")(Box::new(e)))?;
    Ok(())
}

/// With `CONVOY_TEST_LOG=<file>`, the functions' logs (JSON lines, filtered by
/// `CONVOY_LOG`, `info` by default, and each span's time when it closes) go to that file,
/// for every test of the binary.
fn log_to_file() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(path) = std::env::var_os("CONVOY_TEST_LOG") else {
            return;
        };
        let file = match std::fs::File::create(&path) {
            Ok(file) => file,
            Err(e) => panic!("CONVOY_TEST_LOG={}: {e}", path.to_string_lossy()),
        };
        let filter = tracing_subscriber::EnvFilter::try_from_env("CONVOY_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            // Each span's close, with its busy and idle time.
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    });
}

fn new_run_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("r{millis}-{}", RUNS.fetch_add(1, Ordering::SeqCst))
}
