/* Output of corral: the `data` of an API answer as compact JSON, pretty JSON
 * or text (an aligned table for a list of objects, "key: value" lines for an
 * object, one line per scalar).  Pure: cJSON in, text out. */
#ifndef CORRAL_CLI_FORMAT_H
#define CORRAL_CLI_FORMAT_H

#include <cjson/cJSON.h>

#include "common/buf.h"

enum fmt_kind { FMT_TEXT, FMT_JSON, FMT_JSON_PRETTY };

/* "text", "json", "json-pretty" -> kind.  0 or -EINVAL. */
int fmt_parse_kind(const char *s, enum fmt_kind *out);
/* Appends DATA (may be NULL: JSON null) in KIND to OUT, ending with a newline
 * unless text output is empty.  0 or -ENOMEM. */
int fmt_render(const cJSON *data, enum fmt_kind kind, struct buf *out);
/* The same; a text table shows only COLUMNS (NULL-terminated, in this order,
 * those no row has left out), or every key when COLUMNS is NULL. */
int fmt_render_cols(const cJSON *data, enum fmt_kind kind, const char *const *columns,
		    struct buf *out);
/* One cell: strings raw, integral numbers without decimals, others with six
 * significant digits, null empty,
 * arrays and objects as compact JSON.  0 or -ENOMEM. */
int fmt_scalar(const cJSON *v, struct buf *out);

#endif
