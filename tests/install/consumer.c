/* A program outside the tree that uses the installed library. */
#include <roamquic/roamquic.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    if (strcmp(rq_version(), RQ_VERSION_STRING) != 0)
        return 1;
    if (rq_err_transport_code(RQ_ERR_FRAME_ENCODING) != 0x07)
        return 1;
    printf("roamquic %s: %s\n", rq_version(), rq_strerror(RQ_ERR_PROTOCOL_VIOLATION));
    return 0;
}
