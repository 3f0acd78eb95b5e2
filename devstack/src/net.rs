//! Loopback port allocation.

use std::net::{Ipv4Addr, TcpListener};

use crate::error::{IoContext, Result};

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is released before returning, so another process can grab it in between;
/// callers that bind it later (Postgres, services) retry with a new port on "address in use".
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ctx(|| "bind 127.0.0.1:0".to_owned())?;
    Ok(listener.local_addr().ctx(|| "local_addr of a fresh listener".to_owned())?.port())
}
