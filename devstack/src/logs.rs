//! Reading the end of log files for error messages.

use std::path::Path;

/// The last `n` lines of the file at `path` (empty when it cannot be read).
///
/// Logs of a failed start are small, so reading the whole file is fine and keeps this simple.
pub fn tail_lines(path: &Path, n: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
