// loadgen: a WebSocket load generator on raw non-blocking sockets and epoll, independent of
// the library it measures. Every echo is checked (opcode, length, bytes).
//
//   loadgen echo    --port P [--host H] [-c CONNS] [-s SIZE] [-d INFLIGHT] [-t SECONDS] [--text] [--deflate] [--tls] [--server-pid PID]
//   loadgen connect --port P [-c CONCURRENCY] [-t SECONDS] [--tls] [--server-pid PID]
//   loadgen idle    --port P -c CONNS [--tls] [--hold SECONDS] --server-pid PID
//   loadgen paced   --port P -c CONNS --active PERCENT --interval MS [-s SIZE] [-t SECONDS] --server-pid PID
//
//   loadgen fanout  --port P -c CONNS [-s SIZE] [-t SECONDS] --server-pid PID
//
// fanout opens CONNS subscribers on / and one publisher on /publish (the echo servers' --fanout
// mode publishes what /publish sends to every other connection), then, again and again, sends
// one message and waits until every subscriber has it: the time until the last one does.
//
// paced opens CONNS connections (and reports RSS per connection as idle does), then for -t
// seconds makes PERCENT of them send one message every MS milliseconds (the next only once the
// echo of the last is back) and reports the echo latency: many connections, few of them busy.
//
// --tls speaks wss:// through OpenSSL (TLS 1.3 as the server allows, no certificate check, a
// full handshake for every connection: no session is resumed).
//
// Output: one line of key=value pairs (msgs_per_s, p50_us, p99_us, p999_us, errors, client_cpu_s,
// server_cpu_s, server_cpu_us_per_msg, ...), easy to parse from a script.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

// The RFC 6455 §1.3 key and its accept value: the generator checks the server's answer.
static const char *KEY = "dGhlIHNhbXBsZSBub25jZQ==";
static const char *ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

enum { CONNECTING, HANDSHAKING, OPEN, CLOSING, DONE };

typedef struct {
    int fd;
    int state;
    uint8_t *rbuf; size_t rlen, rcap;
    uint8_t *wbuf; size_t wlen, woff, wcap;
    uint64_t *times; int head, count, cap;  // send times of messages in flight, in order
    z_stream def, inf; int zready;
    int client_no_takeover;  // the server agreed client_no_context_takeover: reset the deflater per message (RFC 7692 §7.1.1.1)
    int want_out;
    SSL *ssl;  // with --tls
} conn_t;

static const char *host = "127.0.0.1";
static int port = 9001, conns = 100, size = 16, inflight = 1, seconds = 5, text = 0, deflate_on = 0, server_pid = 0, hold = 0;
static int active_percent = 0, interval_ms = 100;
static int paced;  // paced mode: an echo does not send the next message; the pacer does
static int mode_fanout;                 // fanout mode: subscribers count what they receive
static const char *request_path = "/";  // the path new connections ask for
static uint64_t fanout_received, fanout_done_at;
static uint8_t *pattern;         // the message every connection sends
static uint32_t *samples; static size_t nsamples, capsamples;
static uint64_t messages, errors, handshakes;
static int epfd, measuring, stopping;
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static int mode_connect;  // in connect mode a finished connection starts a new one
static SSL_CTX *tls;       // with --tls

// send(2) or SSL_write: bytes written, or -1 with errno EAGAIN (come back when the socket is
// ready; TLS may wait for input during its handshake, which a readable event retries) or another.
static ssize_t io_send(conn_t *c, const uint8_t *data, size_t len) {
    if (!c->ssl) return send(c->fd, data, len, MSG_NOSIGNAL);
    size_t n = 0;
    ERR_clear_error();
    if (SSL_write_ex(c->ssl, data, len, &n) == 1) return (ssize_t)n;
    int e = SSL_get_error(c->ssl, 0);
    errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : EPROTO;
    return -1;
}

// recv(2) or SSL_read: as recv, 0 at the end of the stream.
static ssize_t io_recv(conn_t *c, uint8_t *data, size_t len) {
    if (!c->ssl) return recv(c->fd, data, len, 0);
    size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(c->ssl, data, len, &n) == 1) return (ssize_t)n;
    int e = SSL_get_error(c->ssl, 0);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : EPROTO;
    return -1;
}

