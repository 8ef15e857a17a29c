//! The process's open-file limit: raised to the hard limit at start where the OS allows (a
//! server's every connection is a file descriptor, and the usual soft limit of 1,024 is
//! reached by a thousand idle sockets), and the connection cap derived from what it got.

/// Descriptors kept back from connections for the store, its write-ahead log, webhook
/// clients and the log.
const RESERVED: u64 = 256;

/// Raises the soft open-file limit to the hard limit (capped at 1,048,576) and returns the
/// soft limit now in force; `None` where the OS has no such limit or will not say.
pub fn raise() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer,
        // which lives on this stack frame for the duration of each call.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return None;
            }
            let want = lim.rlim_max.min(1 << 20);
            if lim.rlim_cur < want {
                let raised = libc::rlimit { rlim_cur: want, rlim_max: lim.rlim_max };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim.rlim_cur = want;
                }
            }
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every Unix
        Some(lim.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The connection cap: `configured` when set (never more than the file limit allows),
/// otherwise the file limit less a reserve, at most 16,384.
pub fn connection_cap(configured: Option<usize>, file_limit: Option<u64>) -> usize {
    let room = file_limit.map_or(4_096, |l| l.saturating_sub(RESERVED).max(16)) as usize;
    match configured {
        Some(n) => n.clamp(1, room),
        None => room.min(16_384),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_never_lowers_the_limit_and_the_cap_leaves_room() {
        let first = raise();
        let second = raise();
        assert_eq!(first, second, "raising twice changes nothing the second time");
        if let Some(l) = first {
            assert!(connection_cap(None, first) as u64 <= l.saturating_sub(RESERVED).max(16));
        }
        assert_eq!(connection_cap(None, Some(1_024)), 768);
        assert_eq!(connection_cap(Some(10_000), Some(1_024)), 768);
        assert_eq!(connection_cap(Some(64), Some(1_024)), 64);
        assert_eq!(connection_cap(None, Some(1 << 20)), 16_384);
        assert_eq!(connection_cap(None, None), 4_096);
    }
}
