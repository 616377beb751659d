/// The tasks a server runs for the application's code (upgrade hooks and async route handlers),
/// so that a shutdown can wait for them, and cancel them at its deadline.
final class UserTasks: Sendable {
    private struct State {
        var running: [Int: Task<Void, Never>] = [:]
        var nextID = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// Set by stopWaiting(): nobody waits any more.
        var stopped = false
    }
    private let state = Locked(State())

    /// Runs `body` as a task of its own, tracked until it returns.
    func run(_ body: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            // Stored under the lock, which ended() takes too: a task that finishes at once
            // still finds itself in `running`.
            state.running[id] = Task {
                await body()
                self.ended(id)
            }
        }
    }

    private func ended(_ id: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.running[id] = nil
            guard state.running.isEmpty else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no task is running, or once ``stopWaiting()`` is called.
    func waitUntilDone() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.running.isEmpty || state.stopped { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Cancels every running task and releases the waiters (a shutdown's deadline).
    func stopWaiting() {
        let (tasks, waiters) = state.withLock { state in
            state.stopped = true
            defer { state.waiters = [] }
            return (Array(state.running.values), state.waiters)
        }
        for task in tasks { task.cancel() }
        for waiter in waiters { waiter.resume() }
    }
}
