// SPDX-License-Identifier: GPL-2.0
/*
 * The roles that talk to a running COLO agent over its --control socket
 * (jobctl.h's protocol, Documentation/colo.rst):
 *
 *   kmig colo failover --control SOCK     the secondary takes over now, as
 *                                         when the primary is lost (the
 *                                         fence, when it has one, decides)
 *   kmig colo checkpoint --control SOCK   the primary takes a checkpoint
 *                                         now; answered once committed
 *
 * and the primary's side of the second (colo.h's struct colo_requests).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "colo.h"
#include "jobctl.h"
#include "mig.h"

struct colo_ctl_role {
	const char *cmd, *request, *peer, *usage;
	int timeout_ms;
};

static int colo_ctl(const struct colo_ctl_role *r, int argc, char *argv[])
{
	char reply[MIG_JOBCTL_LINE];
	const char *ctl;
	int ret;

	ret = mig_parse_sock_only(r->cmd, "control", r->usage, argc, argv,
				  &ctl);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = mig_jobctl_request_wait(ctl, r->request, reply, sizeof(reply),
				      r->timeout_ms);
	if (ret == -EINVAL) {
		fprintf(stderr, "kmig %s: --control %s: not a socket path\n",
			r->cmd, ctl);
		return 2;
	}
	if (ret == -ECONNRESET || ret == -ETIMEDOUT) {
		fprintf(stderr, "kmig %s: the %s at %s did not answer\n",
			r->cmd, r->peer, ctl);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "kmig %s: cannot reach the %s at %s: %s\n",
			r->cmd, r->peer, ctl, strerror(-ret));
		return 1;
	}
	printf("%s\n", reply);
	return strncmp(reply, "ok", 2) ? 1 : 0;
}

int colo_failover_main(int argc, char *argv[])
{
	static const struct colo_ctl_role failover = {
		.cmd = "colo failover", .peer = "secondary",
		.request = COLO_CTL_FAILOVER "\n", .timeout_ms = 5000,
		.usage =
	"Usage: kmig colo failover --control SOCK\n"
	"\n"
	"Make the secondary whose --control socket is SOCK (\"@name\": abstract)\n"
	"take over from its last committed checkpoint now. Make sure the\n"
	"primary's guest is stopped first, or two guests run.\n",
	};

	return colo_ctl(&failover, argc, argv);
}

int colo_checkpoint_main(int argc, char *argv[])
{
	static const struct colo_ctl_role checkpoint = {
		.cmd = "colo checkpoint", .peer = "primary",
		.request = COLO_CTL_CHECKPOINT "\n",
		.timeout_ms = COLO_CTL_CHECKPOINT_WAIT_MS,
		.usage =
	"Usage: kmig colo checkpoint --control SOCK\n"
	"\n"
	"Make the primary whose --control socket is SOCK (\"@name\": abstract)\n"
	"take a checkpoint now, and print its answer once it is committed:\n"
	"\"ok checkpoint N committed\".\n",
	};

	return colo_ctl(&checkpoint, argc, argv);
}

/*
 * `kmig colo checkpoint`, from the control socket's thread: wake the
 * primary's main thread, and answer once the checkpoint that begins next
 * is committed.
 */
static const char *answer(void *arg, const char *line, char *buf, size_t n)
{
	struct colo_requests *r = arg;
	uint64_t one = 1, mine;

	if (strcmp(line, COLO_CTL_CHECKPOINT))
		return "err EINVAL unknown request\n";
	pthread_mutex_lock(&r->lock);
	mine = ++r->asked;
	pthread_mutex_unlock(&r->lock);
	if (write(r->wake, &one, sizeof(one)) != sizeof(one))
		return "err EIO cannot wake the primary\n";
	pthread_mutex_lock(&r->lock);
	while (r->served < mine && !r->ended)
		pthread_cond_wait(&r->cond, &r->lock);
	if (r->served >= mine)
		snprintf(buf, n, "ok checkpoint %llu committed\n",
			 (unsigned long long)r->served_seq);
	else
		snprintf(buf, n, "err ECANCELED the primary stopped protecting the guest first\n");
	pthread_mutex_unlock(&r->lock);
	return buf;
}

int colo_requests_start(struct colo_requests *r, const char *path,
			char *err, size_t n)
{
	r->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->wake < 0)
		return mig_fail(err, n, -errno, "eventfd: %s", strerror(errno));
	r->ctl.answer = answer;
	r->ctl.arg = r;
	return mig_jobctl_start(&r->ctl, path, false, err, n);
}

bool colo_requests_asked(struct colo_requests *r)
{
	uint64_t v;

	return r->wake >= 0 && read(r->wake, &v, sizeof(v)) == sizeof(v);
}

void colo_requests_take(struct colo_requests *r)
{
	pthread_mutex_lock(&r->lock);
	r->taking = r->asked;
	pthread_mutex_unlock(&r->lock);
}

void colo_requests_served(struct colo_requests *r, uint64_t seq)
{
	pthread_mutex_lock(&r->lock);
	r->served = r->taking;
	r->served_seq = seq;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void colo_requests_stop(struct colo_requests *r)
{
	pthread_mutex_lock(&r->lock);
	r->ended = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	mig_jobctl_stop(&r->ctl);
	if (r->wake >= 0)
		close(r->wake);
	r->wake = -1;
}
