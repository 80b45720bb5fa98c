/* Choosing the application protocol by ALPN (proto.h). */
#include "apps/proto.h"

#include <string.h>

const app_proto_ops *app_proto_for_alpn(const uint8_t *alpn, size_t len)
{
    static const app_proto_ops *const all[] = {&app_h3, &app_hq};
    for (size_t i = 0; alpn && i < sizeof all / sizeof all[0]; i++)
        if (strlen(all[i]->alpn) == len && memcmp(all[i]->alpn, alpn, len) == 0)
            return all[i];
    return NULL;
}
