#ifndef CWEBSOCKETSHIMS_H
#define CWEBSOCKETSHIMS_H
#include <stdint.h>
#include <sys/socket.h>

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC: one system call instead of accept plus two
/// fcntl calls. Glibc declares accept4 only under _GNU_SOURCE, which Swift's Glibc module lacks.
int cws_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);

/// epoll(7), which Swift's Glibc module does not expose. `struct epoll_event` is packed on
/// x86_64, so these wrappers take and return plain integers.
enum {
    CWS_EPOLLIN = 0x001,
    CWS_EPOLLOUT = 0x004,
    CWS_EPOLLERR = 0x008,
    CWS_EPOLLHUP = 0x010,
    CWS_EPOLLRDHUP = 0x2000,
};
int cws_epoll_create(void);
int cws_epoll_add(int epfd, int fd, uint32_t events);
int cws_epoll_modify(int epfd, int fd, uint32_t events);
int cws_epoll_remove(int epfd, int fd);
/// Waits up to `timeout` ms; fills `fds` and `events` with up to `max` ready descriptors.
int cws_epoll_wait(int epfd, int *fds, uint32_t *events, int max, int timeout);

/// recv(2), send(2) and sendmsg(2) as plain system calls. Glibc's own wrappers are
/// cancellation points: in a process with several threads (Dispatch's) each call switches
/// the thread's cancellation state on and off around the system call, two atomic operations
/// that cost about 1 % of a small-message echo (`perf`). Nothing here cancels threads.
/// Like glibc's, they return -1 and set errno on failure.
long cws_recv(int fd, void *buffer, size_t length, int flags);
long cws_send(int fd, const void *buffer, size_t length, int flags);
long cws_sendmsg(int fd, const struct msghdr *message, int flags);

/// The event loop serving its sockets on this thread, or NULL: a thread-local variable, read
/// in a few instructions where Dispatch's queue-specific lookup costs a generic call and
/// reference counting (it was 3 % of a pipelined echo's CPU, asked on every send).
const void *cws_current_loop(void);
void cws_set_current_loop(const void *loop);
#endif
