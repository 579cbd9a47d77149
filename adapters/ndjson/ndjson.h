/* ndjson.h - the ndjson module: one CloudEvents JSON object per line */
#ifndef RZ_ADAPTER_NDJSON_H
#define RZ_ADAPTER_NDJSON_H

#include "ratusz/adapter.h"

typedef struct rz_ndjson_conf {
    char *default_tenant; /* for objects without "tenant" */
    char *default_type;   /* for objects without "type" */
} rz_ndjson_conf_t;

extern const rz_adapter_module_t rz_module_ndjson;

#endif
