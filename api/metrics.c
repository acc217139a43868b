/*
 * metrics.c - GET /metrics in the Prometheus text format 0.0.4.
 *
 * The API counts its own requests (per method and status) and their
 * durations with relaxed atomics: a request adds to two counters and never
 * takes a lock. Build counts come from the store and the build figures
 * from the queue at the time of the scrape.
 */
#include <inttypes.h>
#include <stdio.h>

#include "api/internal.h"

static const unsigned codes[MG_METRICS_N_CODES] = {
    200, 201, 202, 204, 206, 304, 400, 401, 403, 404, 405,
    409, 412, 413, 414, 415, 416, 422, 429, 500, 503, 507,
};

/* Seconds; the last bucket (+Inf) is implicit. */
static const double buckets[MG_METRICS_N_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void mg_metrics_record(mg_api_metrics *m, mg_http_method method, unsigned status,
                       uint64_t duration_us)
{
    size_t c = MG_METRICS_N_CODES;
    for (size_t i = 0; i < MG_METRICS_N_CODES; i++)
        if (codes[i] == status) c = i;
    if ((unsigned)method >= MG_HTTP_N_METHODS) method = MG_HTTP_OTHER;
    atomic_fetch_add_explicit(&m->requests[method][c], 1, memory_order_relaxed);
    double s = (double)duration_us / 1e6;
    size_t b = 0;
    while (b < MG_METRICS_N_BUCKETS && s > buckets[b]) b++;
    atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, duration_us, memory_order_relaxed);
}

static void histogram(mg_buf *b, const char *name, const char *help, const double *bounds, size_t n,
                      const uint64_t *cumulative, double sum)
{
    mg_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < n; i++)
        mg_buf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], cumulative[i]);
    mg_buf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative[n]);
    mg_buf_printf(b, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, sum, name, cumulative[n]);
}

