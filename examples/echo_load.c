/* examples/echo_load.c - drive echo_server with many concurrent clients and check every byte.
 *
 *     echo_load PORT [CLIENTS] [ROUNDS]     defaults: 32 clients, 50 rounds of 1-4 KiB each
 *
 * Each client is a weft thread with its own connection; each round sends a block of
 * pseudo-random bytes and reads the echo back, comparing every byte. A failure travels to main
 * through weft_thread_join (status and message). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

struct client {
    int port, rounds, id;
    long bytes;
};

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
}

static int round_trip(int fd, const unsigned char *out, unsigned char *in, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, out + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        off += (size_t)w;
    }
    for (size_t off = 0; off < n;) {
        ssize_t r = recv(fd, in + off, n - off, 0);
        if (r <= 0) return -1;
        off += (size_t)r;
    }
    return memcmp(out, in, n) == 0 ? 0 : 1;
}

static int run_client(void *arg)
{
    struct client *c = arg;
    unsigned char out[4096], in[4096];
    unsigned seed = 0x1234567u + (unsigned)c->id;
    int fd = connect_to(c->port);
    if (fd < 0) return weft_error_set(WEFT_EBROKEN, "client %d: cannot connect", c->id);
    for (int r = 0; r < c->rounds; r++) {
        size_t n = 1024 + (size_t)(rand_r(&seed) % 3073);
        for (size_t i = 0; i < n; i++) out[i] = (unsigned char)rand_r(&seed);
        int rc = round_trip(fd, out, in, n);
        if (rc != 0) {
            close(fd);
            return weft_error_set(WEFT_EBROKEN, "client %d round %d: %s", c->id, r,
                                  rc < 0 ? "connection lost" : "echo differs");
        }
        c->bytes += (long)n;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: echo_load PORT [CLIENTS] [ROUNDS]\n");
        return 2;
    }
    int port = atoi(argv[1]), nclients = argc > 2 ? atoi(argv[2]) : 32;
    int rounds = argc > 3 ? atoi(argv[3]) : 50;
    if (nclients < 1 || nclients > 1000 || rounds < 1) return 2;
    struct client *c = calloc((size_t)nclients, sizeof *c);
    weft_thread *t = calloc((size_t)nclients, sizeof *t);
    if (c == NULL || t == NULL) return 1;
    for (int i = 0; i < nclients; i++) {
        c[i] = (struct client){port, rounds, i, 0};
        if (weft_thread_start(&t[i], run_client, &c[i], NULL) != 0) return 1;
    }
    long total = 0;
    int failed = 0;
    for (int i = 0; i < nclients; i++) {
        int st = 0;
        weft_thread_join(t[i], &st, WEFT_FOREVER);
        if (st != 0) {
            fprintf(stderr, "%s\n", weft_error_message());
            failed++;
        }
        total += c[i].bytes;
    }
    printf("%d clients, %ld bytes echoed, %s\n", nclients, total,
           failed ? "SOME FAILED" : "every byte correct");
    free(c);
    free(t);
    return failed ? 1 : 0;
}
