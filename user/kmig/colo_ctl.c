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
 *   kmig colo protect --control SOCK      a primary left unprotected
 *         --to ADDR:PORT                  (--stay) enters COLO with the
 *                                         secondary at ADDR:PORT; answered
 *                                         once checkpoint 0 is committed
 *
 * and the primary's side of the last two (colo.h's struct colo_requests).
 */
#include <errno.h>
#include <getopt.h>
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

/* Request @req of the agent at @ctl, its answer on stdout: exit status. */
static int colo_ctl_ask(const struct colo_ctl_role *r, const char *ctl,
			const char *req)
{
	char reply[MIG_JOBCTL_LINE];
	int ret;

	ret = mig_jobctl_request_wait(ctl, req, reply, sizeof(reply),
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

static int colo_ctl(const struct colo_ctl_role *r, int argc, char *argv[])
{
	const char *ctl;
	int ret;

	ret = mig_parse_sock_only(r->cmd, "control", r->usage, argc, argv,
				  &ctl);
	if (ret)
		return ret > 0 ? 0 : 2;
	return colo_ctl_ask(r, ctl, r->request);
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

static const char protect_usage[] =
	"Usage: kmig colo protect --control SOCK --to ADDR:PORT\n"
	"\n"
	"Make the primary whose --control socket is SOCK (\"@name\": abstract),\n"
	"started --stay and left unprotected by its lost secondary, enter COLO\n"
	"with the `kmig colo secondary` listening at ADDR:PORT: every page again\n"
	"into the new secondary's cache, then checkpoints from a new 0. Prints\n"
	"the answer once checkpoint 0 is committed: \"ok protected by ADDR:PORT,\n"
	"checkpoint 0 committed\", or why not.\n";

/* protect's --control SOCK (its only own option). */
static int protect_opt(struct mig_opts *o, int c, void *opaque)
{
	(void)o;
	if (c != 'C')
		return MIG_OPT_SHARED;
	*(const char **)opaque = optarg;
	return 0;
}

int colo_protect_main(int argc, char *argv[])
{
	static const struct colo_ctl_role protect = {
		.cmd = "colo protect", .peer = "primary",
		.timeout_ms = COLO_CTL_PROTECT_WAIT_MS,
	};
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'C' },
		MIG_LONGOPT_TO,
		MIG_LONGOPT_HELP,
		{ }
	};
	struct mig_opts o = { .cmd = protect.cmd };
	char req[MIG_JOBCTL_LINE], to[MIG_ADDR_STRLEN];
	const char *ctl = NULL;
	int ret;

	ret = mig_parse_opts(&o, argc, argv, opts, protect_usage, protect_opt,
			     &ctl);
	if (!ret)
		ret = mig_parse_no_args(&o, argc, argv);
	if (!ret && !ctl)
		ret = mig_usage_error(o.cmd, "--control SOCK is required");
	if (!ret && !o.to)
		ret = mig_usage_error(o.cmd, "--to ADDR:PORT is required");
	if (ret)
		return ret > 0 ? 0 : 2;
	/* resolved here: the primary takes numeric addresses only */
	snprintf(req, sizeof(req), "%s %s\n", COLO_CTL_PROTECT,
		 mig_addr_str(&o.addr.ss, to));
	return colo_ctl_ask(&protect, ctl, req);
}

/*
 * `kmig colo checkpoint`, from the control socket's thread: wake the
 * primary's main thread, and answer once the checkpoint that begins next
 * is committed.
 */
static const char *checkpoint(struct colo_requests *r, char *buf, size_t n)
{
	uint64_t one = 1, mine;

	pthread_mutex_lock(&r->lock);
	if (r->unprotected) {
		pthread_mutex_unlock(&r->lock);
		return "err ENOTCONN the guest is unprotected: no secondary to checkpoint into (kmig colo protect)\n";
	}
	mine = ++r->asked;
	pthread_mutex_unlock(&r->lock);
	if (write(r->wake, &one, sizeof(one)) != sizeof(one))
		return "err EIO cannot wake the primary\n";
	pthread_mutex_lock(&r->lock);
	while (r->served < mine && !r->ended && !r->unprotected)
		pthread_cond_wait(&r->cond, &r->lock);
	if (r->served >= mine)
		snprintf(buf, n, "ok checkpoint %llu committed\n",
			 (unsigned long long)r->served_seq);
	else
		snprintf(buf, n, "err ECANCELED the primary stopped protecting the guest first\n");
	pthread_mutex_unlock(&r->lock);
	return buf;
}

/*
 * `kmig colo protect`, from the control socket's thread: hand @to to
 * the main thread, waiting unprotected, and answer once the new
 * secondary committed checkpoint 0 or the entry failed.
 */
static const char *protect(struct colo_requests *r, const char *to,
			   char *buf, size_t n)
{
	struct mig_addr a;
	uint64_t one = 1;

	if (mig_parse_addr("colo primary", "protect", to, false, &a)) {
		snprintf(buf, n, "err EINVAL protect: '%.60s' is not a numeric ADDR:PORT\n",
			 to);
		return buf;
	}
	pthread_mutex_lock(&r->lock);
	if (!r->unprotected || r->protect_asked) {
		snprintf(buf, n, "err EISCONN the guest is protected already, by the secondary at %s\n",
			 r->peer);
		pthread_mutex_unlock(&r->lock);
		return buf;
	}
	snprintf(r->peer, sizeof(r->peer), "%s", to);
	r->protect_asked = true;
	r->protect_answered = false;
	pthread_mutex_unlock(&r->lock);
	if (write(r->wake, &one, sizeof(one)) != sizeof(one))
		return "err EIO cannot wake the primary\n";
	pthread_mutex_lock(&r->lock);
	while (!r->protect_answered && !r->ended)
		pthread_cond_wait(&r->cond, &r->lock);
	if (r->protect_answered)
		snprintf(buf, n, "%s", r->protect_reply);
	else
		snprintf(buf, n, "err ECANCELED the primary stopped first\n");
	r->protect_asked = r->protect_taken = r->protect_answered = false;
	pthread_mutex_unlock(&r->lock);
	return buf;
}

static const char *answer(void *arg, const char *line, char *buf, size_t n)
{
	size_t plen = strlen(COLO_CTL_PROTECT);

	if (!strcmp(line, COLO_CTL_CHECKPOINT))
		return checkpoint(arg, buf, n);
	if (!strncmp(line, COLO_CTL_PROTECT " ", plen + 1))
		return protect(arg, line + plen + 1, buf, n);
	return "err EINVAL unknown request\n";
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
	if (!seq && r->protect_taken && !r->protect_answered) {
		snprintf(r->protect_reply, sizeof(r->protect_reply),
			 "ok protected by %s, checkpoint 0 committed\n",
			 r->peer);
		r->protect_answered = true;
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void colo_requests_protecting(struct colo_requests *r, const char *peer)
{
	pthread_mutex_lock(&r->lock);
	r->unprotected = false;
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	pthread_mutex_unlock(&r->lock);
}

void colo_requests_unprotected(struct colo_requests *r, int ret,
			       const char *why)
{
	const char *name = strerrorname_np(-ret);

	pthread_mutex_lock(&r->lock);
	r->unprotected = true;
	if (r->protect_taken && !r->protect_answered) {
		snprintf(r->protect_reply, sizeof(r->protect_reply),
			 "err %s %.100s\n", name ? name : "EIO", why);
		r->protect_answered = true;
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

bool colo_requests_protect_take(struct colo_requests *r, char *to, size_t n)
{
	bool taken;

	pthread_mutex_lock(&r->lock);
	taken = r->protect_asked && !r->protect_taken;
	if (taken) {
		snprintf(to, n, "%s", r->peer);
		r->protect_taken = true;
	}
	pthread_mutex_unlock(&r->lock);
	return taken;
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
