/* test_jobs.c — durable jobs in the store: a job and its hold commit
 * together or not at all; claims lease each job to one runner (two
 * connections racing, as two processes would); a lease that passes lets
 * another runner take the job over and the old runner can no longer end
 * it; an end settles the hold once; a queued job canceled releases its
 * hold, a running one is marked for its runner; the start's sweep of
 * stale holds leaves jobs' holds alone; a backlog of batches is claimed
 * oldest batch first, each within its max_concurrency, with its kept
 * counts true through claims, ends, requeues, cancels and take-overs. */
#include "store/jobs.h"
#include "store/ledger.h"
#include "store/store.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char path[96];
static struct ig_store *s;

static void setup(void)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/igjobsXXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/test.db", dir);
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    struct ig_account_record a;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "acct_a");
    snprintf(a.tier, sizeof a.tier, "managed");
    a.metered = 1;
    cr_assert_eq(ig_account_create(s, &a, 10000, NULL, 1000), 0);
}

static void teardown(void)
{
    ig_store_close(s);
}

TestSuite(jobs, .init = setup, .fini = teardown, .timeout = 60);

static int64_t balance(void)
{
    struct ig_account_record a;
    cr_assert_eq(ig_store_account_find(s, "acct_a", &a), 0);
    return a.balance;
}

/* Submits job id with a hold of amount (0: none): the submission's rc. */
static int submit(const char *id, int64_t amount, int64_t created_ms)
{
    struct ig_job_record j;
    memset(&j, 0, sizeof j);
    snprintf(j.id, sizeof j.id, "%s", id);
    snprintf(j.account_id, sizeof j.account_id, "acct_a");
    snprintf(j.key_id, sizeof j.key_id, "key_a");
    j.request = (char *)"{\"prompt\":\"x\"}";
    j.created_ms = created_ms;
    struct ig_hold_request r;
    memset(&r, 0, sizeof r);
    if (amount) {
        snprintf(r.hold.id, sizeof r.hold.id, "hold_%s", id);
        snprintf(r.hold.account_id, sizeof r.hold.account_id, "acct_a");
        r.hold.amount = amount;
        r.hold.created_ms = created_ms;
        snprintf(j.hold_id, sizeof j.hold_id, "hold_%s", id);
        j.held = amount;
    }
    return ig_job_submit(s, &j, &r);
}

struct got {
    char ids[64][IG_ID_MAX];
    int n;
    int attempts[64];
};

static int got_cb(const struct ig_job_record *j, void *ud)
{
    struct got *g = ud;
    cr_assert_eq(strcmp(j->status, "running"), 0);
    snprintf(g->ids[g->n], IG_ID_MAX, "%s", j->id);
    g->attempts[g->n++] = j->attempts;
    return 0;
}

static struct ig_job_record find(const char *id)
{
    struct ig_job_record j;
    cr_assert_eq(ig_store_job_find(s, "acct_a", id, &j), 0);
    return j;
}

struct end_args {
    const char *id, *owner, *status;
    int64_t charge;
};

static int end_body(struct ig_store_tx *tx, void *ud)
{
    struct end_args *a = ud;
    return ig_job_end_tx(tx, a->id, a->owner, a->status, "gen_1", NULL, a->charge, NULL, 9000,
                         NULL);
}

static int end(const char *id, const char *owner, const char *status, int64_t charge)
{
    struct end_args a = {id, owner, status, charge};
    return ig_store_transact(s, end_body, &a);
}

