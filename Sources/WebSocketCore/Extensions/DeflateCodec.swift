import CZlib

/// Compresses and decompresses messages for one connection (RFC 7692 §7.2), or frames for
/// the legacy deflate-frame.
///
/// A direction with context takeover keeps its own zlib stream, made on first use. A direction
/// without it borrows a stream from a pool the process shares for each message and
/// gives it back at the message's end, so it holds none between messages.
public final class DeflateCodec: ExtensionCodec {
    /// `permessage-deflate` or `deflate-frame`.
    public let name: String
    /// RSV1 marks a compressed message (or frame).
    public let reservedBits: ReservedBits = .rsv1
    /// What was agreed.
    public let agreement: PerMessageDeflate.Agreement
    private let configuration: PerMessageDeflate.Configuration
    private let role: WebSocketEngine.Role
    /// This connection's own streams, for directions with context takeover.
    private var deflater: UnsafeMutablePointer<z_stream>?
    private var inflater: UnsafeMutablePointer<z_stream>?
    /// Where the directions without context takeover borrow their streams.
    private let pool: ZlibStreamPool
    /// The pool's stream for the message being received, without context takeover.
    private var borrowedInflater: ZlibStreamPool.Lease?
    private var inboundCompressed = false
    /// Set when a block with BFINAL ended the stream: the rest of the message is padding.
    private var streamEnded = false
    /// zlib writes here, 16 KiB at a time, and the bytes are appended to the message (for the
    /// connection's own streams; a borrowed stream comes with its own).
    private var scratch: UnsafeMutableRawBufferPointer?
    /// What was deflated and inflated since the last ``takeTally()``.
    private var tally = CodecTally()
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// A codec for one connection; `role` says which direction's parameters apply to sending.
    public convenience init(agreement: PerMessageDeflate.Agreement, configuration: PerMessageDeflate.Configuration = .init(), role: WebSocketEngine.Role) {
        self.init(agreement: agreement, configuration: configuration, role: role, pool: .shared)
    }

    /// A codec that borrows from `pool` (tests give each their own, to count what it holds).
    init(agreement: PerMessageDeflate.Agreement, configuration: PerMessageDeflate.Configuration = .init(), role: WebSocketEngine.Role,
         pool: ZlibStreamPool) {
        self.pool = pool
        self.agreement = agreement
        self.configuration = configuration
        self.role = role
        name = agreement.perFrame ? "deflate-frame" : "permessage-deflate"
    }

    deinit {
        if let deflater { deflateKind.free(deflater) }
        if let inflater { inflateKind.free(inflater) }
        if let borrowedInflater { pool.give(borrowedInflater, as: inflateKind) }
        scratch?.deallocate()
    }