void mg_metrics_render(mg_api *a, mg_buf *b)
{
    int64_t counts[MG_STORED_N_STATUS] = {0};
    bool have_counts = mg_store_build_counts(a->o.store, counts, NULL) == 0;
    mg_buf_adds(b, "# HELP mgd_builds Builds in the database by status.\n"
                   "# TYPE mgd_builds gauge\n");
    for (int s = 0; s < MG_STORED_N_STATUS && have_counts; s++)
        mg_buf_printf(b, "mgd_builds{status=\"%s\"} %" PRId64 "\n",
                      mg_stored_status_name((mg_stored_status)s), counts[s]);
    /* no sample rather than a wrong 0 when the database could not say */
    mg_buf_adds(b, "# HELP mgd_queue_length Builds waiting for a worker.\n"
                   "# TYPE mgd_queue_length gauge\n");
    if (have_counts) mg_buf_printf(b, "mgd_queue_length %" PRId64 "\n", counts[MG_STORED_QUEUED]);

    mg_queue_metrics q = {0};
    mg_queue_metrics_get(a->o.queue, &q);
    mg_buf_printf(b,
                  "# HELP mgd_builds_running Builds a worker is running now.\n"
                  "# TYPE mgd_builds_running gauge\nmgd_builds_running %u\n"
                  "# HELP mgd_cache_hits_total Build actions answered from the cache.\n"
                  "# TYPE mgd_cache_hits_total counter\nmgd_cache_hits_total %" PRIu64 "\n"
                  "# HELP mgd_cache_misses_total Build actions that ran.\n"
                  "# TYPE mgd_cache_misses_total counter\nmgd_cache_misses_total %" PRIu64 "\n",
                  q.running, q.cache_hits, q.cache_misses);
    mg_buf_printf(
        b,
        "# HELP mgd_remote_cache_hits_total Build actions answered from the remote cache.\n"
        "# TYPE mgd_remote_cache_hits_total counter\nmgd_remote_cache_hits_total %" PRIu64 "\n"
        "# HELP mgd_remote_cache_misses_total Records the remote cache did not have.\n"
        "# TYPE mgd_remote_cache_misses_total counter\nmgd_remote_cache_misses_total %" PRIu64 "\n"
        "# HELP mgd_remote_cache_errors_total Failed remote cache requests, refused writes and "
        "bad entries.\n"
        "# TYPE mgd_remote_cache_errors_total counter\nmgd_remote_cache_errors_total %" PRIu64 "\n"
        "# HELP mgd_remote_cache_bytes_total Bytes to and from the remote cache.\n"
        "# TYPE mgd_remote_cache_bytes_total counter\n"
        "mgd_remote_cache_bytes_total{direction=\"down\"} %" PRIu64 "\n"
        "mgd_remote_cache_bytes_total{direction=\"up\"} %" PRIu64 "\n",
        q.remote_hits, q.remote_misses, q.remote_errors, q.remote_bytes_down, q.remote_bytes_up);
    mg_buf_printf(b,
                  "# HELP mgd_workers_connected Pull workers seen within the lease timeout.\n"
                  "# TYPE mgd_workers_connected gauge\nmgd_workers_connected %u\n"
                  "# HELP mgd_worker_leases_expired_total Builds of pull workers queued again "
                  "after their lease expired.\n"
                  "# TYPE mgd_worker_leases_expired_total counter\n"
                  "mgd_worker_leases_expired_total %" PRIu64 "\n"
                  "# HELP mgd_build_ends_pending Builds that ended whose end the database "
                  "refused (a full disk, an I/O error): tried again until it takes them.\n"
                  "# TYPE mgd_build_ends_pending gauge\nmgd_build_ends_pending %u\n",
                  q.workers_connected, q.leases_expired, q.ends_pending);
    mg_buf_printf(b,
                  "# HELP mgd_distcc_remote_total C compiles that ran on a distcc host.\n"
                  "# TYPE mgd_distcc_remote_total counter\nmgd_distcc_remote_total %" PRIu64 "\n"
                  "# HELP mgd_distcc_fallbacks_total Distributed compiles that distcc failed, "
                  "run again locally.\n"
                  "# TYPE mgd_distcc_fallbacks_total counter\nmgd_distcc_fallbacks_total %" PRIu64
                  "\n",
                  q.distcc_remote, q.distcc_fallbacks);
    mg_buf_printf(b,
                  "# HELP mgd_gc_runs_total Gc runs (periodic and POST /gc), and those that "
                  "failed part-way.\n"
                  "# TYPE mgd_gc_runs_total counter\n"
                  "mgd_gc_runs_total{result=\"ok\"} %" PRIu64 "\n"
                  "mgd_gc_runs_total{result=\"failed\"} %" PRIu64 "\n"
                  "# HELP mgd_gc_deleted_total What gc deleted, by kind.\n"
                  "# TYPE mgd_gc_deleted_total counter\n"
                  "mgd_gc_deleted_total{kind=\"builds\"} %" PRIu64 "\n"
                  "mgd_gc_deleted_total{kind=\"logs\"} %" PRIu64 "\n"
                  "mgd_gc_deleted_total{kind=\"blobs\"} %" PRIu64 "\n"
                  "mgd_gc_deleted_total{kind=\"mirrors\"} %" PRIu64 "\n"
                  "# HELP mgd_gc_freed_bytes_total Bytes gc freed (logs, blobs, mirrors).\n"
                  "# TYPE mgd_gc_freed_bytes_total counter\n"
                  "mgd_gc_freed_bytes_total %" PRIu64 "\n",
                  q.gc_runs - q.gc_failures, q.gc_failures, q.gc_builds_deleted, q.gc_logs_deleted,
                  q.gc_blobs_deleted, q.gc_mirrors_deleted, q.gc_bytes_freed);
    /* no sample before the first run: its time would read as 1970 */
    bool ran = q.gc_last_unix_ms > 0;
    mg_buf_adds(b, "# HELP mgd_gc_last_run_timestamp_seconds When the last gc ended.\n"
                   "# TYPE mgd_gc_last_run_timestamp_seconds gauge\n");
    if (ran)
        mg_buf_printf(b, "mgd_gc_last_run_timestamp_seconds %.3f\n",
                      (double)q.gc_last_unix_ms / 1e3);
    mg_buf_adds(b, "# HELP mgd_gc_last_run_duration_seconds How long the last gc took.\n"
                   "# TYPE mgd_gc_last_run_duration_seconds gauge\n");
    if (ran)
        mg_buf_printf(b, "mgd_gc_last_run_duration_seconds %.3f\n", (double)q.gc_last_ms / 1e3);
    histogram(b, "mgd_action_duration_seconds", "Time of the build actions that ran.",
              mg_queue_buckets, MG_QUEUE_N_BUCKETS, q.actions_bucket, q.actions_sum);
    histogram(b, "mgd_build_duration_seconds", "Time of finished builds.", mg_queue_buckets,
              MG_QUEUE_N_BUCKETS, q.builds_bucket, q.builds_sum);

    mg_buf_printf(b,
                  "# HELP mgd_log_streams Build logs being streamed as server-sent events.\n"
                  "# TYPE mgd_log_streams gauge\nmgd_log_streams %u\n"
                  "# HELP mgd_event_streams Streams of GET /events open.\n"
                  "# TYPE mgd_event_streams gauge\nmgd_event_streams %u\n",
                  mg_sse_hub_open(a->sse), mg_sse_hub_event_streams(a->sse));

    mg_api_metrics *m = &a->metrics;
    mg_buf_adds(b, "# HELP mgd_http_requests_total HTTP requests answered, by method and "
                   "status.\n# TYPE mgd_http_requests_total counter\n");
    bool any = false;
    for (int meth = 0; meth < MG_HTTP_N_METHODS; meth++)
        for (size_t c = 0; c <= MG_METRICS_N_CODES; c++) {
            uint64_t v = atomic_load_explicit(&m->requests[meth][c], memory_order_relaxed);
            if (!v) continue;
            any = true;
            char code[8];
            if (c < MG_METRICS_N_CODES)
                snprintf(code, sizeof code, "%u", codes[c]);
            else
                snprintf(code, sizeof code, "other");
            mg_buf_printf(b, "mgd_http_requests_total{method=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                          mg_http_method_name((mg_http_method)meth), code, v);
        }
    /* a family with no sample reads as missing to some scrapers */
    if (!any) mg_buf_adds(b, "mgd_http_requests_total{method=\"GET\",code=\"200\"} 0\n");
    uint64_t cumulative[MG_METRICS_N_BUCKETS + 1], total = 0;
    for (size_t i = 0; i <= MG_METRICS_N_BUCKETS; i++) {
        total += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        cumulative[i] = total;
    }
    double sum = (double)atomic_load_explicit(&m->sum_us, memory_order_relaxed) / 1e6;
    histogram(b, "mgd_http_request_duration_seconds",
              "Time from a request's headers to the end of its answer.", buckets,
              MG_METRICS_N_BUCKETS, cumulative, sum);
}
