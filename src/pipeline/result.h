/* result.h — private to pipeline/: the store step's working state for one
 * generation, and the rendering of its result as OpenAI's images response
 * (or a stream's completed event). Both run on the thread pool. */
#ifndef IG_RESULT_H
#define IG_RESULT_H

#include "pipeline/generation.h"
#include "store/store.h"

struct ig_stored {
    struct ig_image_record images[IG_MAX_IMAGES];
    int made;
    const char *error; /* static or in g; NULL on success */
    /* The answer's "data" items as JSON text, written directly: jansson
     * would scan a megabyte of base64 character by character to escape
     * it. first_b64 is where the first image's base64 starts in it. A
     * plain (not streamed) answer begins here, before the items, and
     * ig_result_close finishes it in place rather than copying them. */
    struct ig_buf items;
    size_t first_b64, first_b64_len;
    char *params; /* the normalized request, for the record */
    struct ig_generation_record rec;
};

/* Starts the answer in s->items with room for `need` bytes. IG_ENOMEM. */
int ig_result_open(struct ig_generation *g, struct ig_stored *s, size_t need);
/* Appends one stored image: its base64 (b64, when not NULL, is exactly
 * what ig_base64_encode would write for bytes) or its signed URL, and the
 * revised prompt when there is one. IG_ENOMEM. */
int ig_result_add_item(struct ig_generation *g, struct ig_stored *s, const uint8_t *bytes,
                       size_t len, const char *b64, const struct ig_image_record *im,
                       const char *revised_prompt);
/* Opens the answer (in s->items) and adds the images of a cache entry:
 * links, or their base64 — from memory (core/imgcache.h: ig_bytecache),
 * else read back from the blobs and kept in memory for the next time,
 * which blocks: without may_block that answers IG_EAGAIN instead (the
 * caller goes to the pool). 0, or the first IG_E* (s->made counts what
 * was added). */
int ig_result_from_cache(struct ig_generation *g, struct ig_stored *s,
                         const struct ig_cache_entry *e, int may_block);
/* Finishes the answer once the record is in (recorded: the store's
 * answer) into g->result, or fails g. */
void ig_result_close(struct ig_generation *g, struct ig_stored *s, int recorded);

#endif
