#include "runtimes/gguf_info.h"
#include "harness/base/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <ggml.h>
#include <gguf.h>

/* ggml's reader logs its own line ("gguf_init_from_reader: failed to read
 * key-value pairs") before qeval's one-line error: keep its first error here
 * to add to ours instead. */
static void keep_error(enum ggml_log_level level, const char *text, void *ud)
{
	char *why = ud;
	size_t n;

	if (level != GGML_LOG_LEVEL_ERROR || why[0])
		return;
	snprintf(why, 256, "%s", text);
	n = strlen(why);
	while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
		why[--n] = '\0';
}

/* gguf_init_from_file with ggml's log caught (and put back after) */
static struct gguf_context *open_quietly(const char *path, char why[256])
{
	struct gguf_init_params gp = { .no_alloc = true, .ctx = NULL };
	ggml_log_callback was_cb = NULL;
	void *was_ud = NULL;
	struct gguf_context *g;

	why[0] = '\0';
	ggml_log_get(&was_cb, &was_ud);
	ggml_log_set(keep_error, why);
	g = gguf_init_from_file(path, gp);
	ggml_log_set(was_cb, was_ud);
	return g;
}

int qe_gguf_read_info(const char *path, struct qe_gguf_info *info, struct qe_err *err)
{
	struct gguf_context *g;
	char why[256];
	unsigned char magic[4];
	struct stat st;
	uint64_t data_end = 0;
	int64_t k;
	FILE *f;

	memset(info, 0, sizeof(*info));
	info->file_type = -1;
	if (stat(path, &st) != 0)
		return qe_fail(err, errno == ENOENT ? QE_ENOENT : QE_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return qe_fail(err, QE_EINPUT, "'%s' is a directory, not a GGUF model file", path);
	f = fopen(path, "rb");
	if (!f)
		return qe_fail(err, QE_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "GGUF", 4) != 0) {
		fclose(f);
		return qe_fail(err, QE_EINPUT, "'%s' is not a GGUF file (bad magic)", path);
	}
	fclose(f);
	g = open_quietly(path, why);
	if (!g)
		return qe_fail(err, QE_EINPUT, "'%s' is a corrupt or truncated GGUF file (header unreadable%s%s)", path,
			       why[0] ? ": " : "", why);
	info->file_bytes = (uint64_t)st.st_size;
	info->n_tensors = gguf_get_n_tensors(g);
	for (int64_t i = 0; i < info->n_tensors; i++) {
		enum ggml_type t = gguf_get_tensor_type(g, i);
		uint64_t bytes = gguf_get_tensor_size(g, i);
		uint64_t end = gguf_get_tensor_offset(g, i) + bytes;
		uint64_t nel = 1;
		const int64_t *ne = gguf_get_tensor_ne(g, i);
		const char *tn = ggml_type_name(t);
		int j;

		for (int d = 0; d < GGML_MAX_DIMS; d++)
			nel *= (uint64_t)ne[d];
		if (end > data_end)
			data_end = end;
		info->n_elements += nel;
		info->tensor_bytes += bytes;
		for (j = 0; j < info->n_types; j++)
			if (!strcmp(info->types[j].type, tn))
				break;
		if (j == info->n_types && info->n_types < QE_MAX_TYPES)
			snprintf(info->types[info->n_types++].type, sizeof(info->types[0].type), "%s", tn);
		if (j < info->n_types) {
			info->types[j].n_tensors++;
			info->types[j].n_elements += nel;
			info->types[j].n_bytes += bytes;
		}
	}
	if ((k = gguf_find_key(g, "general.architecture")) >= 0 && gguf_get_kv_type(g, k) == GGUF_TYPE_STRING)
		snprintf(info->arch, sizeof(info->arch), "%s", gguf_get_val_str(g, k));
	if ((k = gguf_find_key(g, "general.file_type")) >= 0 && gguf_get_kv_type(g, k) == GGUF_TYPE_UINT32)
		info->file_type = (int32_t)gguf_get_val_u32(g, k);
	if (info->n_tensors > 0 && gguf_get_data_offset(g) + data_end > (uint64_t)st.st_size) {
		uint64_t want = gguf_get_data_offset(g) + data_end;
		gguf_free(g);
		return qe_fail(err, QE_EINPUT, "'%s' is truncated: its tensors need %llu bytes, the file has %llu",
			       path, (unsigned long long)want, (unsigned long long)st.st_size);
	}
	gguf_free(g);
	return 0;
}

int qe_gguf_tensor_types(const char *path, cJSON *out, struct qe_err *err)
{
	struct gguf_init_params gp = { .no_alloc = true, .ctx = NULL };
	struct qe_gguf_info gi;
	struct gguf_context *g;
	int rc = qe_gguf_read_info(path, &gi, err);

	if (rc)
		return rc;
	if (!(g = gguf_init_from_file(path, gp)))
		return qe_fail(err, QE_EINPUT, "'%s' is a corrupt or truncated GGUF file (header unreadable)", path);
	for (int64_t i = 0; i < gguf_get_n_tensors(g); i++)
		cJSON_AddStringToObject(out, gguf_get_tensor_name(g, i), ggml_type_name(gguf_get_tensor_type(g, i)));
	gguf_free(g);
	return 0;
}
