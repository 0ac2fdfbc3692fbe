// SPDX-License-Identifier: GPL-2.0
/*
 * MSG_ZEROCOPY for the encoder (enc.h: kmig_enc_zerocopy()). The kernel
 * sends from the caller's pages instead of copying them, and says on the
 * socket's error queue when it is done with each send call's pages (an
 * skb freed: acknowledged by the peer, or copied after all, as over
 * loopback). A flush waits for that before it returns, so that what the
 * encoder references (its staging buffer, the pages given by reference)
 * may change after it, as without zerocopy.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/errqueue.h>

#include "enc_zc.h"

int kmig_enc_zerocopy(struct kmig_enc *e, unsigned int timeout_ms)
{
	int one = 1;

	if (e->fd < 0)
		return -EINVAL;
	if (setsockopt(e->fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		return -errno;
	e->zc_timeout_ms = timeout_ms;
	e->zerocopy = true;
	return 0;
}

/* Take what the error queue holds: completed send calls counted. */
static int take_completions(struct kmig_enc *e)
{
	char control[128];
	struct msghdr msg = { .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct sock_extended_err *ee;
	struct cmsghdr *cm;
	uint32_t n;

	for (;;) {
		msg.msg_controllen = sizeof(control);
		if (recvmsg(e->fd, &msg, MSG_ERRQUEUE) < 0)
			return errno == EAGAIN ? 0 : -errno;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			ee = (struct sock_extended_err *)CMSG_DATA(cm);
			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY) {
				if (ee->ee_errno)
					return -(int)ee->ee_errno;
				continue;
			}
			n = ee->ee_data - ee->ee_info + 1;
			e->zc_done += n;
			if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				e->zc_copied += n;
		}
	}
}

static int wait_completions(struct kmig_enc *e)
{
	struct pollfd p = { .fd = e->fd };
	int ret;

	for (;;) {
		ret = take_completions(e);
		if (ret || e->zc_done == e->zc_sent)
			return ret;
		/* The error queue shows as POLLERR, asked for or not. */
		ret = poll(&p, 1, e->zc_timeout_ms);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (!ret)
			return -ETIMEDOUT;
	}
}

int kmig_enc_zc_write(struct kmig_enc *e, struct iovec *iov, int cnt)
{
	struct msghdr msg = { 0 };
	ssize_t n;

	for (;;) {
		kmig_enc_iov_advance(&iov, &cnt, 0);
		if (!cnt)
			return wait_completions(e);
		msg.msg_iov = iov;
		msg.msg_iovlen = cnt;
		n = sendmsg(e->fd, &msg, MSG_ZEROCOPY);
		/* Out of notification memory: the pages held are let go first. */
		if (n < 0 && errno == ENOBUFS && e->zc_done != e->zc_sent) {
			n = wait_completions(e);
			if (n)
				return n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		e->zc_sent++;
		kmig_enc_iov_advance(&iov, &cnt, n);
	}
}