Test(jobs, a_job_and_its_hold_commit_together)
{
    cr_assert_eq(submit("j1", 4000, 100), 0);
    cr_assert_eq(balance(), 6000);
    /* More than the balance: refused, and neither the job nor a hold is written. */
    cr_assert_eq(submit("j2", 7000, 101), IG_EFUNDS);
    cr_assert_eq(ig_store_job_find(s, "acct_a", "j2", &(struct ig_job_record){0}), IG_ENOTFOUND);
    cr_assert_eq(balance(), 6000);
    /* A taken id: refused, and the hold rolled back with it. */
    cr_assert_eq(submit("j1", 1000, 102), IG_EEXISTS);
    cr_assert_eq(balance(), 6000);
    struct ig_job_record j = find("j1");
    cr_assert_str_eq(j.status, "queued");
    cr_assert_eq(j.held, 4000);
    ig_job_record_release(&j);
    /* Another account cannot see it. */
    cr_assert_eq(ig_store_job_find(s, "acct_b", "j1", &j), IG_ENOTFOUND);
}

Test(jobs, claims_lease_and_take_over)
{
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof id, "j%d", i);
        cr_assert_eq(submit(id, 1000, 100 + i), 0);
    }
    struct got a = {0}, b = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_a", 1000, 5000, 3, got_cb, &a), 0);
    cr_assert_eq(a.n, 3);
    cr_assert_str_eq(a.ids[0], "j0", "oldest first");
    cr_assert_eq(a.attempts[0], 1);
    cr_assert_eq(ig_store_job_claim(s, "run_b", 1000, 5000, 10, got_cb, &b), 0);
    cr_assert_eq(b.n, 2, "the rest, none twice");
    cr_assert_str_eq(b.ids[0], "j3");
    /* Renewed leases hold; run_b's lapse at 6000 and run_a takes them over. */
    cr_assert_eq(ig_store_job_renew(s, "run_a", 20000, NULL, NULL), 0);
    struct got c = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_a", 7000, 5000, 10, got_cb, &c), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.attempts[0], 2, "a take-over is another attempt");
    /* The old runner can no longer end what it lost, nor keep its upstream job. */
    cr_assert_eq(end("j3", "run_b", "succeeded", 1000), IG_ENOTFOUND);
    cr_assert_eq(ig_store_job_set_upstream(s, "j3", "run_b", "{}"), IG_ENOTFOUND);
    cr_assert_eq(ig_store_job_set_upstream(s, "j3", "run_a", "{\"poll_url\":\"u\"}"), 0);
    struct ig_job_record j = find("j3");
    cr_assert_str_eq(j.status, "running");
    cr_assert_str_eq(j.lease_owner, "run_a");
    cr_assert_str_eq(j.upstream, "{\"poll_url\":\"u\"}");
    ig_job_record_release(&j);
    /* The owner ends it once: charged what was delivered, its hold released. */
    int64_t before = balance();
    cr_assert_eq(end("j3", "run_a", "succeeded", 700), 0);
    cr_assert_eq(balance(), before + 1000 - 700);
    cr_assert_eq(end("j3", "run_a", "succeeded", 700), IG_ENOTFOUND, "an end is once");
    cr_assert_eq(balance(), before + 300);
    j = find("j3");
    cr_assert_str_eq(j.status, "succeeded");
    cr_assert_str_eq(j.generation_id, "gen_1");
    cr_assert_gt(j.finished_ms, 0);
    ig_job_record_release(&j);
    /* Nothing queued is left to claim. */
    struct got d = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_c", 7000, 5000, 10, got_cb, &d), 0);
    cr_assert_eq(d.n, 0);
}

