/* Output formats of corral (see format.h). */
#include "cli/format.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define FMT_MAX_COLS 64

struct fmt_name {
	const char *name;
	enum fmt_kind kind;
};

static const struct fmt_name fmt_names[] = {
	{ "text", FMT_TEXT },
	{ "json", FMT_JSON },
	{ "json-pretty", FMT_JSON_PRETTY },
};

int fmt_parse_kind(const char *s, enum fmt_kind *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(fmt_names); i++)
		if (strcmp(s, fmt_names[i].name) == 0) {
			*out = fmt_names[i].kind;
			return 0;
		}
	return -EINVAL;
}

static int put_json(const cJSON *v, int pretty, struct buf *out)
{
	char *s = pretty ? cJSON_Print(v) : cJSON_PrintUnformatted(v);
	int r;

	if (!s)
		return -ENOMEM;
	r = buf_puts(out, s);
	free(s);
	return r;
}

static int put_number(double d, struct buf *out)
{
	/* Exactly representable integers print without a fraction. */
	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		return buf_printf(out, "%lld", (long long)d);
	return buf_printf(out, "%.6g", d);
}

int fmt_scalar(const cJSON *v, struct buf *out)
{
	if (!v || cJSON_IsNull(v))
		return buf_append(out, "", 0);
	if (cJSON_IsString(v))
		return buf_puts(out, v->valuestring);
	if (cJSON_IsNumber(v))
		return put_number(v->valuedouble, out);
	if (cJSON_IsBool(v))
		return buf_puts(out, cJSON_IsTrue(v) ? "1" : "0");
	return put_json(v, 0, out);
}

/* Display width of S: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

static int put_padded(const char *s, size_t width, int last, struct buf *out)
{
	int r = buf_puts(out, s);

	for (size_t w = text_width(s); !r && !last && w < width + 2; w++)
		r = buf_append(out, " ", 1);
	return r;
}

struct table {
	const char *cols[FMT_MAX_COLS];
	size_t width[FMT_MAX_COLS];
	size_t ncols;
};

static int table_has(const struct table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i], name) == 0)
			return 1;
	return 0;
}

static int any_row_has(const cJSON *list, const char *key)
{
	const cJSON *row;

	cJSON_ArrayForEach(row, list)
		if (cJSON_GetObjectItemCaseSensitive(row, key))
			return 1;
	return 0;
}

/* Columns are the chosen ones, or the keys of every row in order of first
 * appearance. */
static void table_columns(const cJSON *list, const char *const *chosen, struct table *t)
{
	const cJSON *row, *kv;

	for (; chosen && *chosen && t->ncols < FMT_MAX_COLS; chosen++)
		if (any_row_has(list, *chosen)) {
			t->width[t->ncols] = text_width(*chosen);
			t->cols[t->ncols++] = *chosen;
		}
	if (chosen)
		return;
	cJSON_ArrayForEach(row, list)
		cJSON_ArrayForEach(kv, row)
			if (t->ncols < FMT_MAX_COLS && !table_has(t, kv->string)) {
				t->width[t->ncols] = text_width(kv->string);
				t->cols[t->ncols++] = kv->string;
			}
}

static int table_widths(const cJSON *list, struct table *t)
{
	const cJSON *row;
	struct buf cell = BUF_INIT;
	int r = 0;

	cJSON_ArrayForEach(row, list)
		for (size_t c = 0; c < t->ncols && !r; c++) {
			buf_reset(&cell);
			r = fmt_scalar(cJSON_GetObjectItemCaseSensitive(row, t->cols[c]), &cell);
			if (!r && text_width(cell.data) > t->width[c])
				t->width[c] = text_width(cell.data);
		}
	buf_free(&cell);
	return r;
}

