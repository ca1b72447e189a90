/* The status page's static files, as ron-httpd serves them. */
#include <string.h>

#include "assets.h"
#include "page_assets.h" /* made by the Makefile: page_js[], page_css[] */

static const struct asset assets[] = {
    {"/page.js", "text/javascript; charset=utf-8", page_js, sizeof(page_js) - 1},
    {"/page.css", "text/css; charset=utf-8", page_css, sizeof(page_css) - 1},
};

const struct asset *asset_of(const char *url)
{
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
		if (strcmp(url, assets[i].path) == 0)
			return &assets[i];
	return NULL;
}
