// A long-fat-network emulator for two network namespaces, for kernels without netem.
//
//   tunrelay NS_A NS_B DELAY_MS RATE_MBIT LOSS_PERCENT [QUEUE_KIB]
//
// Creates a TUN device "wan0" in each namespace (the caller gives them addresses once
// "ready" is printed) and relays every IP packet between them, each direction on its own:
//   - rate: packets leave at RATE_MBIT (0: unlimited), as a token bucket would pace them;
//   - queue: at most QUEUE_KIB waiting to leave (default: one bandwidth-delay product,
//     at least 1 MiB); a packet that finds it full is dropped (tail drop, as tbf does);
//   - delay: each packet is delivered DELAY_MS after it left (one way);
//   - loss: each packet is dropped with probability LOSS_PERCENT / 100 (independently).
// One thread, poll(2) with the next delivery time as timeout. Statistics on SIGUSR1 and at
// exit (SIGTERM/SIGINT) on stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MTU_MAX 65536
#define SLOTS 32768

struct packet {
    uint64_t due;  // ns, monotonic: when it is delivered
    uint32_t size;
    unsigned char *bytes;
};

struct direction {
    const char *name;
    int in, out;
    struct packet *ring;
    unsigned head, count;
    uint64_t queued_bytes;      // waiting to leave at the rate (not yet "on the wire")
    uint64_t next_departure;    // ns: when the link is free again
    uint64_t forwarded, dropped_loss, dropped_queue, dropped_slots, bytes;
};

static volatile sig_atomic_t stop_requested, stats_requested;
static uint64_t delay_ns, ns_per_byte_x1000, queue_limit;
static double loss;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void on_signal(int signal) {
    if (signal == SIGUSR1) stats_requested = 1;
    else stop_requested = 1;
}

// Opens a TUN device named wan0 inside network namespace `ns` (/run/netns/NS).
static int open_tun_in(const char *ns) {
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    char path[256];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    int target = open(path, O_RDONLY | O_CLOEXEC);
    if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
        fprintf(stderr, "tunrelay: cannot enter namespace %s: %s\n", ns, strerror(errno));
        exit(1);
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    struct ifreq request;
    memset(&request, 0, sizeof request);
    request.ifr_flags = IFF_TUN | IFF_NO_PI;
    strncpy(request.ifr_name, "wan0", IFNAMSIZ - 1);
    if (fd < 0 || ioctl(fd, TUNSETIFF, &request) != 0) {
        fprintf(stderr, "tunrelay: cannot create wan0 in %s: %s\n", ns, strerror(errno));
        exit(1);
    }
    if (setns(self, CLONE_NEWNET) != 0) {
        fprintf(stderr, "tunrelay: cannot return to our namespace: %s\n", strerror(errno));
        exit(1);
    }
    close(self);
    close(target);
    return fd;
}

static void report(struct direction *d) {
    fprintf(stderr, "tunrelay: %s forwarded %llu packets (%llu bytes), dropped %llu by loss, %llu by queue, %llu by slots\n",
            d->name, (unsigned long long)d->forwarded, (unsigned long long)d->bytes,
            (unsigned long long)d->dropped_loss, (unsigned long long)d->dropped_queue,
            (unsigned long long)d->dropped_slots);
}

// Reads every packet waiting on d->in and queues it (or drops it).
static void take(struct direction *d, uint64_t now) {
    for (;;) {
        if (d->count == SLOTS) {
            // No slot: read and drop, or the device's queue would stall the other side.
            unsigned char scratch[MTU_MAX];
            if (read(d->in, scratch, sizeof scratch) <= 0) return;
            d->dropped_slots++;
            continue;
        }
        struct packet *p = &d->ring[(d->head + d->count) % SLOTS];
        ssize_t n = read(d->in, p->bytes, MTU_MAX);
        if (n <= 0) return;
        if (loss > 0 && drand48() * 100.0 < loss) {
            d->dropped_loss++;
            continue;
        }
        uint64_t start = d->next_departure > now ? d->next_departure : now;
        uint64_t backlog = d->next_departure > now ? (d->next_departure - now) * 1000 / (ns_per_byte_x1000 ? ns_per_byte_x1000 : 1) : 0;
        if (ns_per_byte_x1000 && backlog + (uint64_t)n > queue_limit) {
            d->dropped_queue++;
            continue;
        }
        uint64_t departure = start + (uint64_t)n * ns_per_byte_x1000 / 1000;
        d->next_departure = departure;
        p->due = departure + delay_ns;
        p->size = (uint32_t)n;
        d->count++;
    }
}

