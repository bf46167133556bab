/* render_bench.c — median time to render and encode one image with the
 * local renderer on one core. Not a test: bench/run.sh records its output.
 *
 * usage: render_bench [WIDTH HEIGHT FORMAT RUNS] */
#include "image/codec.h"
#include "image/render.h"
#include "util/clock.h"
#include "util/num.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int64_t w = 1024, h = 1024, runs = 21;
    const char *fmt = "png";
    if (argc == 5) {
        if (ig_parse_i64(argv[1], strlen(argv[1]), 64, 2048, &w) ||
            ig_parse_i64(argv[2], strlen(argv[2]), 64, 2048, &h) ||
            ig_parse_i64(argv[4], strlen(argv[4]), 1, 1000, &runs)) {
            fprintf(stderr, "usage: render_bench [WIDTH HEIGHT FORMAT RUNS]\n");
            return 2;
        }
        fmt = argv[3];
    }
    enum ig_format f = ig_format_parse(fmt, strlen(fmt));
    uint8_t *px = malloc((size_t)(w * h * 3));
    uint64_t *render_us = calloc((size_t)runs, sizeof *render_us);
    uint64_t *total_us = calloc((size_t)runs, sizeof *total_us);
    size_t bytes = 0;
    for (int64_t i = 0; i < runs; i++) {
        struct ig_render_params p = {.prompt = "a red sunset over a blue ocean with golden "
                                               "mountains, a lonely tree and drifting clouds",
                                     .seed = (uint64_t)i,
                                     .width = (int)w,
                                     .height = (int)h,
                                     .strength = -1.0f};
        struct ig_provenance prov = {
            .prompt_sha256 = "0", .model = "local/procedural", .seed = "1"};
        uint64_t t0 = ig_now_us();
        ig_render(&p, px);
        uint64_t t1 = ig_now_us();
        struct ig_buf out;
        if (ig_encode(px, (int)w, (int)h, f, 90, &prov, (size_t)1 << 28, &out)) {
            fprintf(stderr, "encode failed\n");
            return 1;
        }
        uint64_t t2 = ig_now_us();
        bytes = out.len;
        ig_buf_release(&out);
        render_us[i] = t1 - t0;
        total_us[i] = t2 - t0;
    }
    qsort(render_us, (size_t)runs, sizeof *render_us, cmp_u64);
    qsort(total_us, (size_t)runs, sizeof *total_us, cmp_u64);
    printf("%lldx%lld %s: median render %.1f ms, render+encode %.1f ms (min %.1f, max %.1f) over "
           "%lld runs, %zu bytes\n",
           (long long)w, (long long)h, fmt, (double)render_us[runs / 2] / 1000.0,
           (double)total_us[runs / 2] / 1000.0, (double)total_us[0] / 1000.0,
           (double)total_us[runs - 1] / 1000.0, (long long)runs, bytes);
    free(px);
    free(render_us);
    free(total_us);
    return 0;
}
