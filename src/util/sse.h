/* sse.h — reads server-sent events (the text/event-stream framing) out of
 * bytes: events are blocks of "field: value" lines ended by a blank line.
 * Used to relay a provider's stream and to read its final event. Only the
 * fields imagegate needs are kept: event and data (several data lines are
 * not joined; OpenAI sends one). Lines may end in LF or CRLF. */
#ifndef IG_SSE_H
#define IG_SSE_H

#include <stddef.h>

struct ig_sse_event {
    const char *block; /* the whole block, without its blank line */
    size_t block_len;
    const char *name; /* the event field; "" when absent */
    size_t name_len;
    const char *data; /* the first data field; "" when absent */
    size_t data_len;
};

/* The first complete event in [p, p + len): fills ev and returns how many
 * bytes it used (block and blank line); 0 when no event is complete yet. */
size_t ig_sse_next(const char *p, size_t len, struct ig_sse_event *ev);
/* Whether ev's event name ends in suffix. */
int ig_sse_name_ends(const struct ig_sse_event *ev, const char *suffix);

#endif
