//! Free disk space, checked before a large seed rather than discovered by a full disk.

use std::path::Path;

use anyhow::Context;

/// Bytes one seeded profile event costs on disk, all told: the event row and its indexes and
/// its share of the read model (one profile row per ten events) came to ~850 B in the first
/// runs (`pg_database_size` of both databases at 1 M events, printed by the report); the rest
/// covers WAL and the second read-model version a rebuild writes next to the current one
/// (profile rows are ~10 % of the total, so 150 B is room for both).
pub const BYTES_PER_EVENT: u64 = 1000;
/// Room left for everything else on the disk (builds, logs, other workloads).
pub const HEADROOM: u64 = 2 << 30;

/// Available bytes on the file system holding `path`, from `df` (POSIX `-P` output is stable
/// across implementations; `statvfs` would need `unsafe` or a new dependency for one number).
pub fn available(path: &Path) -> anyhow::Result<u64> {
    let out = std::process::Command::new("df").arg("-Pk").arg(path).output().context("running df")?;
    anyhow::ensure!(out.status.success(), "df -Pk {} failed: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    parse_df(&String::from_utf8_lossy(&out.stdout)).context("unexpected df output")
}

/// The fourth column (available 1K-blocks) of the line after the header.
fn parse_df(text: &str) -> Option<u64> {
    let kib: u64 = text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses, with the figures, when `events` would not fit next to the headroom.
pub fn ensure_room(path: &Path, events: u64) -> anyhow::Result<u64> {
    let need = events.saturating_mul(BYTES_PER_EVENT).saturating_add(HEADROOM);
    let free = available(path)?;
    let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
    anyhow::ensure!(
        free >= need,
        "not enough disk for {events} events under {}: about {:.1} GiB needed ({BYTES_PER_EVENT} B per event + \
         {:.0} GiB headroom), {:.1} GiB free; pass smaller --sizes or free some space",
        path.display(),
        gib(need),
        gib(HEADROOM),
        gib(free)
    );
    Ok(need)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_available_kib_from_posix_df() {
        let out = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                   /dev/vda         263174148 34000000 61000000      37% /\n";
        assert_eq!(parse_df(out), Some(61_000_000 * 1024));
        assert_eq!(parse_df("garbage"), None);
    }

    #[test]
    fn refuses_a_size_that_cannot_fit() {
        let err = ensure_room(Path::new("/"), u64::MAX / BYTES_PER_EVENT / 2).unwrap_err().to_string();
        assert!(err.contains("not enough disk"), "{err}");
        assert!(ensure_room(Path::new("/"), 1).is_ok());
    }
}