Test(jobs, requeue_and_cancel)
{
    cr_assert_eq(submit("q1", 2000, 100), 0);
    cr_assert_eq(submit("r1", 3000, 101), 0);
    cr_assert_eq(balance(), 5000);
    struct got a = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_a", 1000, 5000, 1, got_cb, &a), 0);
    cr_assert_str_eq(a.ids[0], "q1");
    /* Put back (it could not start): queued again, its hold kept. */
    cr_assert_eq(end("q1", "run_a", "queued", 0), 0);
    struct ig_job_record j = find("q1");
    cr_assert_str_eq(j.status, "queued");
    cr_assert_eq(j.finished_ms, 0);
    ig_job_record_release(&j);
    cr_assert_eq(balance(), 5000);

    /* Cancel a queued job: canceled now, its hold released. */
    enum ig_job_cancel_result res;
    cr_assert_eq(ig_job_cancel(s, "acct_a", "q1", 2000, "{\"kind\":\"canceled\"}", NULL, &res, &j),
                 0);
    cr_assert_eq(res, IG_JOB_CANCELED);
    cr_assert_str_eq(j.status, "canceled");
    cr_assert_str_eq(j.error, "{\"kind\":\"canceled\"}");
    ig_job_record_release(&j);
    cr_assert_eq(balance(), 7000);
    /* Another account's job is not found; an ended one stays as it is. */
    cr_assert_eq(ig_job_cancel(s, "acct_b", "r1", 2000, NULL, NULL, &res, &j), IG_ENOTFOUND);
    cr_assert_eq(ig_job_cancel(s, "acct_a", "q1", 2000, NULL, NULL, &res, &j), 0);
    cr_assert_eq(res, IG_JOB_FINISHED);
    ig_job_record_release(&j);

    /* Cancel a running job: marked, and its runner learns it at renewal. */
    struct got b = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_a", 3000, 5000, 5, got_cb, &b), 0);
    cr_assert_eq(b.n, 1);
    cr_assert_eq(ig_job_cancel(s, "acct_a", "r1", 3100, NULL, NULL, &res, &j), 0);
    cr_assert_eq(res, IG_JOB_CANCELING);
    cr_assert_eq(j.cancel_requested, 1);
    ig_job_record_release(&j);
    cr_assert_eq(ig_store_job_renew(s, "run_a", 9000, NULL, NULL), 0,
                 "a renewal that asks nothing");
    j = find("r1");
    cr_assert_eq(j.lease_expires_ms, 9000);
    ig_job_record_release(&j);
}

static int asked_cb(const char *id, void *ud)
{
    struct got *g = ud;
    snprintf(g->ids[g->n++], IG_ID_MAX, "%s", id);
    return 0;
}

Test(jobs, renewal_names_the_jobs_to_cancel)
{
    cr_assert_eq(submit("a", 0, 100), 0);
    cr_assert_eq(submit("b", 0, 101), 0);
    struct got g = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_a", 1000, 5000, 5, got_cb, &g), 0);
    enum ig_job_cancel_result res;
    struct ig_job_record j;
    cr_assert_eq(ig_job_cancel(s, "acct_a", "b", 1100, NULL, NULL, &res, &j), 0);
    ig_job_record_release(&j);
    struct got asked = {0};
    cr_assert_eq(ig_store_job_renew(s, "run_a", 9000, asked_cb, &asked), 0);
    cr_assert_eq(asked.n, 1);
    cr_assert_str_eq(asked.ids[0], "b");
    /* The runner ends it canceled; nothing was held, nothing charged. */
    cr_assert_eq(end("b", "run_a", "canceled", 0), 0);
    cr_assert_eq(balance(), 10000);
}

Test(jobs, stale_hold_sweep_spares_jobs)
{
    cr_assert_eq(submit("j1", 2500, 100), 0);
    struct ig_hold_record h;
    memset(&h, 0, sizeof h);
    snprintf(h.id, sizeof h.id, "hold_sync");
    snprintf(h.account_id, sizeof h.account_id, "acct_a");
    h.amount = 500;
    h.created_ms = 100;
    cr_assert_eq(ig_ledger_hold(s, &h, NULL), 0);
    cr_assert_eq(balance(), 7000);
    int released = 0;
    cr_assert_eq(ig_ledger_release_stale(s, 100000, &released), 0);
    cr_assert_eq(released, 1, "only the hold that is not a job's");
    cr_assert_eq(balance(), 7500);
}

