import Dispatch
import Synchronization
import WebSocketCore
import CWebSocketShims
#if canImport(Glibc)
import Glibc
#endif

/// Carries a Dispatch object into a `@Sendable` closure.
///
/// `@unchecked Sendable`: Dispatch objects (sources, queues) are thread-safe by design; the
/// Swift overlay just does not mark the source protocols `Sendable`.
struct DispatchBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
