// What the example servers share: command-line options, the line that says where to connect,
// and a graceful shutdown on SIGINT/SIGTERM. An application installs its own signal handling;
// the library installs none, so the examples do it here.
import Dispatch
import WebSocketCore
import WebSocketServer
import WebSocketTLS
#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to standard output at once, so that a pipe or a log file sees it as it
/// happens. It goes straight to the descriptor: stdio's `fflush(NULL)` would wait for the lock
/// of every stream, standard input's too, which a thread blocked reading it holds.
public func say(_ line: String) {
    write(line, to: 1)
}

/// Writes a line to standard error at once.
public func complain(_ line: String) {
    write(line, to: 2)
}

private func write(_ line: String, to fd: Int32) {
    let bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return }
        offset += n
    }
}

/// Reads `--host`, `--port`, `--tls-cert FILE --tls-key FILE` (which turn TLS on) and the
/// example's own options from the command line.
///
/// - Parameters:
///   - usage: the usage line printed for `--help` and on an unknown option.
///   - configuration: updated with `--host`, `--port` and the TLS files.
///   - options: the example's own options that take a value.
///   - flags: the example's own options that take none.
/// - Returns: the values given for `options`, and `""` for each flag given.
public func parseArguments(usage: String, configuration: inout WebSocketServer.Configuration,
                           options: Set<String> = [], flags: Set<String> = []) -> [String: String] {
    var given: [String: String] = [:]
    var tlsFiles: (certificate: String?, key: String?)
    var arguments = CommandLine.arguments.dropFirst()
    while let argument = arguments.popFirst() {
        switch argument {
        case "--host": configuration.host = arguments.popFirst() ?? configuration.host
        case "--port": configuration.port = Int(arguments.popFirst() ?? "") ?? configuration.port
        case "--tls-cert": tlsFiles.certificate = arguments.popFirst()
        case "--tls-key": tlsFiles.key = arguments.popFirst()
        case "--help", "-h":
            say("usage: \(usage)")
            exit(0)
        default:
            if flags.contains(argument) {
                given[argument] = ""
            } else if options.contains(argument), let value = arguments.popFirst() {
                given[argument] = value
            } else {
                say("unknown or incomplete argument: \(argument)\nusage: \(usage)")
                exit(2)
            }
        }
    }
    switch tlsFiles {
    case (nil, nil):
        break
    case (let certificate?, let key?):
        configuration.transportSecurity = .tls(TLSServerConfiguration(certificateChainFile: certificate, privateKeyFile: key))
    default:
        say("--tls-cert and --tls-key go together\nusage: \(usage)")
        exit(2)
    }
    return given
}

/// `https` or `http`, as the configuration serves TLS or not.
public func httpScheme(_ configuration: WebSocketServer.Configuration) -> String {
    configuration.transportSecurity == nil ? "http" : "https"
}

/// `wss` or `ws`, as the configuration serves TLS or not.
public func webSocketScheme(_ configuration: WebSocketServer.Configuration) -> String {
    configuration.transportSecurity == nil ? "ws" : "wss"
}

/// Starts `server`, prints `announce(address)`, and serves until SIGINT or SIGTERM, which shut
/// the server down gracefully (1001 to every client) before the process exits.
public func serve(_ server: WebSocketServer, name: String, announce: (SocketAddress) -> String) -> Never {
    do {
        let address = try server.start()
        say(announce(address))
    } catch {
        say("\(name): \(error)")
        exit(1)
    }
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    var sources: [any DispatchSourceSignal] = []
    for signalNumber in [SIGINT, SIGTERM] {
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
        source.setEventHandler {
            Task {
                await server.shutdown(timeout: .seconds(2))
                exit(0)
            }
        }
        source.resume()
        sources.append(source)
    }
    withExtendedLifetime(sources) { dispatchMain() }
}

/// The host to show in a URL: `localhost` for the loopback address.
public func displayHost(_ address: SocketAddress) -> String {
    address.host == "127.0.0.1" ? "localhost" : (address.isIPv6 ? "[\(address.host)]" : address.host)
}

/// A 200 response carrying an HTML page, never cached (the examples' pages change with the code).
public func htmlPage(_ html: String) -> HTTPResponse {
    HTTPResponse(status: 200, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"], body: Array(html.utf8))
}
