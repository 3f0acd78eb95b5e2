//! Partition assignment with offsets from the read DB.
//!
//! Offsets live in `projector_offsets`, committed with the rows they
//! produced, never in Kafka. So whenever the group hands this consumer
//! partitions, the rebalance callback reads their stored `next_offset` and
//! assigns them *at* those offsets (the rdkafka equivalent of Kafka's
//! `ConsumerRebalanceListener.onPartitionsAssigned` + `seek`). Partitions
//! without a stored offset start at the beginning.
//!
//! The callback runs synchronously inside the consumer's poll, on a Tokio
//! worker thread; it reads the offsets with `block_in_place`, which needs the
//! multi-threaded runtime the binary uses.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use tally_platform::causes::Causes;
use tally_streaming::rdkafka::{
    ClientContext, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol},
    types::RDKafkaRespErr,
};

use crate::{
    ProjectorError,
    offsets::{self, Partition, Progress},
};

pub struct ProjectorContext {
    pub pool: Pool,
    pub consumer: String,
    pub runtime: tokio::runtime::Handle,
}

impl ClientContext for ProjectorContext {}

impl ProjectorContext {
    fn stored_offsets(&self) -> Result<HashMap<Partition, Progress>, ProjectorError> {
        tokio::task::block_in_place(|| {
            self.runtime.block_on(async {
                let client = self.pool.get().await?;
                Ok(offsets::load(&client, &self.consumer).await?)
            })
        })
    }
}

/// Sets every partition of `tpl` to its stored resume point.
pub fn position_at_stored_offsets(tpl: &mut TopicPartitionList, stored: &HashMap<Partition, Progress>) {
    let keys: Vec<Partition> = tpl.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect();
    for key in keys {
        let offset = match stored.get(&key) {
            Some(p) if p.next_offset > 0 => Offset::Offset(p.next_offset),
            _ => Offset::Beginning,
        };
        // The element exists (we are iterating it), so this cannot fail.
        let _ = tpl.set_partition_offset(&key.0, key.1, offset);
    }
}

impl ConsumerContext for ProjectorContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => match self.stored_offsets() {
                Ok(stored) => {
                    position_at_stored_offsets(tpl, &stored);
                    tracing::info!(partitions = tpl.count(), "partitions assigned; resuming at stored offsets");
                    if cooperative { consumer.incremental_assign(tpl) } else { consumer.assign(tpl) }
                }
                Err(e) => {
                    // Taking partitions we cannot position would replay them
                    // from the start; decline them and let the group retry.
                    tracing::error!(error = %Causes(&e), "cannot read stored offsets; declining the assignment");
                    if cooperative { Ok(()) } else { consumer.unassign() }
                }
            },
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = tpl.count(), "partitions revoked");
                if cooperative { consumer.incremental_unassign(tpl) } else { consumer.unassign() }
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed");
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %Causes(&e), "applying the rebalance failed");
        }
    }
}
