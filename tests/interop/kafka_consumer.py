"""An outside consumer: Python confluent-kafka plus code generated from proto/.

Run by tests/tests/kafka_interop.rs:
    python kafka_consumer.py GENERATED_DIR BOOTSTRAP TOPIC EXPECTED_EVENTS
Reads TOPIC from offset 0 on every partition until it has seen EXPECTED_EVENTS events
(watermarks are counted separately), decodes every envelope and its payload, and prints one
JSON object per event (partition, key, position, type, stream, decoded payload fields).
"""
import json
import sys
import time

sys.path.insert(0, sys.argv[1])
bootstrap, topic, expected = sys.argv[2], sys.argv[3], int(sys.argv[4])

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from google.protobuf.json_format import MessageToDict  # noqa: E402
from tally.v1 import analytics_pb2, events_pb2, profile_pb2, site_pb2  # noqa: E402

PAYLOADS = {
    "tally.v1.ProfileCreated": profile_pb2.ProfileCreated,
    "tally.v1.ProfileUpdated": profile_pb2.ProfileUpdated,
    "tally.v1.ProfileDeleted": profile_pb2.ProfileDeleted,
    "tally.v1.SiteRegistered": site_pb2.SiteRegistered,
    "tally.v1.SiteUpdated": site_pb2.SiteUpdated,
    "tally.v1.SiteDeleted": site_pb2.SiteDeleted,
    "tally.v1.AnalyticsEventRecorded": analytics_pb2.AnalyticsEventRecorded,
}

consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "interop", "enable.auto.commit": False})
partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
consumer.assign([TopicPartition(topic, p, 0) for p in partitions])

events, watermarks, deadline = [], 0, time.time() + 30
while len(events) < expected and time.time() < deadline:
    msg = consumer.poll(0.5)
    if msg is None or msg.error():
        continue
    envelope = events_pb2.EventEnvelope()
    envelope.ParseFromString(msg.value())  # raises on anything undecodable: the test fails
    if envelope.event_type == "tally.v1.Watermark":
        watermarks += 1
        continue
    payload = PAYLOADS[envelope.event_type]()
    payload.ParseFromString(envelope.payload)
    headers = {k: v.decode() for k, v in (msg.headers() or [])}
    events.append({
        "partition": msg.partition(),
        "key": msg.key().decode(),
        "position": envelope.global_position,
        "header_position": int(headers["tally-global-position"]),
        "type": envelope.event_type,
        "stream_id": envelope.stream_id,
        "stream_version": envelope.stream_version,
        "payload": MessageToDict(payload, preserving_proto_field_name=True),
    })
consumer.close()
print(json.dumps({"events": events, "watermarks": watermarks}))
