// SPDX-License-Identifier: GPL-2.0
/*
 * What users see: a progress line on a terminal, a summary at the end, or
 * the job info as JSON with libvirt domjobinfo's field names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mig.h"

void mig_job_start(struct mig_job *j)
{
	j->start_ns = kmig_now_ns();
	j->status = "active";
}

void mig_job_count(struct mig_job *j, const struct mig_counts *c)
{
	j->memory_normal = c->pages;
	j->memory_constant = c->zero;
	j->memory_normal_bytes = c->pages * MIG_PAGE;
	j->memory_torn = c->torn;
	j->memory_processed = c->ram_bytes;
	j->data_processed = c->all_bytes;
	j->memory_remaining = c->dirty * MIG_PAGE;
	j->data_remaining = j->memory_remaining;
	j->device_bytes = c->device_bytes;
	j->data_total = j->memory_total + j->device_bytes;
	j->time_elapsed_ms = (kmig_now_ns() - j->start_ns) / 1000000;
	if (c->rate_from_elapsed && j->time_elapsed_ms)
		j->memory_bps = c->all_bytes * 1000 / j->time_elapsed_ms;
}

void mig_job_end(struct mig_job *j, int ret, const char *err)
{
	j->time_elapsed_ms = (kmig_now_ns() - j->start_ns) / 1000000;
	j->status = !ret ? "completed" : ret == -EINPROGRESS ? "unknown" :
		    "failed";
	snprintf(j->error, sizeof(j->error), "%s", ret ? err : "");
}

static double mib(uint64_t b)
{
	return b / 1048576.0;
}

/* Average of @us over @n, 0 when there is none. */
static uint64_t avg(uint64_t us, uint64_t n)
{
	return n ? us / n : 0;
}

void mig_progress_postcopy(const struct mig_opts *o, const struct mig_job *j,
			   bool source)
{
	const struct mig_bt_stats *bt = &j->pc_bt;

	mig_job_publish(j, source);
	if (!isatty(STDERR_FILENO))
		return;
	fprintf(stderr,
		"\r%s: postcopy  requested %llu  pushed %llu  remaining %llu pages  urgent %.1f MiB  background %.1f MiB",
		o->cmd, (unsigned long long)j->pc_requests,
		(unsigned long long)j->pc_pushed,
		(unsigned long long)j->pc_remaining, mib(j->pc_urgent_bytes),
		mib(j->pc_background_bytes));
	if (!source)
		fprintf(stderr, "  vCPUs blocked %llu ms  round trip %llu us avg, %llu max",
			(unsigned long long)bt->vcpu_total_us / 1000,
			(unsigned long long)avg(bt->vcpu_total_us + bt->other_us,
						bt->resolved),
			(unsigned long long)bt->max_us);
	fprintf(stderr, "   ");
	fflush(stderr);
}

void mig_progress(const struct mig_opts *o, const struct mig_job *j)
{
	unsigned int pct;

	if (j->pc_running) {
		mig_progress_postcopy(o, j, true);
		return;
	}
	mig_job_publish(j, true);	/* only a source shows progress */
	if (!isatty(STDERR_FILENO))
		return;
	pct = j->memory_total ?
	      (unsigned int)(100 * (j->memory_total - j->memory_remaining) /
			     j->memory_total) : 0;
	fprintf(stderr,
		"\r%s: %3u%%  sent %.1f MiB  remaining %.1f MiB  dirty %llu pages/s  round %llu  %.1f MiB/s  expected downtime %llu ms%s   ",
		o->cmd, pct, mib(j->data_processed), mib(j->data_remaining),
		(unsigned long long)j->memory_dirty_rate,
		(unsigned long long)j->memory_iteration, mib(j->memory_bps),
		(unsigned long long)j->expected_downtime_ms,
		j->throttle ? "  throttled" : "");
	fflush(stderr);
}

static const char *tls_creds(const struct mig_job *j)
{
	return j->tls == KMIG_TLS_X509 ? "x509" :
	       j->tls == KMIG_TLS_PSK ? "psk" : "none";
}

