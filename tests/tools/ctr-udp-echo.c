/* ctr-udp-echo PORT: a static UDP echo server for tests run inside containers (the test
 * image's busybox nc has no UDP). Answers each datagram with "udp-echo:" + its bytes. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char buf[65536];
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
    memcpy(buf, "udp-echo:", 9);
    for (;;) {
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(fd, buf + 9, sizeof(buf) - 9, 0, (struct sockaddr *)&from, &flen);
        if (n >= 0)
            sendto(fd, buf, (size_t)n + 9, 0, (struct sockaddr *)&from, flen);
    }
}
