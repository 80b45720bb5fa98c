/* roamquic: the command-line tool (server, client, demo). */
#include "apps/client.h"
#include "apps/demo.h"
#include "apps/server.h"

#include <stdio.h>
#include <string.h>

static const char usage[] = "usage: roamquic server|client|demo [options]   (--help on each)\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "server") == 0)
        return app_server_main(argc - 1, argv + 1);
    if (strcmp(cmd, "client") == 0)
        return app_client_main(argc - 1, argv + 1);
    if (strcmp(cmd, "demo") == 0)
        return app_demo_main(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "roamquic: unknown command '%s' (server, client or demo)\n", cmd);
    return 2;
}
