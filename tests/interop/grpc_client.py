"""A gRPC client generated from proto/ by Python's standard tooling (grpcio-tools).

Run by tests/tests/grpc_interop.rs against the real command-service binary:
    python grpc_client.py GENERATED_DIR HOST:PORT
Prints one JSON object with what it observed; the Rust test asserts on it.
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
target = sys.argv[2]

import grpc  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc  # noqa: E402
from tally.v1 import command_service_pb2, command_service_pb2_grpc, profile_pb2  # noqa: E402

channel = grpc.insecure_channel(target)
out = {}

# Reflection: what a tool like grpcurl sees.
stub = reflection_pb2_grpc.ServerReflectionStub(channel)
request = reflection_pb2.ServerReflectionRequest(list_services="")
responses = stub.ServerReflectionInfo(iter([request]), timeout=10)
out["services"] = sorted(s.name for r in responses for s in r.list_services_response.service)

commands = command_service_pb2_grpc.CommandServiceStub(channel)
created = commands.CreateProfile(
    command_service_pb2.CreateProfileRequest(
        profile=profile_pb2.Profile(handle="pythonista", display_name="Guido", email="g@example.com"),
        command_id="py-1",
    ),
    timeout=10,
)
out["created"] = {
    "id": created.profile.id,
    "version": created.result.stream_version,
    "position": created.result.global_position,
}

updated = commands.UpdateProfile(
    command_service_pb2.UpdateProfileRequest(
        profile=profile_pb2.Profile(id=created.profile.id, bio="Benevolent"),
        update_mask=field_mask_pb2.FieldMask(paths=["bio"]),
        expected_version=1,
    ),
    timeout=10,
)
out["updated"] = {"bio": updated.profile.bio, "handle": updated.profile.handle, "version": updated.result.stream_version}

try:
    commands.CreateProfile(
        command_service_pb2.CreateProfileRequest(
            profile=profile_pb2.Profile(handle="x", display_name="", email="nope"),
        ),
        timeout=10,
    )
    out["invalid"] = "accepted"
except grpc.RpcError as e:
    out["invalid"] = {"code": e.code().name, "details": e.details()}

print(json.dumps(out))
