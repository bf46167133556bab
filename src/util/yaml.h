/* yaml.h — reading a libyaml document tree (the config's `models:` and
 * `moderation:` sections). */
#ifndef IG_UTIL_YAML_H
#define IG_UTIL_YAML_H

#include <yaml.h>

/* The text of a scalar node; NULL for another kind of node or NULL. */
const char *ig_yaml_scalar(yaml_node_t *n);
/* The value of key in the mapping node map; NULL when absent or when map
 * is not a mapping. */
yaml_node_t *ig_yaml_map_get(yaml_document_t *doc, yaml_node_t *map, const char *key);

#endif
