#if canImport(Glibc)
import Glibc
#endif

/// Facts about the machine the server runs on.
enum System {
    /// The processors online, for the default number of loops.
    static var coreCount: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 2
        #endif
    }
}

extension Duration {
    /// The duration in whole nanoseconds, negative durations as 0 (for deadlines on the
    /// monotonic clock).
    package var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
