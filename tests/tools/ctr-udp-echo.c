/* ctr-udp-echo PORT: a static UDP echo server for tests run inside containers (the test
 * image's busybox nc has no UDP); it reaches the container through a 9p share. Every
 * datagram goes back to its sender prefixed with "echo:" and is logged to stdout as
 * "from ADDR:PORT: DATA". Used by 32-runtime-net and 80-network. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char buf[2048], out[2100];
    int fd;

    if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: ctr-udp-echo PORT\n");
        return 2;
    }
    a.sin_port = htons((uint16_t)atoi(argv[1]));
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("ctr-udp-echo: bind");
        return 1;
    }
    printf("listening on udp port %s\n", argv[1]);
    fflush(stdout);
    for (;;) {
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
        if (n < 0)
            continue;
        buf[n] = '\0';
        printf("from %s:%u: %s\n", inet_ntoa(from.sin_addr), ntohs(from.sin_port), buf);
        fflush(stdout);
        int m = snprintf(out, sizeof(out), "echo:%s", buf);
        sendto(fd, out, (size_t)m, 0, (struct sockaddr *)&from, flen);
    }
}