static int table_header(const struct table *t, struct buf *out)
{
	int r = 0;

	for (size_t c = 0; c < t->ncols && !r; c++)
		r = put_padded(t->cols[c], t->width[c], c + 1 == t->ncols, out);
	if (!r)
		r = buf_append(out, "\n", 1);
	for (size_t c = 0; c < t->ncols && !r; c++)
		for (size_t w = 0; w < t->width[c] + (c + 1 < t->ncols ? 2 : 0) && !r; w++)
			r = buf_append(out, w < t->width[c] ? "-" : " ", 1);
	return r ? r : buf_append(out, "\n", 1);
}

static int table_row(const struct table *t, const cJSON *row, struct buf *out)
{
	struct buf cell = BUF_INIT;
	int r = 0;

	for (size_t c = 0; c < t->ncols && !r; c++) {
		buf_reset(&cell);
		r = fmt_scalar(cJSON_GetObjectItemCaseSensitive(row, t->cols[c]), &cell);
		if (!r)
			r = put_padded(cell.data, t->width[c], c + 1 == t->ncols, out);
	}
	buf_free(&cell);
	return r ? r : buf_append(out, "\n", 1);
}

static int render_table(const cJSON *list, const char *const *chosen, struct buf *out)
{
	struct table t = { .ncols = 0 };
	const cJSON *row;
	int r;

	table_columns(list, chosen, &t);
	if (t.ncols == 0)
		return buf_append(out, "", 0);
	r = table_widths(list, &t);
	if (!r)
		r = table_header(&t, out);
	cJSON_ArrayForEach(row, list)
		if (!r)
			r = table_row(&t, row, out);
	return r;
}

static int all_objects(const cJSON *list)
{
	const cJSON *row;

	cJSON_ArrayForEach(row, list)
		if (!cJSON_IsObject(row))
			return 0;
	return cJSON_GetArraySize(list) > 0;
}

static int render_object(const cJSON *obj, struct buf *out)
{
	size_t width = 0;
	const cJSON *kv;
	int r = 0;

	cJSON_ArrayForEach(kv, obj)
		if (text_width(kv->string) > width)
			width = text_width(kv->string);
	cJSON_ArrayForEach(kv, obj) {
		if (!r)
			r = buf_printf(out, "%s:", kv->string);
		for (size_t w = text_width(kv->string); !r && w < width + 1; w++)
			r = buf_append(out, " ", 1);
		if (!r)
			r = fmt_scalar(kv, out);
		if (!r)
			r = buf_append(out, "\n", 1);
	}
	return r ? r : buf_append(out, "", 0);
}

static int render_lines(const cJSON *list, struct buf *out)
{
	const cJSON *v;
	int r = buf_append(out, "", 0);

	cJSON_ArrayForEach(v, list) {
		if (!r)
			r = fmt_scalar(v, out);
		if (!r)
			r = buf_append(out, "\n", 1);
	}
	return r;
}

static int render_text(const cJSON *data, const char *const *chosen, struct buf *out)
{
	int r;

	if (cJSON_IsArray(data))
		return all_objects(data) ? render_table(data, chosen, out)
					 : render_lines(data, out);
	if (cJSON_IsObject(data))
		return render_object(data, out);
	if (!data || cJSON_IsNull(data))
		return buf_append(out, "", 0);
	r = fmt_scalar(data, out);
	return r ? r : buf_append(out, "\n", 1);
}

int fmt_render(const cJSON *data, enum fmt_kind kind, struct buf *out)
{
	return fmt_render_cols(data, kind, NULL, out);
}

int fmt_render_cols(const cJSON *data, enum fmt_kind kind, const char *const *columns,
		    struct buf *out)
{
	cJSON *null_value;
	int r;

	if (kind == FMT_TEXT)
		return render_text(data, columns, out);
	if (data)
		r = put_json(data, kind == FMT_JSON_PRETTY, out);
	else {
		null_value = cJSON_CreateNull();
		r = null_value ? put_json(null_value, 0, out) : -ENOMEM;
		cJSON_Delete(null_value);
	}
	return r ? r : buf_append(out, "\n", 1);
}
