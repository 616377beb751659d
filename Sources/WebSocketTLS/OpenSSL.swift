import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// The pieces of OpenSSL both sides use: contexts with this module's settings, PEM loading,
/// and error text.
enum OpenSSL {
    /// A context for `method` with the settings every connection of this module shares.
    static func makeContext(server: Bool, minimumVersion: TLSVersion) throws(TLSError) -> OpaquePointer {
        guard let context = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError("cannot make a TLS context: \(errors())")
        }
        _ = cws_ssl_ctx_set_min_proto_version(context, minimumVersion == .v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION)
        // Renegotiation is an old attack surface and TLS 1.3 has none; compression leaks
        // secrets (CRIME).
        var options = cws_ssl_op_no_renegotiation | cws_ssl_op_no_compression
        if server {
            // A client that drops the TCP connection without close_notify (many do) has ended
            // the stream: the WebSocket closing handshake, not TLS, tells a clean close from a
            // cut one. A client keeps the distinction and reports the cut.
            options |= cws_ssl_op_cipher_server_preference | cws_ssl_op_ignore_unexpected_eof
        }
        _ = SSL_CTX_set_options(context, options)
        // Release the read and write buffers (about 34 KiB) while a connection is idle;
        // writes may return after one record and resume from a queue that has moved.
        cws_ssl_ctx_set_mode(context, cws_ssl_mode_release_buffers | cws_ssl_mode_enable_partial_write | cws_ssl_mode_accept_moving_write_buffer)
        // Read as many records as the socket holds in one read(2), not a header then a body.
        // (A read-ahead buffer of 64 KiB instead of one record's 16 took 40 % fewer recv(2)
        // calls in a wss echo of 64 KiB, but, released while idle and allocated again for the
        // next read, its pages were faulted in afresh each time: no faster in six pairs.)
        cws_ssl_ctx_set_read_ahead(context, 1)
        if server {
            // No server-side session cache, whose memory grows with every handshake: TLS 1.3
            // and 1.2 clients resume with stateless tickets instead.
            cws_ssl_ctx_disable_session_cache(context)
        }
        return context
    }

    /// Installs a certificate chain and its key in `context`.
    static func use(_ certificate: TLSCertificate, in context: OpaquePointer) throws(TLSError) -> OpaquePointer {
        let keyPEM = try read(certificate.privateKey, what: "private key")
        let chain = try certificates(from: certificate.chain, what: "certificate chain")
        guard let leaf = chain.first else {
            throw TLSError("no certificate in \(certificate.chain.name)")
        }
        guard SSL_CTX_use_certificate(context, leaf) == 1 else {
            chain.forEach { X509_free($0) }
            throw TLSError("cannot use the certificate in \(certificate.chain.name): \(errors())")
        }
        for intermediate in chain.dropFirst() {
            // add0 takes the reference.
            if cws_ssl_ctx_add0_chain_cert(context, intermediate) != 1 { X509_free(intermediate) }
        }
        let key = keyPEM.withUnsafeBytes { bytes -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let key else {
            X509_free(leaf)
            throw TLSError("no private key in \(certificate.privateKey.name): \(errors())")
        }
        defer { EVP_PKEY_free(key) }
        guard SSL_CTX_use_PrivateKey(context, key) == 1, SSL_CTX_check_private_key(context) == 1 else {
            X509_free(leaf)
            _ = errors()
            throw TLSError("the private key in \(certificate.privateKey.name) does not match the certificate in \(certificate.chain.name)")
        }
        return leaf  // the caller owns this reference (for SNI matching)
    }

    /// Adds the certificates of `roots` to the certificates `context` trusts.
    static func trust(_ roots: PEMSource, in context: OpaquePointer, acceptingFromClients: Bool) throws(TLSError) {
        let certificates = try certificates(from: roots, what: "trusted certificates")
        guard !certificates.isEmpty else { throw TLSError("no certificate in \(roots.name)") }
        let store = SSL_CTX_get_cert_store(context)
        for certificate in certificates {
            _ = X509_STORE_add_cert(store, certificate)
            // Tells clients which authorities their certificate should come from.
            if acceptingFromClients { _ = SSL_CTX_add_client_CA(context, certificate) }
            X509_free(certificate)
        }
        _ = errors()  // a certificate listed twice leaves a harmless error behind
    }

    /// Every certificate in `source`, in order; the caller frees them.
    static func certificates(from source: PEMSource, what: String) throws(TLSError) -> [OpaquePointer] {
        let pem = try read(source, what: what)
        var result: [OpaquePointer] = []
        pem.withUnsafeBytes { bytes in
            guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else { return }
            defer { BIO_free(bio) }
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) { result.append(certificate) }
        }
        _ = errors()  // the read that found no more certificates leaves an error behind
        return result
    }

    /// The PEM text of `source`: its bytes, or the file's contents.
    static func read(_ source: PEMSource, what: String) throws(TLSError) -> [UInt8] {
        switch source {
        case .bytes(let bytes):
            return bytes
        case .file(let path):
            guard let file = fopen(path, "rb") else {
                throw TLSError("cannot read the \(what) file \(path): \(String(cString: strerror(errno)))")
            }
            defer { fclose(file) }
            var contents: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16 << 10)
            while true {
                let n = fread(&chunk, 1, chunk.count, file)
                if n > 0 { contents += chunk[0..<n] }
                if n < chunk.count { break }
            }
            if ferror(file) != 0 {
                throw TLSError("cannot read the \(what) file \(path): \(String(cString: strerror(errno)))")
            }
            return contents
        }
    }

    /// A certificate name as RFC 2253 text (`CN=alice,O=Example`).
    static func text(of name: OpaquePointer?) -> String? {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, cws_xn_flag_rfc2253) >= 0 else { return nil }
        var data: UnsafeMutablePointer<CChar>?
        let length = cws_bio_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// The reasons in this thread's OpenSSL error queue, which it empties.
    static func errors() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let reason = ERR_reason_error_string(code) {
                reasons.append(String(cString: reason))
            } else {
                reasons.append("OpenSSL error \(code)")
            }
        }
        return reasons.isEmpty ? "unknown TLS error" : reasons.joined(separator: "; ")
    }
}
