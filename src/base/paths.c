/* Data-directory resolution ($TINYLLM_DATA or ~/.cache/tinyllm). */
#include "base/paths.h"

#include <stdio.h>
#include <stdlib.h>

int tl_data_path(char *buf, size_t n, const char *rel) {
    const char *d = getenv("TINYLLM_DATA");
    int w;
    if (d && *d) w = snprintf(buf, n, "%s/%s", d, rel);
    else w = snprintf(buf, n, "%s/.cache/tinyllm/%s", getenv("HOME") ? getenv("HOME") : ".", rel);
    return (w < 0 || (size_t)w >= n) ? -1 : 0;
}
