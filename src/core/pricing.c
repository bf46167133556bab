/* pricing.c — prices, markups and credits as text; see pricing.h. */
#include "core/pricing.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/num.h"

#include <stdio.h>
#include <string.h>

int ig_price_lookup(const struct ig_price *prices, size_t n, const char *size, const char *quality,
                    int64_t *out)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        const struct ig_price *p = &prices[i];
        if ((p->size && (!size || strcmp(p->size, size))) ||
            (p->quality && (!quality || strcmp(p->quality, quality))))
            continue;
        int score = (p->size ? 2 : 0) + (p->quality ? 1 : 0);
        if (score > best) {
            best = score;
            *out = p->per_image;
        }
    }
    return best < 0 ? IG_ENOTFOUND : 0;
}

int64_t ig_price_marked_up(int64_t amount, int percent)
{
    int64_t scaled = amount * (100 + percent);
    return scaled / 100 + (scaled % 100 > 0);
}

int ig_credits_parse(const char *text, int64_t *out)
{
    int64_t whole = 0, frac = 0;
    int digits = 0, decimals = -1;
    for (const char *p = text; *p; p++) {
        if (*p == '.' && decimals < 0 && digits > 0) {
            decimals = 0;
        } else if (*p >= '0' && *p <= '9') {
            if (decimals >= 0) {
                if (++decimals > 3)
                    return IG_EINVAL;
                frac = frac * 10 + (*p - '0');
            } else {
                if (++digits > 13)
                    return IG_EINVAL;
                whole = whole * 10 + (*p - '0');
            }
        } else {
            return IG_EINVAL;
        }
    }
    if (digits == 0 || decimals == 0 || whole > 1000000000000LL)
        return IG_EINVAL;
    for (int d = decimals < 0 ? 0 : decimals; d < 3; d++)
        frac *= 10;
    *out = whole * 1000 + frac;
    return 0;
}

void ig_credits_format(int64_t mc, char *out, size_t size)
{
    /* Every answer formats two or more of these: no printf. */
    char text[32], *p = text;
    uint64_t v = mc < 0 ? (uint64_t)0 - (uint64_t)mc : (uint64_t)mc;
    if (mc < 0)
        *p++ = '-';
    p += ig_format_u64(v / 1000, p);
    unsigned frac = (unsigned)(v % 1000);
    if (frac) {
        *p++ = '.';
        *p++ = (char)('0' + frac / 100);
        *p++ = (char)('0' + frac / 10 % 10);
        *p++ = (char)('0' + frac % 10);
        while (p[-1] == '0')
            p--; /* "10.5", not "10.500" */
        *p = '\0';
    }
    ig_strlcpy(out, text, size);
}

int ig_tier_values_parse(const char *text, int64_t max, struct ig_tiers *out, char *err,
                         size_t err_size)
{
    memset(out, 0, sizeof *out);
    const char *cursor = text, *p;
    size_t item;
    while ((p = ig_list_next(&cursor, &item))) {
        size_t n = strcspn(p, ":");
        if (n == 0 || n >= item || n >= sizeof out->list[0].name || out->n == IG_MAX_TIERS) {
            snprintf(err, err_size, "'%.*s': write tiers as name:number, at most %d of them",
                     (int)(item > 40 ? 40 : item), p, IG_MAX_TIERS);
            return IG_EINVAL;
        }
        int64_t v;
        if (ig_parse_i64(p + n + 1, item - n - 1, 0, max, &v)) {
            snprintf(err, err_size, "'%.*s': the number must be from 0 to %lld", (int)n, p,
                     (long long)max);
            return IG_EINVAL;
        }
        memcpy(out->list[out->n].name, p, n);
        out->list[out->n].value = v;
        out->n++;
    }
    return 0;
}

int64_t ig_tier_value(const struct ig_tiers *t, const char *tier, int64_t def)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->list[i].name, tier) == 0)
            return t->list[i].value;
    return def;
}

int ig_tiers_parse(const char *text, struct ig_tiers *out, char *err, size_t err_size)
{
    return ig_tier_values_parse(text, 1000, out, err, err_size);
}

int ig_tiers_markup(const struct ig_tiers *t, const char *tier)
{
    return (int)ig_tier_value(t, tier, -1);
}
