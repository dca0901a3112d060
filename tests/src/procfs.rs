//! Facts about a process read from Linux /proc: listening sockets and memory.

use std::collections::HashSet;
use std::fs;

use anyhow::{Context, Result};

/// TCP state code of a listening socket in /proc/net/tcp.
const TCP_LISTEN: &str = "0A";

/// True when process `pid` owns a TCP socket listening on `port` (IPv4 or IPv6).
pub fn listens_on(pid: u32, port: u16) -> Result<bool> {
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        inodes.extend(listening_inodes(&text, port));
    }
    if inodes.is_empty() {
        return Ok(false);
    }
    Ok(socket_inodes(pid)?.iter().any(|i| inodes.contains(i)))
}

/// Inodes of the sockets in a /proc/net/tcp{,6} table that listen on `port`.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let state = fields.get(3)?;
            let inode = fields.get(9)?;
            let (_, port_hex) = local.rsplit_once(':')?;
            let local_port = u16::from_str_radix(port_hex, 16).ok()?;
            (local_port == port && *state == TCP_LISTEN)
                .then(|| inode.parse().ok())
                .flatten()
        })
        .collect()
}

/// Inodes of the sockets among the open descriptors of `pid`.
pub fn socket_inodes(pid: u32) -> Result<Vec<u64>> {
    let dir = format!("/proc/{pid}/fd");
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let Ok(entry) = entry else { continue };
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|n| n.parse().ok())
        {
            out.push(inode);
        }
    }
    Ok(out)
}

/// Number of open file descriptors of `pid`.
pub fn fd_count(pid: u32) -> Result<usize> {
    let dir = format!("/proc/{pid}/fd");
    Ok(fs::read_dir(&dir)
        .with_context(|| format!("reading {dir}"))?
        .count())
}

/// Resident set size of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no VmRSS line in {path}"))
}

#[cfg(test)]
mod tests {
    use super::listening_inodes;

    #[test]
    fn parses_listening_sockets_of_a_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:170D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:170D 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0\n\
   2: 0100007F:170E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 0x170D), vec![4242]);
        assert_eq!(listening_inodes(table, 0x170E), vec![4444]);
        assert!(listening_inodes(table, 5900).is_empty());
    }
}
