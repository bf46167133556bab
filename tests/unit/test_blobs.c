#include "store/blobs.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char root[64];

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/igblobXXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

TestSuite(blobs, .init = setup);

Test(blobs, stored_once_by_hash_and_read_back)
{
    struct ig_blobs b;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/blobs", root);
    cr_assert_eq(ig_blobs_init(&b, dir), 0);
    char sha[65], sha2[65];
    int created;
    cr_assert_eq(ig_blobs_put(&b, "abc", 3, sha, &created), 0);
    cr_assert_eq(created, 1);
    cr_assert_str_eq(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(ig_blobs_put(&b, "abc", 3, sha2, &created), 0);
    cr_assert_eq(created, 0, "identical bytes are stored once");
    char path[256];
    snprintf(path, sizeof path, "%s/ba/78/%s", dir, sha);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    struct ig_buf out;
    cr_assert_eq(ig_blobs_read(&b, sha, 100, &out), 0);
    cr_assert_eq(out.len, 3);
    cr_assert_eq(memcmp(out.data, "abc", 3), 0);
    ig_buf_release(&out);
    cr_assert_eq(ig_blobs_read(&b, sha, 2, &out), IG_ETOOBIG);
    /* Nothing left behind in tmp/. */
    snprintf(path, sizeof path, "%s/tmp", dir);
    DIR *d = opendir(path);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(entries, 0);
}

Test(blobs, names_are_checked)
{
    struct ig_blobs b;
    cr_assert_eq(ig_blobs_init(&b, root), 0);
    struct ig_buf out;
    cr_assert_eq(ig_blobs_read(&b, "../../etc/passwd", 100, &out), IG_EINVAL);
    cr_assert_eq(ig_blobs_read(&b,
                               "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
                               100, &out),
                 IG_EINVAL);
    cr_assert_eq(ig_blobs_read(&b,
                               "0000000000000000000000000000000000000000000000000000000000000000",
                               100, &out),
                 IG_ENOTFOUND);
}
