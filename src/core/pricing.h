/* pricing.h — what an image costs: prices per image by size and quality,
 * the tier markups, and credits written as decimals.
 *
 * Amounts are integers in millicredits (1 credit = 1000 millicredits; a
 * credit is worth $0.001 by default). A deployment's prices are a list of
 * entries, each for a size and a quality or for any of either; the most
 * specific entry that matches wins. A deployment without entries is not
 * priced: metered accounts may not use it (never free by omission); an
 * entry of 0 makes it free on purpose. */
#ifndef IG_PRICING_H
#define IG_PRICING_H

#include <stddef.h>
#include <stdint.h>

struct ig_price {
    const char *size;    /* "1024x1024"; NULL: any size */
    const char *quality; /* "hd"; NULL: any quality */
    int64_t per_image;   /* millicredits */
};

/* The price of one image of size and quality: 0 and *out, or IG_ENOTFOUND
 * when no entry matches (or there are none). An entry for both the size
 * and the quality beats one for the size, which beats one for the quality,
 * which beats one for any. */
int ig_price_lookup(const struct ig_price *prices, size_t n, const char *size, const char *quality,
                    int64_t *out);

/* amount raised by percent, rounded up to a whole millicredit. */
int64_t ig_price_marked_up(int64_t amount, int percent);

/* Credits written as a decimal ("40", "0.5", "12.345"; at most three
 * decimals, at most 10^12 credits) to millicredits: 0 or IG_EINVAL. */
int ig_credits_parse(const char *text, int64_t *out);
/* Millicredits as a decimal number of credits for JSON: "48", "10.5",
 * "-0.125" (no trailing zeros). */
void ig_credits_format(int64_t millicredits, char *out, size_t size);

/* In a model template: its list prices, e.g.
 * IG_PRICES({NULL, NULL, 40000}, {NULL, "hd", 80000}). */
#define IG_PRICES(...)                                                                             \
    .prices = (const struct ig_price[]){__VA_ARGS__},                                              \
    .nprices = sizeof((const struct ig_price[]){__VA_ARGS__}) / sizeof(struct ig_price)

#define IG_MAX_TIERS 16

/* A number for each tier: its markup in percent ("free:50,managed:20,
 * byok:0"), or one of its default rate limits ("free:60,managed:600"). */
struct ig_tiers {
    struct {
        char name[32];
        int64_t value;
    } list[IG_MAX_TIERS];
    int n;
};

/* Parses "name:number, …" (each number 0 to max): 0, or IG_EINVAL with
 * why in err. */
int ig_tier_values_parse(const char *text, int64_t max, struct ig_tiers *out, char *err,
                         size_t err_size);
/* tier's number, or def when the tier is not listed. */
int64_t ig_tier_value(const struct ig_tiers *t, const char *tier, int64_t def);
/* Markups: percents 0–1000. */
int ig_tiers_parse(const char *text, struct ig_tiers *out, char *err, size_t err_size);
/* The markup of tier in percent, or -1 when the tier is unknown. */
int ig_tiers_markup(const struct ig_tiers *t, const char *tier);

#endif
