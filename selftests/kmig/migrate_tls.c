// SPDX-License-Identifier: GPL-2.0
/*
 * Migration over TLS: with --tls-creds (mutual X.509) and with --tls-psk,
 * over 4 page channels, every connection runs kernel TLS on both sides
 * (the agents' job info, and the kernel's own count in /proc/net/tls_stat
 * of the test's network namespace), and the guest goes on at the
 * destination. A source that trusts another CA refuses the destination:
 * it fails at once naming the certificate, its guest keeps running; the
 * destination logs the refused connection, waits on, and times out.
 * Certificates are made per test by scripts/tls-certs.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "kvm.h"
#include "proc.h"

#define TEST_TIMEOUT	200

FIXTURE(tls) {
	struct vmm_proc a, b;
	char dir[96];
	char args[256];
};

FIXTURE_SETUP(tls)
{
	memset(&self->a, 0, sizeof(self->a));
	memset(&self->b, 0, sizeof(self->b));
	snprintf(self->dir, sizeof(self->dir), "/dev/shm/kmig-tls-%d",
		 getpid());
}

FIXTURE_TEARDOWN(tls)
{
	char cmd[160];

	vmm_stop(&self->a);
	vmm_stop(&self->b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

/* CAs a and b with their certificates, a mix, and a key file. */
static void make_creds(struct __test_metadata *_metadata,
		       FIXTURE_DATA(tls) *self)
{
	const char *project = getenv("KMIG_PROJECT") ?: ".";
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "set -e; %1$s/scripts/tls-certs.sh %2$s/a; %1$s/scripts/tls-certs.sh %2$s/b; "
		 "mkdir %2$s/wrong-ca; cp %2$s/b/ca-cert.pem %2$s/a/client-*.pem %2$s/wrong-ca/; "
		 "echo kmig:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef > %2$s/keys.psk",
		 project, self->dir);
	ASSERT_EQ(0, system(cmd)) TH_LOG("%s", cmd);
}

static void start_vmms(struct __test_metadata *_metadata,
		       FIXTURE_DATA(tls) *self)
{
	struct vmm_status st;

	vmm_startf(&self->a, vmm_sock("tls-a"), "/dev/null",
		   "--mem 16 --slots 2 --pattern random --rate 200");
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("tls-b"), "/dev/null",
		   "--mem 16 --slots 2 --incoming");
}

/* A counter of /proc/net/tls_stat in this network namespace. */
static long tls_stat(const char *name)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/net/tls_stat", "r");
	size_t len = strlen(name);

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ' ')
			v = strtol(line + len, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* A migration over 4 page channels with self->args; @creds: what both
 * agents' job info says of the credentials. */
static void migrate_over_tls(struct __test_metadata *_metadata,
			     FIXTURE_DATA(tls) *self, unsigned int port,
			     const char *creds)
{
	struct vmm_status st;
	struct agents r;
	char in[320], out[320];

	snprintf(in, sizeof(in), "--timeout 90 --json %s", self->args);
	/* under TCG, software AES: a generous downtime, to converge */
	snprintf(out, sizeof(out),
		 "--channels 4 --max-downtime 3000 --timeout 90 --json %s",
		 self->args);
	start_vmms(_metadata, self);
	run_agents(&self->a, &self->b, port, in, out, 120, &r);
	EXPECT_EQ(0, r.mig_ret) TH_LOG("kmig migrate: %s", r.mig_out);
	EXPECT_EQ(0, r.in_ret) TH_LOG("kmig incoming: %s", r.in_out);
	EXPECT_NE(NULL, strstr(r.mig_out, creds)) TH_LOG("%s", r.mig_out);
	EXPECT_NE(NULL, strstr(r.in_out, creds)) TH_LOG("%s", r.in_out);
	/* kernel TLS on all 5 connections, both ends, as the agents say */
	EXPECT_EQ(5, json_u64(r.mig_out, "tls_ktls_channels"));
	EXPECT_EQ(5, json_u64(r.in_out, "tls_ktls_channels"));
	EXPECT_EQ(0, json_u64(r.mig_out, "tls_relay_channels"));
	EXPECT_EQ(0, json_u64(r.in_out, "tls_relay_channels"));
	TH_LOG("over TLS: %llu ms, downtime %llu ms, %llu B/s",
	       (unsigned long long)json_u64(r.mig_out, "time_elapsed"),
	       (unsigned long long)json_u64(r.mig_out, "downtime"),
	       (unsigned long long)json_u64(r.mig_out, "memory_bps"));
	agents_free(&r);
	/* ... and as the kernel counts: 10 ends, sealing and opening */
	EXPECT_EQ(10, tls_stat("TlsTxSw"));
	EXPECT_EQ(10, tls_stat("TlsRxSw"));
	EXPECT_EQ(0, tls_stat("TlsDecryptError"));

	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("migrated", st.state);
	vmm_wait_counter(&self->b, st.counter, &st);
}

TEST_F_TIMEOUT(tls, x509_four_channels_run_kernel_tls, TEST_TIMEOUT)
{
	REQUIRE_BED();
	make_creds(_metadata, self);
	snprintf(self->args, sizeof(self->args), "--tls-creds %s/a",
		 self->dir);
	migrate_over_tls(_metadata, self, 24520, "\"tls\": \"x509\"");
}

TEST_F_TIMEOUT(tls, psk_four_channels_run_kernel_tls, TEST_TIMEOUT)
{
	REQUIRE_BED();
	make_creds(_metadata, self);
	snprintf(self->args, sizeof(self->args), "--tls-psk %s/keys.psk",
		 self->dir);
	migrate_over_tls(_metadata, self, 24521, "\"tls\": \"psk\"");
}

TEST_F_TIMEOUT(tls, source_with_another_ca_fails_cleanly, TEST_TIMEOUT)
{
	struct agents r;
	char in[160], out[160];

	REQUIRE_BED();
	make_creds(_metadata, self);
	snprintf(in, sizeof(in), "--timeout 8 --tls-creds %s/a", self->dir);
	snprintf(out, sizeof(out), "--channels 4 --timeout 60 --tls-creds %s/wrong-ca",
		 self->dir);
	start_vmms(_metadata, self);
	run_agents(&self->a, &self->b, 24522, in, out, 60, &r);
	EXPECT_EQ(1, r.mig_ret) TH_LOG("kmig migrate: %s", r.mig_out);
	EXPECT_NE(NULL, strstr(r.mig_out, "channel 0: TLS: the server's certificate is refused"))
		TH_LOG("%s", r.mig_out);
	EXPECT_NE(NULL, strstr(r.mig_out, "issuer is unknown"))
		TH_LOG("%s", r.mig_out);
	/* the destination saw a stranger, said so, and waited on */
	EXPECT_EQ(1, r.in_ret) TH_LOG("kmig incoming: %s", r.in_out);
	EXPECT_NE(NULL, strstr(r.in_out, "rejected a connection from 127.0.0.1:"))
		TH_LOG("%s", r.in_out);
	EXPECT_NE(NULL, strstr(r.in_out, "TLS: the client refused the handshake"))
		TH_LOG("%s", r.in_out);
	EXPECT_NE(NULL, strstr(r.in_out, "no connection from the source within 8 s"))
		TH_LOG("%s", r.in_out);
	agents_free(&r);

	vmm_expect_stayed(&self->a, &self->b);
}

TEST_HARNESS_MAIN
