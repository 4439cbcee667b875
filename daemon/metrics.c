/*
 * Counters for /metrics, kept on the event loop's thread only (no locks).
 * The Prometheus text format: deliveries by source and result, HTTP requests
 * by status, a request duration histogram, deployments by target and state
 * (from the store), queue depth and running deployments, drifted releases found.
 */
#include "gitgated.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct counter counter;
struct counter {
	counter *next;
	char *a, *b; /* label values */
	uint64_t n;
};

static uint64_t tls_handshake_failures;
static counter *deliveries;
static counter *requests;
static counter *drifts; /* by target */
/* Reports by target and destination, one list per result. */
static const char *const report_results[] = {"sent", "failed", "dropped"};
static counter *reports[GG_ARRAY_LEN(report_results)];

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
static uint64_t bucket_counts[GG_ARRAY_LEN(buckets)];
static uint64_t duration_count;
static double duration_sum;

static void bump(counter **list, const char *a, const char *b)
{
	for (counter *c = *list; c; c = c->next) {
		if (strcmp(c->a, a) == 0 && strcmp(c->b, b) == 0) {
			c->n++;
			return;
		}
	}
	counter *c = gg_calloc(1, sizeof(*c));
	c->a = gg_strdup(a);
	c->b = gg_strdup(b);
	c->n = 1;
	c->next = *list;
	*list = c;
}

void gg_metrics_delivery(const char *source, const char *result)
{
	bump(&deliveries, source, result);
}

void gg_metrics_drift(const char *target)
{
	bump(&drifts, target, "");
}

void gg_metrics_report(const char *target, const char *dest, const char *result)
{
	for (size_t i = 0; i < GG_ARRAY_LEN(report_results); i++)
		if (!strcmp(result, report_results[i]))
			bump(&reports[i], target, dest);
}

void gg_metrics_tls_handshake_failure(void)
{
	tls_handshake_failures++;
}

void gg_metrics_request(int status, uint64_t duration_us)
{
	char code[16];
	snprintf(code, sizeof(code), "%d", status);
	bump(&requests, code, "");
	double s = (double)duration_us / 1e6;
	for (size_t i = 0; i < GG_ARRAY_LEN(buckets); i++)
		if (s <= buckets[i])
			bucket_counts[i]++;
	duration_count++;
	duration_sum += s;
}

/* Label values are names from the config (restricted) or fixed words, but escape anyway. */
static void put_label(gg_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			gg_buf_putc(b, '\\');
		if (*v == '\n') {
			gg_buf_puts(b, "\\n");
			continue;
		}
		gg_buf_putc(b, *v);
	}
}

static void put_dep_count(void *arg, const char *target, gg_dep_state st, uint64_t n)
{
	gg_buf *b = arg;
	gg_buf_puts(b, "gitgated_deployments{target=\"");
	put_label(b, target);
	gg_buf_printf(b, "\",state=\"%s\"} %llu\n", gg_dep_state_name(st), (unsigned long long)n);
}

typedef struct {
	uint64_t queued;
} depth;

static void count_queued(void *arg, const char *target, gg_dep_state st, uint64_t n)
{
	(void)target;
	if (st == GG_DEP_QUEUED)
		((depth *)arg)->queued += n;
}