static uint64_t now_ns(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec; }
static uint32_t next_key(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)rng; }
static void die(const char *what) { perror(what); exit(1); }

static void reserve(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    *buf = realloc(*buf, c);
    if (!*buf) die("realloc");
    *cap = c;
}

static void add_sample(uint64_t ns) {
    if (!measuring) return;
    if (nsamples == capsamples) { capsamples = capsamples ? capsamples * 2 : 1 << 20; samples = realloc(samples, capsamples * 4); }
    samples[nsamples++] = (uint32_t)(ns / 100 > 0xFFFFFFFFu ? 0xFFFFFFFFu : ns / 100);  // units of 100 ns
}

static void set_events(conn_t *c) {
    struct epoll_event ev = { .events = EPOLLIN | (c->wlen > c->woff ? EPOLLOUT : 0), .data.ptr = c };
    int want = c->wlen > c->woff;
    if (want != c->want_out) { c->want_out = want; epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev); }
}

static void flush_out(conn_t *c) {
    while (c->woff < c->wlen) {
        ssize_t n = io_send(c, c->wbuf + c->woff, c->wlen - c->woff);
        if (n > 0) { c->woff += n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        c->state = DONE; errors++; return;
    }
    if (c->woff == c->wlen) c->woff = c->wlen = 0;
    set_events(c);
}

// Appends a masked client frame.
static void put_frame(conn_t *c, int opcode, int rsv1, const uint8_t *payload, size_t len) {
    reserve(&c->wbuf, &c->wcap, c->wlen + len + 14);
    uint8_t *p = c->wbuf + c->wlen;
    size_t h = 0;
    p[h++] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
    if (len < 126) p[h++] = 0x80 | len;
    else if (len <= 0xFFFF) { p[h++] = 0x80 | 126; p[h++] = len >> 8; p[h++] = len & 0xFF; }
    else { p[h++] = 0x80 | 127; for (int i = 7; i >= 0; i--) p[h++] = (uint64_t)len >> (8 * i); }
    uint32_t key = next_key();
    memcpy(p + h, &key, 4);
    uint8_t k[4]; memcpy(k, &key, 4);
    h += 4;
    uint64_t k64; memcpy(&k64, k, 4); memcpy((uint8_t *)&k64 + 4, k, 4);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) { uint64_t w; memcpy(&w, payload + i, 8); w ^= k64; memcpy(p + h + i, &w, 8); }
    for (; i < len; i++) p[h + i] = payload[i] ^ k[i & 3];
    c->wlen += h + len;
}

static uint8_t *zbuf; static size_t zcap;

static void send_message(conn_t *c) {
    if (c->count == c->cap) { errors++; return; }
    c->times[(c->head + c->count) % c->cap] = now_ns();
    c->count++;
    if (!deflate_on) { put_frame(c, text ? 1 : 2, 0, pattern, size); return; }
    reserve(&zbuf, &zcap, size + 1024);
    c->def.next_in = pattern; c->def.avail_in = size;
    c->def.next_out = zbuf; c->def.avail_out = zcap;
    if (deflate(&c->def, Z_SYNC_FLUSH) != Z_OK || c->def.avail_in != 0) { errors++; return; }
    size_t n = zcap - c->def.avail_out;
    put_frame(c, text ? 1 : 2, 1, zbuf, n - 4);  // drop 00 00 ff ff
    if (c->client_no_takeover) deflateReset(&c->def);
}

