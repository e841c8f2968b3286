/* The Pod sandbox process of e2e/cluster.sh's node, and the e2e workload: sleeps until
 * SIGINT or SIGTERM (then exits 0), reaping any child it inherits as PID 1 of its PID
 * namespace. Built static by e2e/image.sh (gcc -static), so the image needs no libc. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
    (void)sig;
    _exit(0);
}

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
        perror("sigaction");
        return 1;
    }
    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    if (sigaction(SIGCHLD, &sa, NULL) < 0) {
        perror("sigaction");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("attestor e2e pause");
        return 0;
    }
    for (;;) {
        pause();
    }
}
