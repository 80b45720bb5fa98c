/* Response bodies (body.h). */
#define _GNU_SOURCE
#include "apps/body.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint8_t app_body_gen_byte(uint64_t off)
{
    /* Knuth's multiplicative hash: no run repeats with a short period, so a misplaced or
     * repeated chunk changes the hash. */
    return (uint8_t)((off * 2654435761u) >> 13);
}

void app_body_generated(app_body *b, uint64_t size)
{
    *b = (app_body){-1, size, 0};
}

static bool path_is_safe(const char *path)
{
    /* No ".." component: the file must lie under the root. */
    for (const char *p = path; *p;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        while (*p == '/')
            p++;
    }
    return true;
}

int app_body_open_file(app_body *b, int root_fd, const char *path)
{
    while (*path == '/')
        path++;
    if (!path_is_safe(path))
        return 403;
    if (!*path)
        path = "index.html";
    /* O_NOFOLLOW on the last component only; ".." was refused above, so the name resolves
     * below the root unless a directory inside it is a link out, which the operator chose. */
    int fd = openat(root_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 404
               : errno == EACCES || errno == ELOOP ? 403
                                                   : 500;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 404;
    }
    *b = (app_body){fd, (uint64_t)st.st_size, 0};
    return 0;
}

long app_body_read(app_body *b, uint8_t *buf, size_t cap)
{
    uint64_t left = b->size - b->off;
    size_t n = left < cap ? (size_t)left : cap;
    if (n == 0)
        return 0;
    if (b->fd < 0) {
        for (size_t i = 0; i < n; i++)
            buf[i] = app_body_gen_byte(b->off + i);
    } else {
        ssize_t r;
        do
            r = pread(b->fd, buf, n, (off_t)b->off);
        while (r < 0 && errno == EINTR);
        if (r <= 0) /* a file shrinking under us is an error too: size was promised */
            return -1;
        n = (size_t)r;
    }
    b->off += n;
    return (long)n;
}

void app_body_close(app_body *b)
{
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
}
