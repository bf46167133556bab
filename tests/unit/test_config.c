#include "config.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/igcfgXXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(config, defaults)
{
    struct ig_config c;
    cr_assert_eq(ig_config_init(&c), 0);
    cr_assert_str_eq(c.listen, "127.0.0.1:8080");
    cr_assert_eq(c.max_header_bytes, 16384);
    cr_assert_eq(c.max_body_bytes, 1048576);
    cr_assert_eq(c.url_ttl_s, 3600);
    cr_assert_eq(c.access_log, 1);
    cr_assert_eq(c.log_prompts, 0);
    ig_config_release(&c);
}

Test(config, nested_yaml_sets_dotted_names)
{
    struct ig_config c;
    char err[256];
    ig_config_init(&c);
    char *p = write_tmp("listen: 0.0.0.0:9000\nlimits:\n  max_body_bytes: 2048\n"
                        "  idle_timeout_ms: 500\nlog:\n  access: off\n");
    cr_assert_eq(ig_config_load_file(&c, p, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c.listen, "0.0.0.0:9000");
    cr_assert_eq(c.max_body_bytes, 2048);
    cr_assert_eq(c.idle_timeout_ms, 500);
    cr_assert_eq(c.access_log, 0);
    unlink(p);
    ig_config_release(&c);
}

Test(config, rejects_unknown_out_of_range_and_lists)
{
    struct ig_config c;
    char err[256];
    ig_config_init(&c);
    char *p = write_tmp("limits:\n  max_bodee: 1\n");
    cr_assert_eq(ig_config_load_file(&c, p, err, sizeof err), IG_ECONFIG);
    cr_assert(strstr(err, "limits.max_bodee"), "%s", err);
    unlink(p);
    p = write_tmp("limits:\n  max_body_bytes: 10\n");
    cr_assert_eq(ig_config_load_file(&c, p, err, sizeof err), IG_ECONFIG);
    cr_assert(strstr(err, "1024"), "%s", err);
    unlink(p);
    p = write_tmp("workers: [1, 2]\n");
    cr_assert_eq(ig_config_load_file(&c, p, err, sizeof err), IG_ECONFIG);
    unlink(p);
    p = write_tmp("workers: : :\n");
    cr_assert_eq(ig_config_load_file(&c, p, err, sizeof err), IG_ECONFIG);
    unlink(p);
    cr_assert_eq(ig_config_set(&c, "log.access", "maybe", err, sizeof err), IG_ECONFIG);
    cr_assert_eq(ig_config_set(&c, "log.level", "loud", err, sizeof err), IG_ECONFIG);
    cr_assert_eq(c.max_body_bytes, 1048576, "failed loads leave earlier values");
    ig_config_release(&c);
}

Test(config, missing_file)
{
    struct ig_config c;
    char err[256];
    ig_config_init(&c);
    cr_assert_eq(ig_config_load_file(&c, "/nonexistent/x.yaml", err, sizeof err), IG_EIO);
    cr_assert(strstr(err, "cannot open"));
    ig_config_release(&c);
}

Test(config, models_section_left_to_the_router)
{
    struct ig_config c;
    char err[256];
    ig_config_init(&c);
    char *p = write_tmp("models:\n  - name: a\n    deployments:\n      - {provider: openai, "
                        "model: m}\n  - name: b\n    deployments: [{provider: x, model: y}]\n"
                        "limits:\n  max_body_bytes: 4096\n");
    cr_assert_eq(ig_config_load_file(&c, p, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c.models_file, p);
    cr_assert_eq(c.max_body_bytes, 4096, "settings after models are still read");
    unlink(p);
    ig_config_release(&c);
}
