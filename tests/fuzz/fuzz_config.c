/* fuzz_config.c — the YAML config file (libyaml): the settings table and
 * the models: section (providers/routes.c) read the same file. */
#include "config.h"
#include "core/models.h"
#include "providers/provider.h"
#include "providers/routes.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/ig-fuzz-config-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct ig_config cfg;
    char err[512];
    if (ig_config_init(&cfg) == 0) {
        ig_config_load_file(&cfg, path, err, sizeof err);
        ig_config_release(&cfg);
    }
    struct ig_models *models;
    if (ig_models_new(&models) == 0) {
        ig_providers_add_builtin(models);
        ig_routes_load(models, path, err, sizeof err);
        ig_models_free(models);
    }
    unlink(path);
    return 0;
}
