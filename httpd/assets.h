/* The status page's script and style sheet, compiled in from httpd/page.js and
 * httpd/page.css (the Makefile makes them C strings): ron-httpd reads no files. */
#ifndef RON_HTTPD_ASSETS_H
#define RON_HTTPD_ASSETS_H
#include <stddef.h>

struct asset {
	const char *path, *type, *body;
	size_t len;
};

/* The asset served at url, or NULL. */
const struct asset *asset_of(const char *url);

#endif