// Delivers every packet whose time has come; returns ns until the next one (or -1).
static int64_t deliver(struct direction *d, uint64_t now) {
    while (d->count > 0) {
        struct packet *p = &d->ring[d->head];
        if (p->due > now) return (int64_t)(p->due - now);
        ssize_t n = write(d->out, p->bytes, p->size);
        if (n < 0 && errno == EAGAIN) return 100000;  // the device is full: retry in 0.1 ms
        d->forwarded++;
        d->bytes += p->size;
        d->head = (d->head + 1) % SLOTS;
        d->count--;
    }
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: tunrelay NS_A NS_B DELAY_MS RATE_MBIT LOSS_PERCENT [QUEUE_KIB]\n");
        return 64;
    }
    double delay_ms = atof(argv[3]), rate_mbit = atof(argv[4]);
    loss = atof(argv[5]);
    delay_ns = (uint64_t)(delay_ms * 1e6);
    ns_per_byte_x1000 = rate_mbit > 0 ? (uint64_t)(8e3 * 1e3 / rate_mbit) : 0;  // 8 bits * 1e9 ns / (rate * 1e6)
    uint64_t bdp = rate_mbit > 0 ? (uint64_t)(rate_mbit * 1e6 / 8 * delay_ms * 2 / 1e3) : 0;
    queue_limit = argc > 6 ? (uint64_t)atoll(argv[6]) * 1024 : (bdp > (1 << 20) ? bdp : (1 << 20));
    // Descriptors inherited from whoever started us (a test runner's pipes and sockets) must
    // not stay open for as long as the relay runs: their owner may wait for them to close.
    for (int fd = 3; fd < 1024; fd++) close(fd);
    srand48((long)now_ns());
    int a = open_tun_in(argv[1]), b = open_tun_in(argv[2]);
    struct direction ab = {.name = "a->b", .in = a, .out = b}, ba = {.name = "b->a", .in = b, .out = a};
    struct direction *both[2] = {&ab, &ba};
    for (int i = 0; i < 2; i++) {
        both[i]->ring = calloc(SLOTS, sizeof(struct packet));
        for (int s = 0; s < SLOTS; s++) both[i]->ring[s].bytes = malloc(MTU_MAX);
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGUSR1, &action, NULL);
    printf("ready: delay %.3f ms each way, rate %s, loss %.3f %%, queue %llu KiB\n", delay_ms,
           rate_mbit > 0 ? argv[4] : "unlimited", loss, (unsigned long long)(queue_limit / 1024));
    fflush(stdout);
    while (!stop_requested) {
        if (stats_requested) {
            stats_requested = 0;
            report(&ab);
            report(&ba);
        }
        uint64_t now = now_ns();
        int64_t wait_ab = deliver(&ab, now), wait_ba = deliver(&ba, now);
        int64_t wait = wait_ab < 0 ? wait_ba : (wait_ba < 0 ? wait_ab : (wait_ab < wait_ba ? wait_ab : wait_ba));
        struct pollfd fds[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
        // ppoll, not poll: its timeout has nanoseconds, so a delay is kept to the timer's slack.
        if (wait < 0) wait = 1000000000;
        struct timespec timeout = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
        if (ppoll(fds, 2, &timeout, NULL) < 0 && errno != EINTR) break;
        now = now_ns();
        if (fds[0].revents & POLLIN) take(&ab, now);
        if (fds[1].revents & POLLIN) take(&ba, now);
    }
    report(&ab);
    report(&ba);
    return 0;
}