/* One field "@name": @v, and the comma. */
static void json_num(FILE *f, const char *name, uint64_t v)
{
	fprintf(f, "  \"%s\": %llu,\n", name, (unsigned long long)v);
}

/* A JSON list of @n values @v[i] / @div. */
static void json_list(FILE *f, const char *name, const uint64_t *v,
		      unsigned int n, uint64_t div)
{
	unsigned int i;

	fprintf(f, "  \"%s\": [", name);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%llu", i ? ", " : "",
			(unsigned long long)(v[i] / div));
	fprintf(f, "],\n");
}

/*
 * Destination: blocktime (blocktime.h). QEMU 10.1's names where the
 * meaning is theirs: postcopy_blocktime (ms every vCPU was blocked at
 * once), postcopy_vcpu_blocktime (ms, by vCPU), the latencies (ns,
 * averages); the rest is kmig's.
 */
static void json_blocktime(FILE *f, const struct mig_bt_stats *bt)
{
	uint64_t lat[MIG_BT_MAX_VCPUS];
	unsigned int i;

	for (i = 0; i < bt->nvcpus; i++)
		lat[i] = 1000 * avg(bt->vcpu_us[i], bt->vcpu_faults[i]);
	json_num(f, "postcopy_blocktime", bt->all_us / 1000);
	json_list(f, "postcopy_vcpu_blocktime", bt->vcpu_us, bt->nvcpus, 1000);
	json_list(f, "postcopy_vcpu_blocktime_us", bt->vcpu_us, bt->nvcpus, 1);
	json_list(f, "postcopy_vcpu_faults", bt->vcpu_faults, bt->nvcpus, 1);
	json_list(f, "postcopy_vcpu_latency", lat, bt->nvcpus, 1);
	json_num(f, "postcopy_vcpu_blocktime_total_us", bt->vcpu_total_us);
	json_num(f, "postcopy_non_vcpu_faults", bt->other_faults);
	json_num(f, "postcopy_non_vcpu_blocktime_us", bt->other_us);
	json_num(f, "postcopy_non_vcpu_latency",
		 1000 * avg(bt->other_us, bt->other_faults));
	json_num(f, "postcopy_latency",
		 1000 * avg(bt->vcpu_total_us + bt->other_us, bt->resolved));
	json_num(f, "postcopy_request_rtt_max_us", bt->max_us);
	json_num(f, "postcopy_request_rtt_p50_us",
		 mig_lat_percentile(bt->lat_us, MIG_LAT_BUCKETS, 50));
	json_num(f, "postcopy_request_rtt_p99_us",
		 mig_lat_percentile(bt->lat_us, MIG_LAT_BUCKETS, 99));
}

