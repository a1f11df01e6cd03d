/* peer_probe.c — UDP liveness probes between ranks (see peer_probe.h). */
#define _DEFAULT_SOURCE
#include "comm/peer_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/preempt.h"
#include "base/watchdog.h"

enum { HOST_LEN = 64, MAX_ADDRS = 4, MAX_NAMED = 8 };

/* What every rank publishes: where its responder listens. */
typedef struct {
  char host[HOST_LEN];
  uint32_t addr[MAX_ADDRS]; /* IPv4, network order; the last resort is 127.0.0.1 */
  uint16_t port;            /* network order */
  uint16_t naddr;
} peer_entry;

static struct {
  int started;          /* the collective exchange happened (once per process, on every rank) */
  atomic_int running;   /* this rank's responder thread runs */
  int rank, size, sock;
  uint64_t token;
  peer_entry *peers;
  pthread_t thread;
} g = {.sock = -1};

/* Message: 8-byte magic, token, rank of the addressee (probe, failure notice) or of the sender
 * (answer, acknowledgement), a sequence number so late answers of an earlier probe are not
 * counted (a failure notice carries the error code there). */
typedef struct {
  char magic[8];
  uint64_t token;
  uint32_t rank;
  uint32_t seq;
} probe_msg;

static const char PING[8] = "hpPING1", PONG[8] = "hpPONG1", FAIL[8] = "hpFAIL1", FACK[8] = "hpFACK1";

static void *responder(void *arg) {
  (void)arg;
  while (atomic_load(&g.running)) {
    struct pollfd pfd = {.fd = g.sock, .events = POLLIN};
    if (poll(&pfd, 1, 200) <= 0) continue;
    probe_msg m;
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t k = recvfrom(g.sock, &m, sizeof m, 0, (struct sockaddr *)&from, &fl);
    if (k != (ssize_t)sizeof m || m.token != g.token || m.rank != (uint32_t)g.rank)
      continue; /* not ours: another job, another rank's address on a shared host, noise */
    if (!memcmp(m.magic, FAIL, sizeof FAIL)) {
      hp_preempt_peer_failed((int)m.seq);
      memcpy(m.magic, FACK, sizeof FACK);
    } else if (!memcmp(m.magic, PING, sizeof PING)) {
      memcpy(m.magic, PONG, sizeof PONG);
    } else {
      continue;
    }
    (void)sendto(g.sock, &m, sizeof m, 0, (struct sockaddr *)&from, fl);
  }
  return NULL;
}

/* This host's IPv4 addresses of interfaces that are up, loopback last. */
static int local_addresses(uint32_t *out, int max) {
  int n = 0;
  struct ifaddrs *ifs = NULL;
  if (getifaddrs(&ifs) == 0) {
    for (struct ifaddrs *i = ifs; i && n < max - 1; i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
          (i->ifa_flags & IFF_LOOPBACK))
        continue;
      out[n++] = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
    }
    freeifaddrs(ifs);
  }
  out[n++] = htonl(INADDR_LOOPBACK);
  return n;
}

static void watchdog_diagnosis(char *buf, size_t n) { (void)hp_peer_probe_report(buf, n, 2.0); }

int hp_peer_probe_start(MPI_Comm comm) {
  int size;
  MPI_Comm_size(comm, &size);
  if (g.started || size < 2) return 0;
  peer_entry me;
  memset(&me, 0, sizeof me);
  if (gethostname(me.host, sizeof me.host - 1) != 0) snprintf(me.host, sizeof me.host, "(unknown host)");
  int err = 0;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY), .sin_port = 0};
  socklen_t al = sizeof a;
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &al) != 0)
    err = 1;
  me.port = a.sin_port;
  me.naddr = (uint16_t)local_addresses(me.addr, MAX_ADDRS);
  /* Probing is a diagnosis, not a requirement: a rank that cannot open a socket publishes no
   * port, and the others will not count it as silent. */
  if (err) {
    if (s >= 0) close(s);
    s = -1;
    me.port = 0;
  }
  peer_entry *all = calloc((size_t)size, sizeof *all);
  if (!all) {
    if (s >= 0) close(s);
    HP_ERROR(HP_ERR_MEM, "peer probes: cannot allocate the table of %d ranks", size);
  }
  uint64_t token = 0;
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    token = ((uint64_t)ts.tv_sec * 1000000007ULL) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
  }
  int e1 = MPI_Bcast(&token, 1, MPI_UINT64_T, 0, comm);
  int e2 = MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE, comm);
  if (e1 != MPI_SUCCESS || e2 != MPI_SUCCESS) {
    free(all);
    if (s >= 0) close(s);
    HP_ERROR(HP_ERR_MPI, "peer probes: cannot exchange the ranks' addresses");
  }
  for (int r = 0; r < size; r++) all[r].host[HOST_LEN - 1] = '\0';
  g.started = 1; /* whatever this rank's socket did: the exchange is never repeated */
  g.rank = rank;
  g.size = size;
  g.sock = s;
  g.token = token;
  g.peers = all;
  if (s >= 0) {
    atomic_store(&g.running, 1);
    if (pthread_create(&g.thread, NULL, responder, NULL) != 0) {
      atomic_store(&g.running, 0);
      close(s);
      g.sock = -1;
    }
  }
  if (g.sock >= 0) hp_watchdog_set_diagnosis(watchdog_diagnosis);
  return 0;
}