void gg_metrics_render(gg_buf *b, gg_daemon *d)
{
	gg_buf_puts(b, "# HELP gitgated_deliveries_total Webhook deliveries by source and "
	               "result.\n# TYPE gitgated_deliveries_total counter\n");
	for (counter *c = deliveries; c; c = c->next) {
		gg_buf_puts(b, "gitgated_deliveries_total{source=\"");
		put_label(b, c->a);
		gg_buf_printf(b, "\",result=\"%s\"} %llu\n", c->b, (unsigned long long)c->n);
	}
	gg_buf_puts(b, "# HELP gitgated_http_requests_total HTTP requests answered, by status.\n"
	               "# TYPE gitgated_http_requests_total counter\n");
	for (counter *c = requests; c; c = c->next)
		gg_buf_printf(b, "gitgated_http_requests_total{code=\"%s\"} %llu\n", c->a,
		              (unsigned long long)c->n);
	gg_buf_puts(b, "# HELP gitgated_http_request_duration_seconds Time from a complete "
	               "request head to its answer.\n"
	               "# TYPE gitgated_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < GG_ARRAY_LEN(buckets); i++)
		gg_buf_printf(b, "gitgated_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
		              buckets[i], (unsigned long long)bucket_counts[i]);
	gg_buf_printf(b,
	              "gitgated_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	              "gitgated_http_request_duration_seconds_sum %.6f\n"
	              "gitgated_http_request_duration_seconds_count %llu\n",
	              (unsigned long long)duration_count, duration_sum,
	              (unsigned long long)duration_count);
	gg_buf_puts(b, "# HELP gitgated_deployments Deployments in the store by target and state.\n"
	               "# TYPE gitgated_deployments gauge\n");
	gg_store_count_by_state(d->store, put_dep_count, b);
	depth q = {0};
	gg_store_count_by_state(d->store, count_queued, &q);
	gg_buf_printf(b,
	              "# HELP gitgated_queue_depth Deployments queued and not started.\n"
	              "# TYPE gitgated_queue_depth gauge\ngitgated_queue_depth %llu\n",
	              (unsigned long long)q.queued);
	gg_buf_printf(
	    b,
	    "# HELP gitgated_deployments_running Deployments running now.\n"
	    "# TYPE gitgated_deployments_running gauge\ngitgated_deployments_running %zu\n",
	    d->dispatch ? gg_dispatch_running(d->dispatch) : (size_t)0);
	gg_buf_printf(
	    b,
	    "# HELP gitgated_claims_lost_total Claims refused: the target ran on another "
	    "replica, the deployment had left the queue, or it proved a replay.\n"
	    "# TYPE gitgated_claims_lost_total counter\ngitgated_claims_lost_total %llu\n",
	    (unsigned long long)(d->dispatch ? gg_dispatch_claims_lost(d->dispatch) : 0));
	gg_buf_printf(b,
	              "# HELP gitgated_store_pending_writes Writes waiting for the disk.\n"
	              "# TYPE gitgated_store_pending_writes gauge\n"
	              "gitgated_store_pending_writes %zu\n",
	              gg_store_pending(d->store));
	uint64_t commits = 0, writes = 0;
	gg_store_commit_stats(d->store, &commits, &writes);
	gg_buf_printf(
	    b,
	    "# HELP gitgated_store_commits_total Transactions committed (one fsync each).\n"
	    "# TYPE gitgated_store_commits_total counter\n"
	    "gitgated_store_commits_total %llu\n"
	    "# HELP gitgated_store_writes_total Writes committed; over commits: the group "
	    "size.\n"
	    "# TYPE gitgated_store_writes_total counter\n"
	    "gitgated_store_writes_total %llu\n",
	    (unsigned long long)commits, (unsigned long long)writes);
	gg_buf_puts(b, "# HELP gitgated_drift_total Drifted releases found on checkout targets.\n"
	               "# TYPE gitgated_drift_total counter\n");
	for (counter *c = drifts; c; c = c->next) {
		gg_buf_puts(b, "gitgated_drift_total{target=\"");
		put_label(b, c->a);
		gg_buf_printf(b, "\"} %llu\n", (unsigned long long)c->n);
	}
	gg_buf_puts(b, "# HELP gitgated_reports_total Reports to forges and people, by target, "
	               "destination and result (sent, failed attempts, dropped).\n"
	               "# TYPE gitgated_reports_total counter\n");
	for (size_t i = 0; i < GG_ARRAY_LEN(report_results); i++) {
		for (counter *c = reports[i]; c; c = c->next) {
			gg_buf_puts(b, "gitgated_reports_total{target=\"");
			put_label(b, c->a);
			gg_buf_puts(b, "\",destination=\"");
			put_label(b, c->b);
			gg_buf_printf(b, "\",result=\"%s\"} %llu\n", report_results[i],
			              (unsigned long long)c->n);
		}
	}
	gg_buf_printf(b,
	              "# HELP gitgated_tls_handshake_failures_total TLS handshakes that failed "
	              "or did not finish in time.\n"
	              "# TYPE gitgated_tls_handshake_failures_total counter\n"
	              "gitgated_tls_handshake_failures_total %llu\n",
	              (unsigned long long)tls_handshake_failures);
	gg_buf_puts(b, "# HELP gitgated_replica_info The replica this daemon is among those "
	               "sharing its store.\n"
	               "# TYPE gitgated_replica_info gauge\ngitgated_replica_info{replica=\"");
	put_label(b, d->cfg->replica);
	gg_buf_puts(b, "\"} 1\n");
	gg_buf_printf(b,
	              "# HELP gitgated_connections Open client connections.\n"
	              "# TYPE gitgated_connections gauge\ngitgated_connections %zu\n",
	              d->server ? gg_server_connections(d->server) : (size_t)0);
}

static void free_list(counter *c)
{
	while (c) {
		counter *n = c->next;
		free(c->a);
		free(c->b);
		free(c);
		c = n;
	}
}

void gg_metrics_free(void)
{
	free_list(deliveries);
	free_list(requests);
	free_list(drifts);
	deliveries = requests = drifts = NULL;
	for (size_t i = 0; i < GG_ARRAY_LEN(report_results); i++) {
		free_list(reports[i]);
		reports[i] = NULL;
	}
}