Test(jobs, a_batch_runs_at_most_its_max_concurrency)
{
    struct ig_batch_record b = {.max_concurrency = 2, .total = 5, .created_ms = 100};
    snprintf(b.id, sizeof b.id, "batch_1");
    snprintf(b.account_id, sizeof b.account_id, "acct_a");
    cr_assert_eq(ig_store_batch_insert(s, &b), 0);
    for (int i = 0; i < 5; i++) {
        struct ig_job_record j;
        memset(&j, 0, sizeof j);
        snprintf(j.id, sizeof j.id, "b%d", i);
        snprintf(j.account_id, sizeof j.account_id, "acct_a");
        snprintf(j.key_id, sizeof j.key_id, "key_a");
        snprintf(j.batch_id, sizeof j.batch_id, "batch_1");
        j.batch_index = 4 - i; /* claimed in the batch's order, not the rows' */
        j.request = (char *)"{}";
        j.created_ms = 100 + i;
        cr_assert_eq(ig_job_submit(s, &j, NULL), 0);
    }
    cr_assert_eq(submit("solo", 0, 200), 0);
    struct got a = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_a", 1000, 5000, 10, got_cb, &a), 0);
    cr_assert_eq(a.n, 3, "two of the batch and the job outside it");
    int batch = 0;
    for (int i = 0; i < a.n; i++) {
        batch += a.ids[i][0] == 'b';
        cr_assert(strcmp(a.ids[i], "b4") == 0 || strcmp(a.ids[i], "b3") == 0 ||
                      strcmp(a.ids[i], "solo") == 0,
                  "%s", a.ids[i]);
    }
    cr_assert_eq(batch, 2);
    struct got none = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_b", 1000, 5000, 10, got_cb, &none), 0);
    cr_assert_eq(none.n, 0, "full until one ends");
    cr_assert_eq(end("b4", "run_a", "succeeded", 0), 0);
    struct got one = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_b", 1000, 5000, 10, got_cb, &one), 0);
    cr_assert_eq(one.n, 1);
    cr_assert_str_eq(one.ids[0], "b2");
    struct ig_batch_record found;
    cr_assert_eq(ig_store_batch_set_rejected(s, "batch_1", "[{\"index\":9}]"), 0);
    cr_assert_eq(ig_store_batch_find(s, "acct_a", "batch_1", &found), 0);
    cr_assert_str_eq(found.rejected, "[{\"index\":9}]");
    cr_assert_eq(found.max_concurrency, 2);
    free(found.rejected);
    cr_assert_eq(ig_store_batch_find(s, "acct_b", "batch_1", &found), IG_ENOTFOUND);
}

static int count_cb(const struct ig_job_record *j, void *ud)
{
    cr_assert_str_eq(j->status, "running");
    ++*(int *)ud;
    return 0;
}

/* Batch b (created at created_ms, max_concurrency mc) with n queued jobs
 * "<b>_<i>", batch_index i. */
static void batch_with_jobs(const char *b, int64_t created_ms, int mc, int n)
{
    struct ig_batch_record rec = {.max_concurrency = mc, .total = n, .created_ms = created_ms};
    snprintf(rec.id, sizeof rec.id, "%s", b);
    snprintf(rec.account_id, sizeof rec.account_id, "acct_a");
    cr_assert_eq(ig_store_batch_insert(s, &rec), 0);
    for (int i = 0; i < n; i++) {
        struct ig_job_record j;
        memset(&j, 0, sizeof j);
        snprintf(j.id, sizeof j.id, "%s_%d", b, i);
        snprintf(j.account_id, sizeof j.account_id, "acct_a");
        snprintf(j.key_id, sizeof j.key_id, "key_a");
        snprintf(j.batch_id, sizeof j.batch_id, "%s", b);
        j.batch_index = i;
        j.request = (char *)"{}";
        j.created_ms = created_ms;
        cr_assert_eq(ig_job_submit(s, &j, NULL), 0);
    }
}

/* Every batch's kept counts equal its jobs' statuses (read on a
 * connection of the test's own). */
