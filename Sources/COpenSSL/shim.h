#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
// The system OpenSSL (3.0 or later), for the WebSocketTLS module. What OpenSSL declares as
// macros, Swift cannot call; each wrapper below makes one callable.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <errno.h>
#include <sys/socket.h>

static inline int cws_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline void cws_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { SSL_CTX_set_mode(ctx, mode); }
static inline void cws_ssl_ctx_set_read_ahead(SSL_CTX *ctx, int yes) { SSL_CTX_set_read_ahead(ctx, yes); }
static inline int cws_ssl_ctx_add0_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return (int)SSL_CTX_add0_chain_cert(ctx, cert);
}
static inline void cws_ssl_ctx_set_servername_callback(SSL_CTX *ctx, int (*callback)(SSL *, int *, void *), void *arg) {
    SSL_CTX_set_tlsext_servername_callback(ctx, callback);
    SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}
static inline int cws_ssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
static inline void cws_ssl_ctx_disable_session_cache(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}
static inline long cws_bio_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
static inline const char *cws_ssl_get_cipher_name(const SSL *ssl) { return SSL_get_cipher_name(ssl); }

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own socket BIO uses write(2), which
// raises SIGPIPE when the peer has gone, and a library must not kill its process or change
// the process's signal handling. The descriptor lives in the BIO's data; the BIO never closes it.
static inline int cws_socket_bio_write(BIO *bio, const char *data, size_t length, size_t *written) {
    int fd = (int)(intptr_t)BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    ssize_t n;
    do { n = send(fd, data, length, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
        return 0;
    }
    *written = (size_t)n;
    return 1;
}
static inline int cws_socket_bio_read(BIO *bio, char *data, size_t length, size_t *read) {
    int fd = (int)(intptr_t)BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    ssize_t n;
    do { n = recv(fd, data, length, 0); } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
        return 0;
    }
    if (n == 0) {
        // End of stream: OpenSSL asks BIO_eof() to tell it from an error.
        BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
        return 0;
    }
    *read = (size_t)n;
    return 1;
}
static inline long cws_socket_bio_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number; (void)pointer;
    switch (command) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_EOF: return (BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0);
    default: return 0;
    }
}
static inline int cws_socket_bio_create(BIO *bio) { BIO_set_init(bio, 1); return 1; }
/// A new method table for the socket BIO (made once by the caller and kept).
static inline BIO_METHOD *cws_socket_bio_method(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "websocket socket");
    if (method == NULL) return NULL;
    BIO_meth_set_write_ex(method, cws_socket_bio_write);
    BIO_meth_set_read_ex(method, cws_socket_bio_read);
    BIO_meth_set_ctrl(method, cws_socket_bio_ctrl);
    BIO_meth_set_create(method, cws_socket_bio_create);
    return method;
}
/// A socket BIO over `fd`.
static inline BIO *cws_socket_bio_new(BIO_METHOD *method, int fd) {
    BIO *bio = BIO_new(method);
    if (bio != NULL) BIO_set_data(bio, (void *)(intptr_t)fd);
    return bio;
}

static const long cws_ssl_mode_release_buffers = SSL_MODE_RELEASE_BUFFERS;
static const long cws_ssl_mode_enable_partial_write = SSL_MODE_ENABLE_PARTIAL_WRITE;
static const long cws_ssl_mode_accept_moving_write_buffer = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
static const uint64_t cws_ssl_op_no_renegotiation = SSL_OP_NO_RENEGOTIATION;
static const uint64_t cws_ssl_op_no_compression = SSL_OP_NO_COMPRESSION;
static const uint64_t cws_ssl_op_cipher_server_preference = SSL_OP_CIPHER_SERVER_PREFERENCE;
static const uint64_t cws_ssl_op_ignore_unexpected_eof = SSL_OP_IGNORE_UNEXPECTED_EOF;
static const unsigned long cws_xn_flag_rfc2253 = XN_FLAG_RFC2253;
#endif