    private func scratchBuffer() -> UnsafeMutableRawBufferPointer {
        if let scratch { return scratch }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ZlibStreamPool.scratchSize, alignment: 16)
        scratch = buffer
        return buffer
    }

    /// Whether a compressor or decompressor currently holds zlib memory (for tests and metrics).
    var holdsStreams: (deflater: Bool, inflater: Bool) { (deflater != nil, inflater != nil || borrowedInflater != nil) }

    /// The pool's kind of stream for each direction. Inflating with a window of at least 9 bits
    /// accepts the smaller ones (zlib cannot make an 8-bit raw inflater).
    private var deflateKind: ZlibStreamPool.Kind {
        .init(compresses: true, windowBits: Int32(sendWindowBits), level: configuration.compressionLevel, memoryLevel: configuration.memoryLevel)
    }
    private var inflateKind: ZlibStreamPool.Kind { .init(compresses: false, windowBits: Int32(max(receiveWindowBits, 9))) }

    private var sendNoContextTakeover: Bool { role == .server ? agreement.serverNoContextTakeover : agreement.clientNoContextTakeover }
    private var receiveNoContextTakeover: Bool { role == .server ? agreement.clientNoContextTakeover : agreement.serverNoContextTakeover }
    private var sendWindowBits: Int { role == .server ? agreement.serverWindowBits : agreement.clientWindowBits }
    private var receiveWindowBits: Int { role == .server ? agreement.clientWindowBits : agreement.serverWindowBits }

    // MARK: Receiving

    /// RSV1 on the first frame marks a compressed message; on a continuation frame it is a
    /// protocol error (permessage-deflate). With deflate-frame each frame carries its own RSV1.
    public func inboundFrame(reservedBits: ReservedBits, opcode: Opcode, isFirstFrame: Bool) throws(ProtocolError) -> Bool {
        let rsv1 = reservedBits.contains(.rsv1)
        if agreement.perFrame { return rsv1 }
        if isFirstFrame {
            inboundCompressed = rsv1
        } else if rsv1 {
            throw ProtocolError(.protocolError, "RSV1 set on a continuation frame")
        }
        return inboundCompressed
    }

    /// Inflates a piece of a compressed message into `output`, stopping with 1009 as soon as
    /// the output would pass `limit`, so a small bomb costs no more memory than the limit.
    public func decode(_ piece: UnsafeRawBufferPointer, endOfFrame: Bool, endOfMessage: Bool, into output: inout [UInt8], limit: Int) throws(ProtocolError) {
        let lease = try inflateLease()
        let before = output.count
        defer {
            tally.decodedFrom += piece.count
            tally.decodedTo += output.count - before
        }
        try inflate(lease, piece, into: &output, limit: limit)
        let ends = agreement.perFrame ? endOfFrame : endOfMessage
        if ends {
            if streamEnded {
                // Whatever followed the final block was checked to inflate to nothing; the
                // next message starts a new stream.
                inflateReset(lease.stream)
            } else {
                let result = DeflateCodec.tail.withUnsafeBytes { raw in
                    Result { () throws(ProtocolError) in try inflate(lease, raw, into: &output, limit: limit) }
                }
                try result.get()
            }
            streamEnded = false
            if let borrowed = borrowedInflater {
                pool.give(borrowed, as: inflateKind)
                borrowedInflater = nil
            }
        }
    }

    /// The stream for the message being received: borrowed from the pool until the message
    /// ends (no context takeover), or this connection's own.
    private func inflateLease() throws(ProtocolError) -> ZlibStreamPool.Lease {
        if let borrowedInflater { return borrowedInflater }
        if receiveNoContextTakeover {
            guard let lease = pool.take(inflateKind) else {
                throw ProtocolError(.internalError, "zlib could not make a decompressor")
            }
            borrowedInflater = lease
            return lease
        }
        if let inflater { return ZlibStreamPool.Lease(stream: inflater, scratch: scratchBuffer()) }
        guard let stream = inflateKind.makeStream() else {
            throw ProtocolError(.internalError, "zlib could not make a decompressor")
        }
        inflater = stream
        return ZlibStreamPool.Lease(stream: stream, scratch: scratchBuffer())
    }

    private func inflate(_ lease: ZlibStreamPool.Lease, _ input: UnsafeRawBufferPointer, into output: inout [UInt8], limit: Int) throws(ProtocolError) {
        guard !input.isEmpty else { return }
        let stream = lease.stream, scratch = lease.scratch
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        while true {
            stream.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(scratch.count)
            let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
            let produced = scratch.count - Int(stream.pointee.avail_out)
            guard output.count + produced <= limit else {
                throw ProtocolError(.messageTooBig, "A compressed message inflates past the limit of \(limit) bytes")
            }
            if streamEnded && produced > 0 {
                throw ProtocolError(.invalidPayloadData, "Compressed data after the final deflate block of a message")
            }
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<produced]))
            switch status {
            case Z_OK, Z_BUF_ERROR:
                // Done when zlib took all input and did not fill the output.
                if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { return }
                if status == Z_BUF_ERROR && produced == 0 { return }
            case Z_STREAM_END:
                // A block with BFINAL set ended the stream (RFC 7692 §7.2.3.5 allows it). What
                // may follow in this message is the rest of the empty stored block the sender
                // appended before removing the 00 00 FF FF tail (the RFC's example has one 0x00
                // byte): it is inflated by the reset stream and must produce nothing, so data
                // hidden after the final block fails with 1007 instead of being ignored.
                inflateReset(stream)
                streamEnded = true
                if stream.pointee.avail_in == 0 { return }
            default:
                throw ProtocolError(.invalidPayloadData, "Invalid compressed data")
            }
        }
    }

    // MARK: Counting

    /// What was deflated and inflated since the last call.
    public func takeTally() -> CodecTally {
        defer { tally = CodecTally() }
        return tally
    }

    // MARK: Sending

    /// Deflates a whole message with a sync flush and drops the `00 00 ff ff` tail (§7.2.1).
    /// Messages under the configured minimum size are left alone unless `force` is set.
    public func encode(_ payload: [UInt8], opcode: Opcode, force: Bool) -> (payload: [UInt8], reservedBits: ReservedBits)? {
        guard force || payload.count >= configuration.minimumSize else { return nil }
        // Without context takeover, a stream from the pool for this message (given back reset).
        let borrowed = sendNoContextTakeover ? pool.take(deflateKind) : nil
        defer { if let borrowed { pool.give(borrowed, as: deflateKind) } }
        guard let stream = borrowed?.stream ?? deflateStream() else { return nil }
        let scratch = borrowed?.scratch ?? scratchBuffer()
        var output: [UInt8] = []
        output.reserveCapacity(payload.count / 2 + 64)
        let ok: Bool = payload.withUnsafeBytes { input in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: (input.baseAddress ?? UnsafeRawPointer(scratch.baseAddress!)).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(input.count)
            while true {
                stream.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(scratch.count)
                let status = deflate(stream, Z_SYNC_FLUSH)
                let produced = scratch.count - Int(stream.pointee.avail_out)
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<produced]))
                guard status == Z_OK || status == Z_BUF_ERROR else { return false }
                if stream.pointee.avail_out > 0 && stream.pointee.avail_in == 0 { return true }
            }
        }
        let n = output.count
        guard ok, n >= 4, output[n - 4] == 0, output[n - 3] == 0, output[n - 2] == 0xFF, output[n - 1] == 0xFF else {
            // A stream in an unknown state: a borrowed one is reset as it goes back; this
            // connection's own is dropped, and the next message starts a new one (the peer
            // has seen nothing of this one, which goes uncompressed).
            if borrowed == nil { dropDeflater() }
            return nil
        }
        output.removeLast(4)
        tally.encodedFrom += payload.count
        tally.encodedTo += output.count
        return (output, .rsv1)
    }

    /// This connection's own compressor (context takeover), made on first use.
    private func deflateStream() -> UnsafeMutablePointer<z_stream>? {
        if let deflater { return deflater }
        deflater = deflateKind.makeStream()
        return deflater
    }

    private func dropDeflater() {
        guard let deflater else { return }
        deflateKind.free(deflater)
        self.deflater = nil
    }
}