static void json(FILE *f, const struct mig_job *j, bool source)
{
	fprintf(f, "{\n");
	fprintf(f, "  \"status\": \"%s\",\n", j->status);
	fprintf(f, "  \"operation\": \"%s\",\n", source ? "outgoing migration" :
	       "incoming migration");
	fprintf(f, "  \"time_elapsed\": %llu,\n",
	       (unsigned long long)j->time_elapsed_ms);
	fprintf(f, "  \"downtime\": %llu,\n", (unsigned long long)j->downtime_ms);
	fprintf(f, "  \"expected_downtime\": %llu,\n",
	       (unsigned long long)j->expected_downtime_ms);
	fprintf(f, "  \"setup_time\": %llu,\n", (unsigned long long)j->setup_ms);
	fprintf(f, "  \"data_total\": %llu,\n", (unsigned long long)j->data_total);
	fprintf(f, "  \"data_processed\": %llu,\n",
	       (unsigned long long)j->data_processed);
	fprintf(f, "  \"data_remaining\": %llu,\n",
	       (unsigned long long)j->data_remaining);
	fprintf(f, "  \"memory_total\": %llu,\n",
	       (unsigned long long)j->memory_total);
	fprintf(f, "  \"memory_processed\": %llu,\n",
	       (unsigned long long)j->memory_processed);
	fprintf(f, "  \"memory_remaining\": %llu,\n",
	       (unsigned long long)j->memory_remaining);
	fprintf(f, "  \"memory_constant\": %llu,\n",
	       (unsigned long long)j->memory_constant);
	fprintf(f, "  \"memory_normal\": %llu,\n",
	       (unsigned long long)j->memory_normal);
	fprintf(f, "  \"memory_normal_bytes\": %llu,\n",
	       (unsigned long long)j->memory_normal_bytes);
	fprintf(f, "  \"memory_bps\": %llu,\n", (unsigned long long)j->memory_bps);
	fprintf(f, "  \"memory_dirty_rate\": %llu,\n",
	       (unsigned long long)j->memory_dirty_rate);
	fprintf(f, "  \"memory_page_size\": %u,\n", MIG_PAGE);
	fprintf(f, "  \"memory_iteration\": %llu,\n",
	       (unsigned long long)j->memory_iteration);
	fprintf(f, "  \"auto_converge_throttle\": %llu,\n",
	       (unsigned long long)j->throttle);
	fprintf(f, "  \"device_bytes\": %llu,\n",
	       (unsigned long long)j->device_bytes);
	fprintf(f, "  \"channels\": %u,\n", j->channels);
	if (j->page_sum)
		fprintf(f, "  \"page_sum\": \"%s\",\n", j->page_sum);
	fprintf(f, "  \"tls\": \"%s\",\n", tls_creds(j));
	fprintf(f, "  \"tls_ktls_channels\": %u,\n", j->tls_ktls);
	fprintf(f, "  \"tls_relay_channels\": %u,\n", j->tls_relay);
	if (!source) {
		fprintf(f, "  \"resume_time_us\": %llu,\n",
		       (unsigned long long)j->resume_us);
		fprintf(f, "  \"memory_torn\": %llu,\n",
		       (unsigned long long)j->memory_torn);
	}
	if (j->postcopy) {
		json_num(f, "postcopy_discarded", j->pc_discarded);
		json_num(f, "postcopy_requests", j->pc_requests);
		json_num(f, "postcopy_pushed", j->pc_pushed);
		json_num(f, "postcopy_remaining", j->pc_remaining);
		json_num(f, "postcopy_urgent_bytes", j->pc_urgent_bytes);
		json_num(f, "postcopy_background_bytes", j->pc_background_bytes);
	}
	if (j->postcopy && source) {
		json_num(f, "postcopy_fault_requests", j->pc_faults);
		json_num(f, "postcopy_prefetched", j->pc_prefetched);
		json_num(f, "postcopy_request_wait_p50_us",
			 mig_lat_percentile(j->pc_wait_us, MIG_LAT_BUCKETS, 50));
		json_num(f, "postcopy_request_wait_p99_us",
			 mig_lat_percentile(j->pc_wait_us, MIG_LAT_BUCKETS, 99));
		json_num(f, "postcopy_answer_p50_us",
			 mig_lat_percentile(j->pc_answer_us, MIG_LAT_BUCKETS,
					    50));
		json_num(f, "postcopy_answer_p99_us",
			 mig_lat_percentile(j->pc_answer_us, MIG_LAT_BUCKETS,
					    99));
	}
	if (j->postcopy && !source) {
		json_num(f, "postcopy_stale", j->pc_stale);
		json_num(f, "postcopy_blocks_whole", j->pc_blocks);
		json_num(f, "postcopy_pages_staged", j->pc_staged);
		json_num(f, "postcopy_pages_copied", j->pc_copied);
		json_num(f, "postcopy_faults", j->pc_faults);
		json_num(f, "postcopy_load_faults", j->pc_load_faults);
		json_num(f, "postcopy_requests_before_run",
			 j->pc_requests_run);
		json_num(f, "postcopy_fault_latency_p50_us", j->pc_lat_p50_us);
		json_num(f, "postcopy_fault_latency_p99_us", j->pc_lat_p99_us);
		json_blocktime(f, &j->pc_bt);
	}
	fprintf(f, "  \"error\": \"");
	for (const char *p = j->error; *p; p++)
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if ((unsigned char)*p >= ' ')
			fputc(*p, f);
	fprintf(f, "\"\n}\n");
}