void hp_peer_probe_stop(void) {
  hp_watchdog_set_diagnosis(NULL);
  if (atomic_load(&g.running)) {
    atomic_store(&g.running, 0);
    pthread_join(g.thread, NULL);
  }
  if (g.sock >= 0) close(g.sock);
  g.sock = -1;
  free(g.peers);
  g.peers = NULL;
}

const char *hp_peer_probe_host(void) { return g.peers ? g.peers[g.rank].host : "(unknown host)"; }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void send_to_peers(int s, const char magic[8], const unsigned char *answered, uint32_t seq) {
  for (int r = 0; r < g.size; r++) {
    if (r == g.rank || answered[r] || g.peers[r].port == 0) continue;
    probe_msg m;
    memcpy(m.magic, magic, sizeof m.magic);
    m.token = g.token;
    m.rank = (uint32_t)r;
    m.seq = seq;
    for (int k = 0; k < g.peers[r].naddr && k < MAX_ADDRS; k++) {
      struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = g.peers[r].port};
      to.sin_addr.s_addr = g.peers[r].addr[k];
      (void)sendto(s, &m, sizeof m, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
    }
  }
}

/* Sends `ask` to every rank not yet in answered[], resends once at half time, and marks the
 * ranks whose `reply` (same token and seq) arrives within timeout_s. Returns how many are left,
 * or -1 (message in err) when no socket can be opened. */
static int ask_peers(const char ask[8], const char reply[8], uint32_t seq, double timeout_s, unsigned char *answered,
                     char *err, size_t errn) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    snprintf(err, errn, "cannot open a UDP socket (%s)", strerror(errno));
    return -1;
  }
  answered[g.rank] = 1;
  for (int r = 0; r < g.size; r++)
    if (g.peers[r].port == 0) answered[r] = 1; /* published no responder: not counted */
  double t0 = now_s(), resend = timeout_s / 2;
  int resent = 0, left = 0;
  send_to_peers(s, ask, answered, seq);
  for (;;) {
    left = 0;
    for (int r = 0; r < g.size; r++) left += !answered[r];
    double t = now_s() - t0;
    if (left == 0 || t >= timeout_s) break;
    if (!resent && t >= resend) { /* one resend: a datagram may be lost on a busy link */
      send_to_peers(s, ask, answered, seq);
      resent = 1;
    }
    struct pollfd pfd = {.fd = s, .events = POLLIN};
    if (poll(&pfd, 1, 50) <= 0) continue;
    probe_msg m;
    while (recv(s, &m, sizeof m, MSG_DONTWAIT) == (ssize_t)sizeof m)
      if (!memcmp(m.magic, reply, sizeof m.magic) && m.token == g.token && m.seq == seq && m.rank < (uint32_t)g.size)
        answered[m.rank] = 1;
  }
  close(s);
  return left;
}

int hp_peer_probe_report(char *buf, size_t n, double timeout_s) {
  if (!g.peers || g.size < 2 || n == 0) return -1;
  unsigned char *answered = calloc((size_t)g.size, 1);
  if (!answered) {
    snprintf(buf, n, "cannot probe the other ranks (out of memory)");
    return -1;
  }
  char err[128];
  int left = ask_peers(PING, PONG, (uint32_t)(now_s() * 1000.0), timeout_s, answered, err, sizeof err);
  if (left < 0) {
    snprintf(buf, n, "cannot probe the other ranks: %s", err);
    free(answered);
    return -1;
  }
  size_t used = 0;
  if (left == 0) {
    snprintf(buf, n, "all %d other ranks answer a probe outside MPI: none is dead, frozen or cut off "
                     "(a slow peer, a stuck file system or ranks in different collectives)", g.size - 1);
  } else {
    int named = 0;
    used = (size_t)snprintf(buf, n, "%d of %d other ranks did not answer a probe within %.0f s "
                                    "(dead, frozen or unreachable%s):", left, g.size - 1, timeout_s,
                            left == g.size - 1 ? ", or this node cut off, or UDP blocked between nodes" : "");
    for (int r = 0; r < g.size && used < n; r++) {
      if (answered[r]) continue;
      if (named++ == MAX_NAMED) {
        used += (size_t)snprintf(buf + used, n - used, " and %d more", left - MAX_NAMED);
        break;
      }
      used += (size_t)snprintf(buf + used, n - used, "%s rank %d on %s", named > 1 ? "," : "", r, g.peers[r].host);
    }
  }
  free(answered);
  return left;
}

int hp_peer_probe_announce_failure(int code, double timeout_s) {
  if (!g.peers || g.size < 2 || !atomic_load(&g.running)) return -1;
  unsigned char *answered = calloc((size_t)g.size, 1);
  if (!answered) return -1;
  char err[128];
  int left = ask_peers(FAIL, FACK, (uint32_t)code, timeout_s, answered, err, sizeof err);
  free(answered);
  return left;
}
