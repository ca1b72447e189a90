/* An allocation-free reader of one JSON object (RFC 8259), for the fuzz targets'
 * checks of what the kernel prints: it says whether the text is JSON and hands back
 * one top-level string field, unescaped.  json-c allocates for every value it
 * parses, which made those checks most of what an input cost under ASan.
 * Header-only, like harness.h. */
#ifndef RON_FUZZ_JSONCHECK_H
#define RON_FUZZ_JSONCHECK_H
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define FJ_DEPTH_MAX 32

/* A checker, not code under test: its comparisons would only feed the fuzzer noise,
 * and tracing each byte's cost most of an input. */
#if defined(__clang__)
#define FJ_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define FJ_NOCOV
#endif

struct fj {
	const char *p, *end;
	int depth;
	/* The top-level field to hand back, and whether another one is there. */
	const char *want, *flag;
	char *out;
	size_t outmax, outlen;
	bool found, flagged;
};

static inline FJ_NOCOV void fj_ws(struct fj *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static inline FJ_NOCOV bool fj_lit(struct fj *j, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return false;
	j->p += n;
	return true;
}

static inline FJ_NOCOV bool fj_digits(struct fj *j)
{
	const char *s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static inline FJ_NOCOV bool fj_number(struct fj *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!fj_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!fj_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!fj_digits(j))
			return false;
	}
	return true;
}

static inline FJ_NOCOV int fj_hex4(const char *s)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Appends code point cp as UTF-8 to out (when out is set), as json-c decodes it. */
static inline FJ_NOCOV bool fj_put(struct fj *j, char *out, size_t *len, unsigned cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (!out)
		return true;
	if (*len + n > j->outmax)
		return false;
	memcpy(out + *len, b, n);
	*len += n;
	return true;
}

/* A string; unescaped into out (which may be NULL) with its length in *len. */
static inline FJ_NOCOV bool fj_string(struct fj *j, char *out, size_t *len)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	*len = 0;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p++;
		unsigned cp = c;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->p >= j->end)
				return false;
			char e = *j->p++;
			const char *simple = strchr("\"\\/bfnrt", e);
			if (e != 'u' && (!simple || !e))
				return false;
			if (e != 'u') {
				cp = (unsigned char)"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
			} else {
				int h = j->end - j->p >= 4 ? fj_hex4(j->p) : -1;
				if (h < 0)
					return false;
				j->p += 4;
				cp = (unsigned)h;
				if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 &&
				    j->p[0] == '\\' && j->p[1] == 'u') {
					int lo = fj_hex4(j->p + 2);
					if (lo >= 0xdc00 && lo < 0xe000) {
						cp = 0x10000 + ((cp - 0xd800) << 10) +
						     ((unsigned)lo - 0xdc00);
						j->p += 6;
					}
				}
			}
			if (!fj_put(j, out, len, cp))
				return false;
			continue;
		}
		if (out) {
			if (*len + 1 > j->outmax)
				return false;
			out[(*len)++] = (char)c;
		}
	}
	if (j->p >= j->end)
		return false;
	j->p++;
	return true;
}

static inline FJ_NOCOV bool fj_value(struct fj *j, bool top);

static inline FJ_NOCOV bool fj_members(struct fj *j, bool top)
{
	fj_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return true;
	}
	for (;;) {
		char key[64];
		size_t klen;
		size_t keymax = j->outmax;
		j->outmax = sizeof(key) - 1;
		const char *kstart = j->p;
		bool ok = fj_string(j, key, &klen);
		j->outmax = keymax;
		if (!ok) {
			/* A key longer than ours is no key we look for: read it again, unkept. */
			j->p = kstart;
			if (!fj_string(j, NULL, &klen))
				return false;
			klen = 0;
		}
		key[klen] = '\0';
		fj_ws(j);
		if (j->p >= j->end || *j->p++ != ':')
			return false;
		fj_ws(j);
		if (top && j->flag && strcmp(key, j->flag) == 0)
			j->flagged = true;
		if (top && j->want && strcmp(key, j->want) == 0 && j->p < j->end && *j->p == '"') {
			if (!fj_string(j, j->out, &j->outlen))
				return false;
			j->found = true;
		} else if (!fj_value(j, false)) {
			return false;
		}
		fj_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			fj_ws(j);
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return true;
		}
		return false;
	}
}

static inline FJ_NOCOV bool fj_elements(struct fj *j)
{
	fj_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return true;
	}
	for (;;) {
		if (!fj_value(j, false))
			return false;
		fj_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return true;
		}
		return false;
	}
}

static inline FJ_NOCOV bool fj_value(struct fj *j, bool top)
{
	size_t len;
	fj_ws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{':
	case '[': {
		if (++j->depth > FJ_DEPTH_MAX)
			return false;
		bool obj = *j->p++ == '{';
		bool ok = obj ? fj_members(j, top) : fj_elements(j);
		j->depth--;
		return ok;
	}
	case '"': return fj_string(j, NULL, &len);
	case 't': return fj_lit(j, "true");
	case 'f': return fj_lit(j, "false");
	case 'n': return fj_lit(j, "null");
	default: return fj_number(j);
	}
}

/* Whether text[0..n) is one JSON object and nothing else but white space. */
static inline FJ_NOCOV bool fj_object(const char *text, size_t n)
{
	struct fj j = {.p = text, .end = text + n};
	fj_ws(&j);
	if (j.p >= j.end || *j.p != '{' || !fj_value(&j, true))
		return false;
	fj_ws(&j);
	return j.p == j.end;
}

/* The same, handing back the top-level string field want (unescaped, at most
 * outmax bytes, *found if it is there) and whether a field named flag is there. */
static inline FJ_NOCOV bool fj_object_field(const char *text, size_t n, const char *want, char *out,
				   size_t outmax, size_t *outlen, bool *found, const char *flag,
				   bool *flagged)
{
	struct fj j = {
	    .p = text, .end = text + n, .want = want, .flag = flag, .out = out, .outmax = outmax};
	fj_ws(&j);
	bool ok = j.p < j.end && *j.p == '{' && fj_value(&j, true);
	fj_ws(&j);
	*outlen = j.outlen;
	*found = j.found;
	*flagged = j.flagged;
	return ok && j.p == j.end;
}

#endif