static void start_messages(conn_t *c) {
    c->cap = inflight; c->times = calloc(inflight, 8);
    if (deflate_on) {
        memset(&c->def, 0, sizeof c->def); memset(&c->inf, 0, sizeof c->inf);
        if (deflateInit2(&c->def, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK || inflateInit2(&c->inf, -15) != Z_OK) die("zlib");
        c->zready = 1;
    }
    for (int i = 0; i < inflight; i++) send_message(c);
}

static conn_t *open_conn(void) {
    conn_t *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) die("socket");
    // Connect mode sends one request and one close frame, each after the previous answer, so
    // Nagle never holds them back; leaving TCP_NODELAY out there saves a system call.
    int one = 1;
    if (!mode_connect) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
    if (tls) {
        c->ssl = SSL_new(tls);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_connect_state(c->ssl);
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n", request_path, host, port, KEY,
                     deflate_on ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "");
    reserve(&c->wbuf, &c->wcap, n);
    memcpy(c->wbuf, req, n); c->wlen = n;
    c->state = HANDSHAKING;
    // On loopback the connection is usually established by the time connect() returns: send the
    // request now and watch for output only if some of it is left.
    while (c->woff < c->wlen) {
        ssize_t sent = io_send(c, c->wbuf + c->woff, c->wlen - c->woff);
        if (sent > 0) { c->woff += sent; continue; }
        if (sent < 0 && errno == EINTR) continue;
        break;  // EAGAIN while connecting, or an error that the first read will report
    }
    if (c->woff == c->wlen) c->woff = c->wlen = 0;
    c->want_out = c->wlen > c->woff;
    struct epoll_event ev = { .events = EPOLLIN | (c->want_out ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    return c;
}

static void close_conn(conn_t *c) {
    if (c->ssl) { SSL_free(c->ssl); c->ssl = NULL; }
    close(c->fd);  // also takes it out of the epoll set: the descriptor is never duplicated
    c->fd = -1;
    c->state = DONE;
}


// Handles the bytes in c->rbuf. Returns 0 to keep going.
static void process(conn_t *c) {
    size_t off = 0;
    if (c->state == HANDSHAKING) {
        uint8_t *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
        if (!end) return;
        size_t head = end - c->rbuf + 4;
        if (memcmp(c->rbuf, "HTTP/1.1 101", 12) != 0 || !memmem(c->rbuf, head, ACCEPT, strlen(ACCEPT)) ||
            (deflate_on && !memmem(c->rbuf, head, "permessage-deflate", 18))) {
            fprintf(stderr, "bad handshake response: %.*s\n", (int)head, c->rbuf);
            errors++; close_conn(c); return;
        }
        off = head;
        c->state = OPEN;
        c->client_no_takeover = deflate_on && memmem(c->rbuf, head, "client_no_context_takeover", 26) != NULL;
        handshakes++;
        if (mode_connect) {
            uint8_t payload[2] = { 0x03, 0xE8 };
            put_frame(c, 8, 0, payload, 2);
            c->state = CLOSING;
        } else if (size >= 0 && inflight > 0) {
            start_messages(c);
        }
    }
    while (c->state == OPEN || c->state == CLOSING) {
        size_t avail = c->rlen - off;
        if (avail < 2) break;
        uint8_t *p = c->rbuf + off;
        int fin = p[0] & 0x80, rsv1 = p[0] & 0x40, opcode = p[0] & 0x0F;
        uint64_t len = p[1] & 0x7F; size_t h = 2;
        if (p[1] & 0x80) { errors++; close_conn(c); return; }  // servers never mask
        if (len == 126) { if (avail < 4) break; len = (p[2] << 8) | p[3]; h = 4; }
        else if (len == 127) { if (avail < 10) break; len = 0; for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i]; h = 10; }
        if (avail < h + len) break;
        uint8_t *payload = p + h;
        off += h + len;
        if (opcode == 8) {  // close
            if (c->state == OPEN) { uint8_t code[2] = { 0x03, 0xE8 }; put_frame(c, 8, 0, code, 2); flush_out(c); }
            close_conn(c);
            return;
        }
        if (opcode == 9) { put_frame(c, 10, 0, payload, len); continue; }
        if (opcode == 10) continue;
        if (!fin || opcode != (text ? 1 : 2)) { errors++; continue; }
        const uint8_t *data = payload; size_t dlen = len;
        if (rsv1) {
            if (!c->zready) { errors++; continue; }
            reserve(&zbuf, &zcap, size + 1024);
            static const uint8_t tail[4] = { 0, 0, 0xFF, 0xFF };
            c->inf.next_out = zbuf; c->inf.avail_out = zcap;
            c->inf.next_in = payload; c->inf.avail_in = len;
            int r = inflate(&c->inf, Z_SYNC_FLUSH);
            c->inf.next_in = (uint8_t *)tail; c->inf.avail_in = 4;
            if (r == Z_OK || r == Z_BUF_ERROR) r = inflate(&c->inf, Z_SYNC_FLUSH);
            if (r != Z_OK && r != Z_BUF_ERROR) { errors++; continue; }
            data = zbuf; dlen = zcap - c->inf.avail_out;
        }
        if (mode_fanout) {
            if (dlen != (size_t)size || memcmp(data, pattern, size) != 0) { errors++; continue; }
            if (++fanout_received == (uint64_t)conns) fanout_done_at = now_ns();
            continue;
        }
        if (dlen != (size_t)size || memcmp(data, pattern, size) != 0 || c->count == 0) { errors++; continue; }
        uint64_t sent_at = c->times[c->head];
        c->head = (c->head + 1) % c->cap; c->count--;
        add_sample(now_ns() - sent_at);
        if (measuring) messages++;
        if (!stopping && !paced) send_message(c);
    }
    if (off > 0) { memmove(c->rbuf, c->rbuf + off, c->rlen - off); c->rlen -= off; }
}

static void on_readable(conn_t *c) {
    for (;;) {
        reserve(&c->rbuf, &c->rcap, c->rlen + 65536);
        ssize_t n = io_recv(c, c->rbuf + c->rlen, c->rcap - c->rlen);
        // A short read leaves the socket empty; TLS may still hold records it has read.
        if (n > 0) { c->rlen += n; process(c); if (c->state == DONE) return; if ((size_t)n < 65536 && !(c->ssl && SSL_has_pending(c->ssl))) break; continue; }
        if (n == 0) { if (c->state != CLOSING) errors++; close_conn(c); return; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        errors++; close_conn(c); return;
    }
    flush_out(c);
}

static double cpu_seconds_of(int pid) {
    if (!pid) return 0;
    char path[64]; snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r"); if (!f) return 0;
    char buf[2048]; size_t n = fread(buf, 1, sizeof buf - 1, f); fclose(f); buf[n] = 0;
    char *p = strrchr(buf, ')'); if (!p) return 0;
    unsigned long utime = 0, stime = 0;
    // fields after ")": state(3) ... utime is field 14, stime 15
    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime);
    return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}

static long rss_kib_of(int pid) {
    char path[64]; snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r"); if (!f) return -1;
    char line[256]; long kib = -1;
    while (fgets(line, sizeof line, f)) if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

static double self_cpu(void) {
    struct rusage u; getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static int cmp_u32(const void *a, const void *b) { uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b; return x < y ? -1 : x > y; }

static void loop_for(conn_t **all, int n, uint64_t until) {
    struct epoll_event events[256];
    while (now_ns() < until) {
        int k = epoll_wait(epfd, events, 256, 10);
        for (int i = 0; i < k; i++) {
            conn_t *c = events[i].data.ptr;
            if (c->state == DONE) continue;
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
            if (c->state != DONE && (events[i].events & EPOLLOUT)) flush_out(c);
            if (mode_connect && c->state == DONE) {
                for (int j = 0; j < n; j++) if (all[j] == c) { free(c->rbuf); free(c->wbuf); free(c); all[j] = open_conn(); break; }
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: loadgen echo|connect|idle --port P [...]\n"); return 2; }
    const char *mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--port")) { port = atoi(v); i++; }
        else if (!strcmp(a, "--host")) { host = v; i++; }
        else if (!strcmp(a, "-c")) { conns = atoi(v); i++; }
        else if (!strcmp(a, "-s")) { size = atoi(v); i++; }
        else if (!strcmp(a, "-d")) { inflight = atoi(v); i++; }
        else if (!strcmp(a, "-t")) { seconds = atoi(v); i++; }
        else if (!strcmp(a, "--server-pid")) { server_pid = atoi(v); i++; }
        else if (!strcmp(a, "--hold")) { hold = atoi(v); i++; }
        else if (!strcmp(a, "--active")) { active_percent = atoi(v); i++; }
        else if (!strcmp(a, "--interval")) { interval_ms = atoi(v); i++; }
        else if (!strcmp(a, "--text")) text = 1;
        else if (!strcmp(a, "--deflate")) deflate_on = 1;
        else if (!strcmp(a, "--tls")) {
            tls = SSL_CTX_new(TLS_client_method());
            SSL_CTX_set_verify(tls, SSL_VERIFY_NONE, NULL);
            SSL_CTX_set_session_cache_mode(tls, SSL_SESS_CACHE_OFF);
            SSL_CTX_set_mode(tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
        }
        else { fprintf(stderr, "unknown argument %s\n", a); return 2; }
    }
    struct rlimit rl = { 200000, 200000 };
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) { getrlimit(RLIMIT_NOFILE, &rl); rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    epfd = epoll_create1(0);
    pattern = malloc(size > 0 ? size : 1);
    // Compressible, JSON-like ASCII (valid UTF-8 for text frames).
    const char *json = "{\"id\":12345,\"symbol\":\"BTC-USD\",\"price\":\"43125.50\",\"size\":\"0.0125\",\"side\":\"buy\"},";
    for (int i = 0; i < size; i++) pattern[i] = json[i % strlen(json)];
    conn_t **all = calloc(conns, sizeof *all);

    if (!strcmp(mode, "fanout")) {
        mode_fanout = 1;
        inflight = 0;
        long before = rss_kib_of(server_pid);
        for (int i = 0; i < conns; i++) {
            all[i] = open_conn();
            if (i % 100 == 99) loop_for(all, i + 1, now_ns() + 10000000ull);
        }
        uint64_t deadline = now_ns() + 30000000000ull;
        while (handshakes < (uint64_t)conns && now_ns() < deadline) loop_for(all, conns, now_ns() + 100000000ull);
        request_path = "/publish";
        conn_t *publisher = open_conn();
        while (handshakes < (uint64_t)conns + 1 && now_ns() < deadline) loop_for(all, conns, now_ns() + 10000000ull);
        loop_for(all, conns, now_ns() + 500000000ull);  // let the server settle
        long after = rss_kib_of(server_pid);
        double server0 = cpu_seconds_of(server_pid);
        measuring = 1;
        uint64_t start = now_ns(), end = start + (uint64_t)seconds * 1000000000ull, rounds = 0;
        while (now_ns() < end && publisher->state == OPEN) {
            fanout_received = 0; fanout_done_at = 0;
            uint64_t sent_at = now_ns();
            put_frame(publisher, text ? 1 : 2, 0, pattern, size);
            flush_out(publisher);
            while (fanout_done_at == 0 && now_ns() < sent_at + 5000000000ull) loop_for(all, conns, now_ns() + 1000000ull);
            if (fanout_done_at == 0) { errors++; break; }
            add_sample(fanout_done_at - sent_at);
            rounds++;
        }
        measuring = 0;
        double elapsed = (now_ns() - start) / 1e9, server_cpu = cpu_seconds_of(server_pid) - server0;
        qsort(samples, nsamples, 4, cmp_u32);
        printf("mode=fanout connections=%llu size=%d bytes_per_connection=%.0f fanouts_per_s=%.1f p50_us=%.1f p99_us=%.1f "
               "errors=%llu server_cpu_s=%.2f server_cpu_us_per_fanout=%.1f\n",
               (unsigned long long)handshakes - 1, size, handshakes > 1 ? (after - before) * 1024.0 / (handshakes - 1) : 0.0,
               rounds / elapsed, nsamples ? samples[nsamples / 2] / 10.0 : 0, nsamples ? samples[(size_t)(nsamples * 0.99)] / 10.0 : 0,
               (unsigned long long)errors, server_cpu, rounds ? server_cpu * 1e6 / rounds : 0);
        return errors ? 1 : 0;
    }

    if (!strcmp(mode, "idle") || !strcmp(mode, "paced")) {
        paced = !strcmp(mode, "paced");
        long before = rss_kib_of(server_pid);
        for (int i = 0; i < conns; i++) {
            all[i] = open_conn();
            if (i % 100 == 99) loop_for(all, i + 1, now_ns() + 10000000ull);
        }
        inflight = 0;
        uint64_t deadline = now_ns() + 30000000000ull;
        while (handshakes < (uint64_t)conns && now_ns() < deadline) loop_for(all, conns, now_ns() + 100000000ull);
        loop_for(all, conns, now_ns() + 1000000000ull);  // let the server settle
        long after = rss_kib_of(server_pid);
        double per_connection = handshakes ? (after - before) * 1024.0 / handshakes : 0.0;
        if (paced) {
            // Every interval, each active connection with nothing in flight sends one message.
            int active = conns * active_percent / 100;
            inflight = 1;
            for (int i = 0; i < active; i++) {
                all[i]->cap = 1; all[i]->times = calloc(1, 8);
            }
            double server0 = cpu_seconds_of(server_pid);
            measuring = 1;
            uint64_t start = now_ns(), end = start + (uint64_t)seconds * 1000000000ull;
            for (uint64_t tick = start; tick < end; tick += (uint64_t)interval_ms * 1000000ull) {
                for (int i = 0; i < active; i++) if (all[i]->state == OPEN && all[i]->count == 0) { send_message(all[i]); flush_out(all[i]); }
                loop_for(all, conns, tick + (uint64_t)interval_ms * 1000000ull);
            }
            measuring = 0;
            double elapsed = (now_ns() - start) / 1e9, server_cpu = cpu_seconds_of(server_pid) - server0;
            qsort(samples, nsamples, 4, cmp_u32);
            printf("mode=paced connections=%llu active=%d interval_ms=%d bytes_per_connection=%.0f msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
                   "errors=%llu server_cpu_s=%.2f server_cpu_us_per_msg=%.3f\n",
                   (unsigned long long)handshakes, active, interval_ms, per_connection, messages / elapsed,
                   nsamples ? samples[nsamples / 2] / 10.0 : 0, nsamples ? samples[(size_t)(nsamples * 0.99)] / 10.0 : 0,
                   nsamples ? samples[(size_t)(nsamples * 0.999)] / 10.0 : 0, (unsigned long long)errors, server_cpu,
                   messages ? server_cpu * 1e6 / messages : 0);
            return errors ? 1 : 0;
        }
        printf("mode=idle connections=%llu errors=%llu rss_before_kib=%ld rss_after_kib=%ld bytes_per_connection=%.0f\n",
               (unsigned long long)handshakes, (unsigned long long)errors, before, after, per_connection);
        fflush(stdout);
        // --hold keeps the connections open a while longer, to look at the server (gdb, perf).
        loop_for(all, conns, now_ns() + (uint64_t)hold * 1000000000ull);
        return errors ? 1 : 0;
    }

    mode_connect = !strcmp(mode, "connect");
    for (int i = 0; i < conns; i++) all[i] = open_conn();
    loop_for(all, conns, now_ns() + 1000000000ull);  // warm-up, 1 s
    uint64_t base_handshakes = handshakes;
    double server0 = cpu_seconds_of(server_pid), self0 = self_cpu();
    measuring = 1;
    uint64_t start = now_ns();
    loop_for(all, conns, start + (uint64_t)seconds * 1000000000ull);
    measuring = 0;
    double elapsed = (now_ns() - start) / 1e9;
    double server_cpu = cpu_seconds_of(server_pid) - server0, client_cpu = self_cpu() - self0;
    stopping = 1;
    if (mode_connect) {
        double rate = (handshakes - base_handshakes) / elapsed;
        printf("mode=connect concurrency=%d handshakes_per_s=%.0f errors=%llu client_cpu_s=%.2f server_cpu_s=%.2f server_cpu_us_per_handshake=%.2f\n",
               conns, rate, (unsigned long long)errors, client_cpu, server_cpu,
               handshakes > base_handshakes ? server_cpu * 1e6 / (handshakes - base_handshakes) : 0);
        return 0;
    }
    qsort(samples, nsamples, 4, cmp_u32);
    double p50 = nsamples ? samples[nsamples / 2] / 10.0 : 0;
    double p99 = nsamples ? samples[(size_t)(nsamples * 0.99)] / 10.0 : 0;
    double p999 = nsamples ? samples[(size_t)(nsamples * 0.999)] / 10.0 : 0;
    int open_now = 0;
    for (int i = 0; i < conns; i++) if (all[i]->state == OPEN) open_now++;
    printf("mode=echo connections=%d open=%d size=%d inflight=%d text=%d deflate=%d msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
           "errors=%llu client_cpu_s=%.2f server_cpu_s=%.2f server_cpu_us_per_msg=%.3f\n",
           conns, open_now, size, inflight, text, deflate_on, messages / elapsed, p50, p99, p999, (unsigned long long)errors,
           client_cpu, server_cpu, messages ? server_cpu * 1e6 / messages : 0);
    return errors || open_now < conns ? 1 : 0;
}
