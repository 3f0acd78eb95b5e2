//! The relay's life: wait for leadership, publish from the checkpoint until shutdown or
//! failure, back off, repeat.

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tally_event_store::{
    reader,
    tail::{Listener, Tailer},
};
use tally_platform::causes::Causes;
use tally_streaming::TOPICS;
use tally_streaming::admin::{ensure_topics, partition_count};
use tally_streaming::config::producer_config;
use tally_streaming::rdkafka::producer::{FutureProducer, Producer};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::leader::Leadership;
use crate::publish::publish_page;
use crate::watermark::Watermarks;
use crate::{RelayConfig, RelayError, checkpoint, metrics};

/// One relay; run one per command-service pod, the election keeps exactly one active.
pub struct Relay {
    pool: Pool,
    pg: tokio_postgres::Config,
    listener: Listener,
    config: RelayConfig,
}

impl Relay {
    /// `pool` and `pg` reach the write DB: the pool for reading events, `pg` for the
    /// dedicated leadership session. `listener` wakes the relay on new commits.
    pub fn new(
        pool: Pool,
        pg: tokio_postgres::Config,
        listener: Listener,
        config: RelayConfig,
    ) -> Result<Self, RelayError> {
        config.validate()?;
        Ok(Self { pool, pg, listener, config })
    }

    /// Runs the relay as its own task until `shutdown`; leadership is released on the way
    /// out.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    /// Never returns an error: every failure is logged, backed off and resumed from the
    /// checkpoint. Returns when `shutdown` fires.
    #[tracing::instrument(name = "relay", skip_all, fields(relay = %self.config.name))]
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = self.config.backoff_min;
        while !shutdown.is_cancelled() {
            match self.term(&shutdown, &mut backoff).await {
                Ok(()) => break,
                Err(e) => {
                    metrics::error(e.kind());
                    tracing::warn!(
                        error = %Causes(&e),
                        kind = e.kind(),
                        retry_in_ms = backoff.as_millis() as u64,
                        "relay interrupted; resuming from the checkpoint"
                    );
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.config.backoff_max);
                }
            }
        }
        tracing::info!("relay stopped");
    }

    /// One term: leadership, then publishing until shutdown (Ok) or a failure (Err).
    async fn term(&self, shutdown: &CancellationToken, backoff: &mut Duration) -> Result<(), RelayError> {
        let Some(mut leadership) = Leadership::acquire(&self.pg, &self.config.name, shutdown).await? else {
            return Ok(());
        };
        metrics::leader(true);
        let result = self.lead(&mut leadership, shutdown, backoff).await;
        metrics::leader(false);
        // On failure the session is closed by dropping it, which releases the lock too.
        if result.is_ok() {
            leadership.release().await;
        }
        result
    }

    async fn lead(
        &self,
        leadership: &mut Leadership,
        shutdown: &CancellationToken,
        backoff: &mut Duration,
    ) -> Result<(), RelayError> {
        let name = self.config.name.as_str();
        let mut published = checkpoint::load_or_init(leadership.client(), name).await?;
        // A fresh producer per term: a failed delivery may leave the old one with a gap in
        // its idempotent sequence.
        let producer: FutureProducer = producer_config(&self.config.brokers, &self.config.producer).create()?;
        let partitions = self.prepare_topics(&producer).await?;
        let mut watermarks = Watermarks::new(&partitions, self.config.watermark_interval);
        let mut tailer = Tailer::new(
            self.pool.clone(),
            self.listener.clone(),
            published,
            reader::Filter::default(),
            self.config.page_size,
        );
        tracing::info!(checkpoint = published, partitions = watermarks.targets().len(), "relay leading");
        self.report_lag(published).await;

        // Set once shutdown is requested: what is committed by then is still published,
        // for at most `shutdown_grace`, so a stopping pod leaves little to its successor.
        let mut stop_by: Option<Instant> = None;
        loop {
            if stop_by.is_none() && shutdown.is_cancelled() {
                stop_by = Some(Instant::now() + self.config.shutdown_grace);
            }
            let mut events = tokio::select! {
                biased;
                lost = leadership.lost() => return Err(lost),
                page = tailer.poll() => page?,
            };
            if events.is_empty() {
                // Caught up: the head is what we published (positions are dense).
                metrics::checkpoint(published, published);
                if watermarks.due_when_idle(published) {
                    watermarks.send(&producer, published).await?;
                }
                if stop_by.is_some() {
                    return Ok(());
                }
                events = tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => continue,
                    lost = leadership.lost() => return Err(lost),
                    page = tailer.next() => page?,
                };
            }
            let Some(last) = events.last().map(|e| e.global_position) else { continue };
            let started = Instant::now();
            let page = publish_page(&producer, events);
            tokio::pin!(page);
            let done = tokio::select! {
                done = &mut page => Some(done),
                lost = leadership.lost() => return Err(lost),
                _ = stop_deadline(shutdown, stop_by, self.config.shutdown_grace) => None,
            };
            let Some(done) = done else {
                tracing::warn!(
                    checkpoint = published,
                    "page not acknowledged before shutdown; the next leader re-publishes it"
                );
                return Ok(());
            };
            done?;
            checkpoint::advance(leadership.client(), name, last).await?;
            published = last;
            *backoff = self.config.backoff_min;
            metrics::batch(started.elapsed());
            self.report_lag(published).await;
            if watermarks.due_while_busy(published, Instant::now()) {
                watermarks.send(&producer, published).await?;
            }
        }
    }

    /// Creates missing topics and returns each with its partition count (for watermarks).
    async fn prepare_topics(&self, producer: &FutureProducer) -> Result<Vec<(&'static str, i32)>, RelayError> {
        let wanted: Vec<(&str, i32)> = TOPICS.iter().map(|t| (*t, self.config.topic_partitions)).collect();
        if let Err(e) = ensure_topics(&self.config.brokers, &wanted, self.config.admin_timeout).await {
            // Clusters that manage topics themselves may forbid creating them; existing
            // topics are all we need, and the metadata read below tells.
            tracing::warn!(error = %Causes(&e), "cannot create the topics; relying on existing ones");
        }
        let mut partitions = Vec::with_capacity(TOPICS.len());
        for topic in TOPICS {
            let producer = producer.clone();
            let timeout = self.config.admin_timeout;
            // Metadata requests block their thread.
            let count = tokio::task::spawn_blocking(move || partition_count(producer.client(), topic, timeout))
                .await
                .map_err(|e| RelayError::Task(format!("reading metadata of {topic}: {e}")))??;
            partitions.push((topic, count));
        }
        Ok(partitions)
    }

    /// Lag = head − checkpoint. A failed read only costs the gauge an update.
    async fn report_lag(&self, published: u64) {
        let head = match self.pool.get().await {
            Ok(client) => reader::head_position(&client).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match head {
            Ok(head) => metrics::checkpoint(published, head),
            Err(error) => tracing::debug!(error, "cannot read the head position for the lag gauge"),
        }
    }
}

/// Resolves when a stopping relay must give up on the page in flight.
async fn stop_deadline(shutdown: &CancellationToken, stop_by: Option<Instant>, grace: Duration) {
    let deadline = match stop_by {
        Some(deadline) => deadline,
        None => {
            shutdown.cancelled().await;
            Instant::now() + grace
        }
    };
    tokio::time::sleep_until(deadline.into()).await;
}
