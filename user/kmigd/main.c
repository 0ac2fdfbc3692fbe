// SPDX-License-Identifier: GPL-2.0
/*
 * kmigd: its options, its socket and directory, and the event loop that
 * everything else hangs off (kmigd.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "kmigd.h"
#include "netlink.h"
#include "version.h"

#define TICK_MS		250
#define NETLINK_RETRY	20		/* ticks between tries to join */

static const char usage[] =
"Usage: kmigd [--socket PATH] [--state-dir DIR] [--group NAME] [--kmig PATH]\n"
"\n"
"The kmig agent as a service: it runs migration jobs (kmig subcommands)\n"
"for clients of its socket, which speak Documentation/kmigd.rst's JSON.\n"
"\n"
"  --socket PATH    its socket (default /run/kmig/kmigd.sock)\n"
"  --state-dir DIR  its jobs' directories, DIR/jobs/ID (default /run/kmig)\n"
"  --group NAME     besides root and kmigd's user, this group may connect\n"
"                   (default kmig, when it exists)\n"
"  --kmig PATH      the agent it runs jobs with (default: kmig beside kmigd)\n";

static volatile int stop;

int kmigd_watch_add(struct kmigd *d, int fd, uint32_t events,
		    struct kmigd_watch *w)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int parse(struct kmigd *d, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "group", required_argument, NULL, 'g' },
		{ "kmig", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	static char self[PATH_MAX], kmig[PATH_MAX + 8];
	const char *group = NULL;
	struct group *g;
	ssize_t len;
	int c;

	d->sock_path = "/run/kmig/kmigd.sock";
	d->state_dir = "/run/kmig";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': d->sock_path = optarg; break;
		case 'd': d->state_dir = optarg; break;
		case 'g': group = optarg; break;
		case 'k': d->kmig_path = optarg; break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case 'V':
			printf("kmigd %s (protocol %d, api %d)\n",
			       KMIG_AGENT_VERSION, KMIGD_PROTOCOL,
			       KMIG_API_VERSION);
			return 1;
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kmigd: unexpected argument '%s'\n\n%s",
			argv[optind], usage);
		return -EINVAL;
	}
	if (strlen(d->sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
	    strlen(d->state_dir) > 80) {
		fprintf(stderr, "kmigd: --socket or --state-dir is too long (a job's control socket is DIR/jobs/ID/ctl)\n");
		return -EINVAL;
	}
	g = getgrnam(group ? group : "kmig");
	if (group && !g) {
		fprintf(stderr, "kmigd: --group %s: no such group\n", group);
		return -EINVAL;
	}
	if (g) {
		d->group = g->gr_gid;
		d->have_group = true;
	}
	if (!d->kmig_path) {
		len = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (len < 0) {
			perror("kmigd: /proc/self/exe");
			return -errno;
		}
		self[len] = '\0';
		snprintf(kmig, sizeof(kmig), "%s/kmig", dirname(self));
		d->kmig_path = kmig;
	}
	if (access(d->kmig_path, X_OK)) {
		fprintf(stderr, "kmigd: %s: %s (--kmig PATH)\n", d->kmig_path,
			strerror(errno));
		return -ENOENT;
	}
	return 0;
}

