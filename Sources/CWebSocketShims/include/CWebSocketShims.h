#ifndef CWEBSOCKETSHIMS_H
#define CWEBSOCKETSHIMS_H
#include <sys/socket.h>

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC: one system call instead of accept plus two
/// fcntl calls. Glibc declares accept4 only under _GNU_SOURCE, which Swift's Glibc module lacks.
int cws_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);
#endif
