extension ServerMetrics {
    /// The counters in Prometheus's text exposition format (version 0.0.4), for a scrape route:
    ///
    /// ```swift
    /// server.http("/metrics") { _ in
    ///     HTTPResponse(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4"],
    ///                  body: Array(server.metrics.prometheusText().utf8))
    /// }
    /// ```
    ///
    /// - Parameter prefix: the start of every metric name.
    public func prometheusText(prefix: String = "websocket") -> String {
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Int)]) {
            text += "# HELP \(prefix)_\(name) \(help)\n# TYPE \(prefix)_\(name) \(type)\n"
            for sample in samples { text += "\(prefix)_\(name)\(sample.labels) \(sample.value)\n" }
        }
        func labelled(_ label: String, _ counts: [Int: Int]) -> [(labels: String, value: Int)] {
            counts.sorted { $0.key < $1.key }.map { ("{\(label)=\"\($0.key)\"}", $0.value) }
        }
        metric("open_connections", "gauge", "Sockets open now, in any phase.", [("", openConnections)])
        metric("open_websockets", "gauge", "WebSocket connections open now.", [("", openWebSockets)])
        metric("handshakes_accepted_total", "counter", "Upgrades answered with 101.", [("", handshakesAccepted)])
        metric("handshakes_rejected_total", "counter", "Requests refused, by HTTP status (408: handshake timeouts).",
               labelled("status", handshakesRejected))
        metric("tls_handshakes_failed_total", "counter", "Connections dropped in their TLS handshake.", [("", tlsHandshakesFailed)])
        metric("http_responses_total", "counter", "Plain HTTP responses served by routes.", [("", httpResponses)])
        metric("messages_total", "counter", "WebSocket messages, by direction.", [("{direction=\"in\"}", messagesIn), ("{direction=\"out\"}", messagesOut)])
        metric("bytes_total", "counter", "Bytes read from and written to sockets, by direction.", [("{direction=\"in\"}", bytesIn), ("{direction=\"out\"}", bytesOut)])
        metric("compression_input_bytes_total", "counter",
               "Bytes given to permessage-deflate: messages sent, before deflating (out); compressed messages received, as they arrived (in).",
               [("{direction=\"in\"}", bytesBeforeInflate), ("{direction=\"out\"}", bytesBeforeDeflate)])
        metric("compression_output_bytes_total", "counter",
               "What permessage-deflate made of them: the wire bytes (out); the inflated bytes (in).",
               [("{direction=\"in\"}", bytesAfterInflate), ("{direction=\"out\"}", bytesAfterDeflate)])
        metric("closes_total", "counter", "WebSocket closes, by the code reported to the application.", labelled("code", closes))
        metric("backpressure_pauses_total", "counter", "Times a connection stopped reading because its queue passed the high-water mark.",
               [("", backpressurePauses)])
        return text
    }
}
