//! Generates the Rust code for the `tally.v1` protobuf package.
//!
//! The `.proto` files are compiled by `protox` (pure Rust, no system `protoc`)
//! into a `FileDescriptorSet`, which is written to `OUT_DIR` for gRPC server
//! reflection and then handed to `tonic-prost-build` for code generation.

use std::{env, fs, io, path::PathBuf};

use prost::Message as _;

const PROTO_ROOT: &str = "proto";

const PROTOS: &[&str] = &[
    "proto/tally/v1/common.proto",
    "proto/tally/v1/events.proto",
    "proto/tally/v1/profile.proto",
    "proto/tally/v1/site.proto",
    "proto/tally/v1/analytics.proto",
    "proto/tally/v1/command_service.proto",
    "proto/tally/v1/query_service.proto",
    "proto/tally/v1/event_store.proto",
];

fn main() -> io::Result<()> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }

    let fds = protox::compile(PROTOS, [PROTO_ROOT])
        .map_err(|e| io::Error::other(format!("compiling the .proto files: {e}")))?;

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("tally_descriptor.bin"), fds.encode_to_vec())?;

    // Type names give every message `prost::Name`, so `full_name()` yields
    // the `tally.v1.ProfileCreated` form used as the stored event type.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .emit_rerun_if_changed(false)
        .compile_fds_with_config(fds, config)
}