/* Whether something listens at @sa. */
static bool answers(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ret;

	ret = fd >= 0 && !connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * The state directory is one kmigd's: a second one, on any socket, must not
 * adopt its jobs nor write their ends. The lock goes with the process (the
 * jobs it starts do not inherit it). 0 or -errno, said.
 */
static int lock_state(struct kmigd *d)
{
	char p[PATH_MAX];
	int fd;

	if (mkdir(d->state_dir, 0750) && errno != EEXIST) {
		fprintf(stderr, "kmigd: %s: %s\n", d->state_dir, strerror(errno));
		return -errno;
	}
	snprintf(p, sizeof(p), "%s/lock", d->state_dir);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		fprintf(stderr, "kmigd: %s: %s\n", p, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			fprintf(stderr, "kmigd: another kmigd keeps its jobs in %s\n",
				d->state_dir);
		else
			fprintf(stderr, "kmigd: %s: %s\n", p, strerror(errno));
		close(fd);
		return -EBUSY;
	}
	return 0;	/* held until kmigd ends */
}

/* Listen at --socket, 0660, with the group: 0 or -errno, said. */
static int listen_at(struct kmigd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	strcpy(sa.sun_path, d->sock_path);
	if (!lstat(d->sock_path, &st) && S_ISSOCK(st.st_mode)) {
		if (answers(&sa)) {
			fprintf(stderr, "kmigd: another kmigd answers on %s\n",
				d->sock_path);
			return -EADDRINUSE;
		}
		/* left by a kmigd that died; never anything but a socket */
		unlink(d->sock_path);
	}
	d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->lfd < 0 || bind(d->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(d->sock_path, d->have_group ? 0660 : 0600) ||
	    (d->have_group && chown(d->sock_path, -1, d->group)) ||
	    listen(d->lfd, 16)) {
		fprintf(stderr, "kmigd: %s: %s\n", d->sock_path, strerror(errno));
		return -errno;
	}
	d->lwatch.kind = WATCH_LISTEN;
	return kmigd_watch_add(d, d->lfd, EPOLLIN, &d->lwatch);
}

/* Module events, from the netlink group: while the module is loaded. */
struct module_events {
	struct kmig_nl nl;
	bool joined;
	unsigned int retry;
	struct kmigd_watch watch;
};

static void module_join(struct kmigd *d, struct module_events *m)
{
	if (m->joined || m->retry--)
		return;
	m->retry = NETLINK_RETRY;
	if (kmig_nl_open(&m->nl))
		return;
	if (kmig_nl_events_join(&m->nl) ||
	    kmigd_watch_add(d, kmig_nl_fd(&m->nl), EPOLLIN, &m->watch)) {
		kmig_nl_close(&m->nl);
		return;
	}
	m->joined = true;
	kmigd_log(KMIGD_INFO, 0, "following the kmig module's events");
}

static void module_event(struct kmigd *d, struct module_events *m)
{
	static const char *const names[] = {
		[KMIG_CMD_CTX_NEW] = "context-new",
		[KMIG_CMD_CTX_DEL] = "context-del",
		[KMIG_CMD_CTX_SERVER_LOST] = "context-server-lost",
		[KMIG_CMD_CTX_PROVIDER_LOST] = "context-provider-lost",
	};
	struct kmig_nl_event ev;
	struct jw w;
	int ret;

	while (!(ret = kmig_nl_event_recv(&m->nl, &ev, 0))) {
		if (ev.cmd >= sizeof(names) / sizeof(names[0]) ||
		    !names[ev.cmd])
			continue;
		jw_init(&w);
		jw_object(&w);
		jw_field_str(&w, "event", "module");
		jw_field_str(&w, "what", names[ev.cmd]);
		jw_field_u64(&w, "context", ev.id);
		jw_field_u64(&w, "owner", ev.owner);
		jw_end(&w, '}');
		kmigd_event(d, &w);
		jw_free(&w);
	}
	if (ret != -ETIMEDOUT) {	/* the module went away */
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, kmig_nl_fd(&m->nl), NULL);
		kmig_nl_close(&m->nl);
		m->joined = false;
	}
}

static int loop(struct kmigd *d, int tfd, int sfd)
{
	struct module_events m = { .watch.kind = WATCH_NETLINK };
	struct kmigd_watch tick = { .kind = WATCH_TIMER };
	struct kmigd_watch sig = { .kind = WATCH_SIGNAL };
	struct epoll_event evs[32];
	struct signalfd_siginfo si;
	uint64_t expired;
	int n, i;

	if (kmigd_watch_add(d, tfd, EPOLLIN, &tick) ||
	    kmigd_watch_add(d, sfd, EPOLLIN, &sig))
		return -errno;
	module_join(d, &m);
	while (!stop) {
		n = epoll_wait(d->epfd, evs, 32, -1);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < n; i++) {
			struct kmigd_watch *w = evs[i].data.ptr;

			switch (w->kind) {
			case WATCH_LISTEN:
				kmigd_conn_accept(d);
				break;
			case WATCH_CONN:
				kmigd_conn_io(d, w->p, evs[i].events);
				break;
			case WATCH_JOB:
				kmigd_job_ended(d, w->p);
				break;
			case WATCH_TIMER:
				if (read(tfd, &expired, 8) == 8) {
					kmigd_jobs_tick(d);
					module_join(d, &m);
				}
				break;
			case WATCH_SIGNAL:
				if (read(sfd, &si, sizeof(si)) == sizeof(si))
					stop = si.ssi_signo;
				break;
			case WATCH_NETLINK:
				module_event(d, &m);
				break;
			}
		}
		kmigd_conns_sweep(d, false);
	}
	if (m.joined)
		kmig_nl_close(&m.nl);
	return 0;
}

int main(int argc, char *argv[])
{
	struct itimerspec every = {
		.it_interval.tv_nsec = TICK_MS * 1000000,
		.it_value.tv_nsec = TICK_MS * 1000000,
	};
	struct kmigd d = { .lfd = -1 };
	int tfd, sfd, ret;
	sigset_t mask;

	ret = parse(&d, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || d.epfd < 0 ||
	    timerfd_settime(tfd, 0, &every, NULL)) {
		perror("kmigd");
		return 1;
	}
	/* the state and the socket first: nothing of the jobs is read before */
	if (lock_state(&d) || listen_at(&d))
		return 1;
	ret = kmigd_jobs_init(&d);
	if (ret) {
		fprintf(stderr, "kmigd: %s/jobs: %s\n", d.state_dir,
			strerror(-ret));
		unlink(d.sock_path);
		return 1;
	}
	kmigd_log(KMIGD_NOTICE, 0, "kmigd %s listening on %s (%u jobs known)",
		  KMIG_AGENT_VERSION, d.sock_path, d.njobs);
	ret = loop(&d, tfd, sfd);
	/* jobs run on: a kmigd started again adopts them */
	kmigd_log(KMIGD_NOTICE, 0, "stopping (%s); running jobs go on",
		  stop ? strsignal(stop) : strerror(-ret));
	kmigd_conns_sweep(&d, true);
	close(d.lfd);
	unlink(d.sock_path);
	kmigd_jobs_free(&d);
	return ret ? 1 : 0;
}