/*
 * Under kmigd (Documentation/kmigd.rst): the job info into
 * $KMIG_JOB_DIR/info.json, replaced whole, at most every 200 ms while the
 * job runs and at its end.
 */
void mig_job_publish(const struct mig_job *j, bool source)
{
	static uint64_t last_ns;
	const char *dir = getenv("KMIG_JOB_DIR");
	char tmp[4096], path[4096];
	uint64_t now = kmig_now_ns();
	FILE *f;

	if (!dir || (!strcmp(j->status, "active") &&
		     now - last_ns < 200000000ull))
		return;
	last_ns = now;
	snprintf(tmp, sizeof(tmp), "%s/info.json.tmp", dir);
	snprintf(path, sizeof(path), "%s/info.json", dir);
	f = fopen(tmp, "we");
	if (!f)
		return;
	json(f, j, source);
	if (fclose(f) || rename(tmp, path))
		unlink(tmp);
}

/* The summary's blocktime lines: every vCPU's, then the other threads'. */
static void summary_blocktime(const struct mig_bt_stats *bt)
{
	unsigned int i;

	printf("  blocktime: vCPUs %llu ms in all, all at once %llu ms; other threads %llu faults, %llu ms\n",
	       (unsigned long long)bt->vcpu_total_us / 1000,
	       (unsigned long long)bt->all_us / 1000,
	       (unsigned long long)bt->other_faults,
	       (unsigned long long)bt->other_us / 1000);
	for (i = 0; i < bt->nvcpus; i++)
		printf("    vCPU %u: %llu faults, blocked %llu ms\n", i,
		       (unsigned long long)bt->vcpu_faults[i],
		       (unsigned long long)bt->vcpu_us[i] / 1000);
}

void mig_report(const struct mig_opts *o, const struct mig_job *j,
		bool source)
{
	if (isatty(STDERR_FILENO) && (source || j->postcopy))
		fputc('\n', stderr);
	mig_job_publish(j, source);
	if (o->json) {
		json(stdout, j, source);
		fflush(stdout);
		return;
	}
	if (j->error[0])
		return;
	printf("kmig %s: %s in %llu ms, downtime %llu ms%s\n", o->cmd,
	       j->status, (unsigned long long)j->time_elapsed_ms,
	       (unsigned long long)j->downtime_ms,
	       source ? " (pause to destination resume)" :
	       " (source pause to resume here)");
	printf("  transferred %.1f MiB of %.1f MiB guest memory at %.1f MiB/s over %u channel%s%s%s\n",
	       mib(j->data_processed), mib(j->memory_total),
	       mib(j->memory_bps), j->channels, j->channels > 1 ? "s" : "",
	       j->page_sum ? ", page sums " : "",
	       j->page_sum ? j->page_sum : "");
	printf("  pages %llu, zero pages %llu, rounds %llu, device state %llu bytes, throttle %llu%%\n",
	       (unsigned long long)j->memory_normal,
	       (unsigned long long)j->memory_constant,
	       (unsigned long long)j->memory_iteration,
	       (unsigned long long)j->device_bytes,
	       (unsigned long long)j->throttle);
	if (!source && j->memory_torn)
		printf("  pages that arrived torn and came again: %llu\n",
		       (unsigned long long)j->memory_torn);
	if (j->postcopy)
		printf("  postcopy: %llu pages discarded, %llu requested%s, %llu pushed; urgent %.1f MiB, background %.1f MiB\n",
		       (unsigned long long)j->pc_discarded,
		       (unsigned long long)j->pc_requests,
		       source ? "" : " (stale pages and faults)",
		       (unsigned long long)j->pc_pushed,
		       mib(j->pc_urgent_bytes), mib(j->pc_background_bytes));
	if (j->postcopy && !source)
		summary_blocktime(&j->pc_bt);
	if (j->tls)
		printf("  TLS 1.3 (%s): kernel TLS on %u channel%s, relay on %u\n",
		       tls_creds(j), j->tls_ktls, j->tls_ktls == 1 ? "" : "s",
		       j->tls_relay);
	fflush(stdout);
}
