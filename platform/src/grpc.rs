//! gRPC plumbing every service shares: server reflection.

use tonic::service::Routes;

#[derive(Debug, thiserror::Error)]
#[error("cannot build gRPC reflection: {0}")]
pub struct ReflectionError(String);

/// Adds server reflection for `descriptor_sets` (plus gRPC health) to
/// `routes`, in both protocol versions: v1 for current tools, v1alpha for
/// grpcurl's fallback and the Python/Java reflection clients that still ask
/// for it.
pub fn with_reflection(routes: Routes, descriptor_sets: &[&'static [u8]]) -> Result<Routes, ReflectionError> {
    let configure = || {
        descriptor_sets.iter().fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
            |b, set| b.register_encoded_file_descriptor_set(set),
        )
    };
    let v1 = configure().build_v1().map_err(|e| ReflectionError(e.to_string()))?;
    let v1alpha = configure().build_v1alpha().map_err(|e| ReflectionError(e.to_string()))?;
    Ok(routes.add_service(v1).add_service(v1alpha))
}