static void assert_batch_counts_true(void)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT count(*) FROM batches b WHERE queued <> (SELECT "
                                    "count(*) FROM jobs WHERE batch_id = b.id AND status = "
                                    "'queued') OR running <> (SELECT count(*) FROM jobs WHERE "
                                    "batch_id = b.id AND status = 'running')",
                                    -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 0, "a batch's counts differ from its jobs");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(jobs, a_backlog_of_batches_is_claimed_oldest_first_each_within_its_limit)
{
    /* More batches than a claim takes: the oldest ones give their first
     * job each (max_concurrency 1), never a second while one runs. */
    char b[32];
    for (int i = 0; i < 100; i++) {
        snprintf(b, sizeof b, "bt%03d", i);
        batch_with_jobs(b, 1000 + i, 1, 3);
    }
    assert_batch_counts_true();
    struct got a = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_a", 5000, 5000, 64, got_cb, &a), 0);
    cr_assert_eq(a.n, 64);
    for (int i = 0; i < a.n; i++) {
        int batch = -1, index = -1;
        cr_assert_eq(sscanf(a.ids[i], "bt%d_%d", &batch, &index), 2, "%s", a.ids[i]);
        cr_assert_lt(batch, 64, "%s: not among the oldest batches", a.ids[i]);
        cr_assert_eq(index, 0, "%s: not its batch's first", a.ids[i]);
    }
    assert_batch_counts_true();
    /* The rest: the other 36 batches' first jobs, nothing of the full ones. */
    struct got rest = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_b", 5000, 5000, 64, got_cb, &rest), 0);
    cr_assert_eq(rest.n, 36);
    struct got none = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_b", 5000, 5000, 64, got_cb, &none), 0);
    cr_assert_eq(none.n, 0, "every batch has its one job running");
    /* An end, a requeue and a cancel of a queued job move the counts. */
    cr_assert_eq(end("bt000_0", "run_a", "succeeded", 0), 0);
    cr_assert_eq(end("bt001_0", "run_a", "queued", 0), 0);
    enum ig_job_cancel_result res;
    struct ig_job_record j;
    cr_assert_eq(ig_job_cancel(s, "acct_a", "bt002_1", 6000, "{}", NULL, &res, &j), 0);
    cr_assert_eq(res, IG_JOB_CANCELED);
    ig_job_record_release(&j);
    assert_batch_counts_true();
    struct got next = {0};
    cr_assert_eq(ig_store_job_claim(s, "run_c", 6000, 5000, 64, got_cb, &next), 0);
    cr_assert_eq(next.n, 2, "bt000's next and bt001's requeued first");
    int saw0 = 0, saw1 = 0;
    for (int i = 0; i < next.n; i++) {
        saw0 |= strcmp(next.ids[i], "bt000_1") == 0;
        saw1 |= strcmp(next.ids[i], "bt001_0") == 0;
    }
    cr_assert(saw0 && saw1, "%s %s", next.ids[0], next.ids[1]);
    /* A lease that passes is taken over: still one running, not two. */
    int over = 0;
    cr_assert_eq(ig_store_job_claim(s, "run_d", 20000, 5000, 200, count_cb, &over), 0);
    cr_assert_eq(over, 100, "every running job taken over, no queued one added");
    assert_batch_counts_true();
}

struct racer {
    char owner[16];
    struct got got;
};

static void *race(void *p)
{
    struct racer *r = p;
    struct ig_store *mine;
    cr_assert_eq(ig_store_open_sqlite(&mine, path), 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(ig_store_job_claim(mine, r->owner, 1000, 5000, 2, got_cb, &r->got), 0);
    ig_store_close(mine);
    return NULL;
}

Test(jobs, two_processes_never_claim_the_same_job)
{
    for (int i = 0; i < 40; i++) {
        char id[8];
        snprintf(id, sizeof id, "j%02d", i);
        cr_assert_eq(submit(id, 0, 100 + i), 0);
    }
    struct racer r[2] = {{.owner = "run_a"}, {.owner = "run_b"}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, race, &r[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(r[0].got.n + r[1].got.n, 40);
    for (int i = 0; i < r[0].got.n; i++)
        for (int k = 0; k < r[1].got.n; k++)
            cr_assert_neq(strcmp(r[0].got.ids[i], r[1].got.ids[k]), 0);
}
